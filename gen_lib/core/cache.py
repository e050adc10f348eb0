"""内容から鍵を導くキャッシュ: 実験の結果・図・ノートブックが古くならず、関係のない変更では作り直さない。

鍵は次の 3 つから作る (手で書いた依存の一覧は使わない):

1. 名前と設定 (凍結したデータクラスを JSON にしたもの)
2. 依存するソース: 結果を作る関数を定義したモジュールから、``gen_lib`` の中の import を
   ソースの字面 (``ast``) で推移的にたどった閉包に含まれるすべてのモジュールの中身
3. 主要なライブラリ (numpy, torch, matplotlib, matplotlib-fontja) の版

どれかが変われば鍵が変わって計算し直し、閉包の外のモジュールを編集しても鍵は変わらない。
保存先は環境変数 ``GEN_LIB_MODEL_CACHE``、なければ ``~/.cache/gen_lib/models``。
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import json
import os
import pickle
import re
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable

from gen_lib.core.errors import InputError, check_callable

__all__ = ["cache_dir", "module_file", "direct_imports", "dependency_closure", "imported_by_source",
           "library_versions", "source_digest", "settings_json", "check_name", "content_key", "result_path",
           "computed_names", "cached"]

PACKAGE = "gen_lib"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
VERSIONED = ("numpy", "torch", "matplotlib", "matplotlib-fontja")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,99}$")
_SETTINGS_KEY_LENGTH = 8  # 鍵の先頭は名前と設定だけのハッシュ: 同じ設定の古い版を見分ける
_KEY_LENGTH = 24


def cache_dir() -> Path:
    return Path(os.environ.get("GEN_LIB_MODEL_CACHE", Path.home() / ".cache" / "gen_lib" / "models"))


# --- 依存するソースの閉包 -------------------------------------------------------------------------

def _module_names(modules, name: str) -> list[str]:
    """モジュール名 (文字列) かその列を list にする。ほかの型は ``name`` を名指して止める。"""
    if isinstance(modules, str) or not isinstance(modules, Iterable):
        modules = [modules]
    names = list(modules)
    if not all(isinstance(module, str) for module in names):
        raise InputError(f"{name} must be a module name or an iterable of module names (str), "
                         f"got {names!r:.80}")
    return names


def module_file(module: str) -> Path | None:
    """``gen_lib.a.b`` のソースファイル (``a/b.py`` か ``a/b/__init__.py``)。gen_lib の外なら None。"""
    if not isinstance(module, str):
        raise InputError(f"module must be a module name (str), got {type(module).__name__}")
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=1024)
def _direct_imports(path: Path, root: Path, mtime_ns: int, size: int) -> frozenset[str]:
    tree = ast.parse(path.read_bytes(), filename=str(path))
    is_package = path.name == "__init__.py"
    own = ".".join((PACKAGE, *path.relative_to(root).with_suffix("").parts))
    if is_package:
        own = own.removesuffix(".__init__")
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # 相対 import を絶対名に直す
                anchor = own.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # from pkg import module の形
    return frozenset(name for name in found if name == PACKAGE or name.startswith(PACKAGE + "."))


def direct_imports(module: str) -> frozenset[str]:
    """モジュールのソースに書かれた gen_lib 内の import (実在するモジュールだけ)。"""
    path = module_file(module)
    if path is None:
        return frozenset()
    stat = path.stat()
    names = _direct_imports(path, PACKAGE_DIR, stat.st_mtime_ns, stat.st_size)
    return frozenset(name for name in names if module_file(name) is not None)


def dependency_closure(modules: Iterable[str]) -> list[str]:
    """モジュール (と、import するとき実行される親パッケージの ``__init__``) から推移的にたどった閉包。"""
    pending = _module_names(modules, "modules")
    seen: set[str] = set()
    while pending:
        module = pending.pop()
        if module in seen or module_file(module) is None:
            continue
        seen.add(module)
        parts = module.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # 親パッケージ
        pending.extend(direct_imports(module))
    return sorted(seen)


def imported_by_source(source: str) -> list[str]:
    """Python のソース文字列 (ノートブックなど) が import する gen_lib のモジュール。"""
    if not isinstance(source, str):
        raise InputError(f"source must be Python source text (str), got {type(source).__name__}")
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return sorted(name for name in found if module_file(name) is not None)


def library_versions() -> str:
    return "\n".join(f"{dist}=={metadata.version(dist)}" for dist in VERSIONED)


def source_digest(modules: Iterable[str]) -> str:
    """閉包に含まれるモジュールの名前と中身、ライブラリの版から作る sha256 (16 進)。"""
    digest = hashlib.sha256(library_versions().encode())
    for module in dependency_closure(modules):
        digest.update(f"\n{module}\n".encode())
        digest.update(module_file(module).read_bytes())
    return digest.hexdigest()


# --- 設定と鍵 ---------------------------------------------------------------------------------------

def settings_json(settings) -> str:
    """凍結したデータクラス (か dict) の設定を、鍵に使う決まった JSON 文字列にする。"""
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        if not type(settings).__dataclass_params__.frozen:
            raise InputError(f"settings must be a frozen dataclass, got mutable {type(settings).__name__}")
        payload = {"type": type(settings).__qualname__, **dataclasses.asdict(settings)}
    elif isinstance(settings, dict):
        payload = settings
    else:
        raise InputError(f"settings must be a frozen dataclass or a dict, got {type(settings).__name__}")

    try:
        return json.dumps(payload, sort_keys=True, default=_unserialisable, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InputError(f"settings must be JSON-serialisable with finite numbers: {error}") from None


def _unserialisable(value):
    raise InputError(f"cannot encode {type(value).__name__} {value!r}")


def check_name(name) -> str:
    """キャッシュの名前は小文字・数字・``-``・``_`` だけ (パスやワイルドカードにならない)。"""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(f"cache name must match {_NAME.pattern} (lower-case letters, digits, '-', '_'), "
                         f"got {name!r}")
    return name


def content_key(name: str, settings, modules: Iterable[str]) -> str:
    """名前・設定・依存するソースの閉包・ライブラリの版から作る鍵 (16 進 24 桁)。

    先頭 8 桁は名前と設定だけから作るので、同じ設定の古い版 (ソースが違う) をファイル名で見分けられる。
    """
    text = f"{check_name(name)}\n{settings_json(settings)}"
    prefix = hashlib.sha256(text.encode()).hexdigest()[:_SETTINGS_KEY_LENGTH]
    rest = hashlib.sha256(f"{text}\n{source_digest(modules)}".encode()).hexdigest()
    return prefix + rest[: _KEY_LENGTH - _SETTINGS_KEY_LENGTH]


# --- 保存と読み込み ---------------------------------------------------------------------------------

_MEMORY: dict[Path, Any] = {}
_COMPUTED: list[str] = []  # このプロセスで計算した (ディスクになかった) 結果の名前


def result_path(name: str, settings, *, depends_on: str | Iterable[str]) -> Path:
    """結果を保存するファイル。鍵が同じなら同じパスなので、``exists()`` で計算済みかが分かる。"""
    modules = _module_names(depends_on, "depends_on")
    return cache_dir() / f"{name}-{content_key(name, settings, modules)}.pkl"


def computed_names() -> list[str]:
    """このプロセスが ``cached`` で計算した (キャッシュになかった) 結果の名前、計算した順。"""
    return list(_COMPUTED)


def cached(name: str, settings, compute: Callable[[], Any], *, depends_on: str | Iterable[str]) -> Any:
    """鍵が同じ結果がディスクにあれば読み込み、なければ ``compute()`` を実行して保存する。

    ``depends_on`` は結果を作るコードのモジュール名 (ふつうは呼び出し側の ``__name__``)。
    その閉包のどれかのソースが変われば計算し直す。同じ名前・同じ設定の古い版だけを消す
    (別の設定の結果、たとえば実験の ``variants`` は残す)。いくつものプロセスが同時に同じ鍵を求めても
    計算するのは 1 つだけで、ほかはそれを待って読み込む。
    同じプロセスの中では読み込んだ結果を使い回すので、戻り値を書き換えないこと。
    """
    check_callable(compute, name="compute", signature="()")
    path = result_path(name, settings, depends_on=depends_on)
    if path not in _MEMORY:
        if not path.exists():
            with _exclusive(path):  # 別のプロセスが同じ鍵を計算中なら、終わるのを待って読み込む
                if not path.exists():
                    _store(path, name, compute())
                    _COMPUTED.append(name)
        with path.open("rb") as stream:
            _MEMORY[path] = pickle.load(stream)
    return _MEMORY[path]


@contextlib.contextmanager
def _exclusive(path: Path):
    """同じ鍵の計算をプロセスのあいだで 1 つにする (``fcntl.flock``)。抜けるときにロックのファイルを消す。"""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(f"{path.name}.lock")
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)


def _store(path: Path, name: str, result) -> None:
    """結果を書き、同じ名前・同じ設定の古い版を消す。書き終えてから置き換えるので、壊れたファイルを残さない。"""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as stream:
        pickle.dump(result, stream, protocol=pickle.HIGHEST_PROTOCOL)
    prefix = path.stem[len(name) + 1:][:_SETTINGS_KEY_LENGTH]
    for stale in path.parent.glob(f"{name}-{prefix}{'[0-9a-f]' * (_KEY_LENGTH - _SETTINGS_KEY_LENGTH)}.pkl"):
        if stale != path:
            stale.unlink(missing_ok=True)
    temporary.replace(path)
