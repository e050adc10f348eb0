"""学習結果 (torch の state_dict など) を「コード + 設定」の内容ハッシュでディスクに保存する。

``library_digest`` は gen_lib 全体の内容ハッシュで、ビルド時の図とノートブックのキャッシュの鍵になる。

ビルド時の図、ノートブック、ベンチマークが同じモデルを使うとき、学習は一度だけ行う。
鍵には学習を定義するモジュールのソースを含めるので、コードを変えれば必ず学習し直す
(古いモデルを使うことはない)。保存先は環境変数 ``GEN_LIB_MODEL_CACHE``、
なければ ``~/.cache/gen_lib/models``。
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Callable

import torch


def cache_dir() -> Path:
    return Path(os.environ.get("GEN_LIB_MODEL_CACHE", Path.home() / ".cache" / "gen_lib" / "models"))


_VERSIONED = ("numpy", "torch", "matplotlib", "matplotlib-fontja")


def library_digest(package_dir: Path | None = None) -> str:
    """gen_lib の全 .py ソースと主要ライブラリの版から作る内容ハッシュ (どれかが変われば変わる)。"""
    package_dir = Path(__file__).parent if package_dir is None else Path(package_dir)
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        digest.update(path.relative_to(package_dir).as_posix().encode())
        digest.update(path.read_bytes())
    for dist in _VERSIONED:
        digest.update(f"{dist}=={metadata.version(dist)}".encode())
    return digest.hexdigest()


def content_key(name: str, settings: dict, modules: list[ModuleType]) -> str:
    """設定 (JSON にできる dict) と、モジュールのソースと torch の版から作る鍵。"""
    if not isinstance(settings, dict):
        raise ValueError(f"settings must be a dict, got {type(settings).__name__}")
    try:
        encoded = json.dumps(settings, sort_keys=True)
    except TypeError as error:
        raise ValueError(f"settings must be JSON-serialisable: {error}") from None
    digest = hashlib.sha256(f"{name}\n{encoded}\ntorch=={torch.__version__}".encode())
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:24]


def load_or_train(name: str, settings: dict, train: Callable[[], dict], *,
                  modules: list[ModuleType]) -> dict:
    """鍵が同じ学習結果があれば読み込み、なければ ``train()`` を実行して保存する。

    ``train()`` はテンソル・数値・リストからなる dict (例: state_dict と学習履歴) を返すこと。
    """
    key = content_key(name, settings, modules)
    path = cache_dir() / f"{name}-{key}.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    result = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"{name}-*.pt"):
        stale.unlink()
    temporary = path.with_suffix(".tmp")
    torch.save(result, temporary)
    temporary.replace(path)  # 途中で止まっても壊れたファイルを残さない
    return result
