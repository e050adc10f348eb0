"""MkDocs フック: gen_lib に登録された図をビルド時に描き、サイトのファイルとして渡す。

- 数学はここに書かない。図は ``gen_lib.figures.all_figures()`` の関数が描く。
- キャッシュの鍵は図の名前と、図の関数のモジュールが推移的に import する gen_lib のソース + 主要ライブラリの版
  (gen_lib.core.cache.source_digest)。依存するコードが変われば必ず描き直し、関係のない変更では描き直さない。
- 図の関数が例外を出したら、その図の名前を挙げてビルドを失敗させる。
- ``mkdocs serve`` 中に gen_lib を編集したら、再ビルドの前に gen_lib を読み込み直す。
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.figures")

FIGURE_DIR = "figures"


def on_config(config):
    # mkdocs.yml の隣にある gen_lib を使う (別の場所に入った gen_lib より優先する)。
    project_dir = str(Path(config["config_file_path"]).parent)
    if sys.path[:1] != [project_dir]:
        sys.path.insert(0, project_dir)
    # 学習済みモデルのキャッシュ (gen_lib.core.cache) もプロジェクトの .cache に置く。
    os.environ.setdefault("GEN_LIB_MODEL_CACHE", str(Path(project_dir) / ".cache" / "models"))
    # serve 中の再ビルドで gen_lib の編集を反映させる。
    for name in [m for m in sys.modules if m == "gen_lib" or m.startswith("gen_lib.")]:
        del sys.modules[name]
    return config


def cache_dir(config) -> Path:
    default = Path(config["config_file_path"]).parent / ".cache" / "figures"
    return Path(os.environ.get("GEN_LIB_FIGURE_CACHE", default))


def render(name, function) -> bytes:
    """図を 1 枚描いて SVG バイト列を返す。失敗したら図の名前を挙げて PluginError。"""
    from gen_lib.core.plotting import figure_to_svg

    where = f"{function.__module__}.{function.__qualname__}"
    try:
        return figure_to_svg(function(seed=0))
    except Exception as error:  # noqa: BLE001 — どの例外でもビルドを止めて名前を示す
        raise PluginError(f"figure {name!r} ({where}) failed: {type(error).__name__}: {error}") from error


def on_files(files, config):
    from gen_lib.figures import all_figures
    from gen_lib.core.cache import source_digest

    store = cache_dir(config)
    store.mkdir(parents=True, exist_ok=True)
    figures = all_figures()
    rendered = 0
    for name, function in figures.items():
        stem = name.removesuffix(".svg")
        digest = source_digest([function.__module__])[:20]
        cached = store / f"{stem}-{digest}.svg"
        if cached.exists():
            content = cached.read_bytes()
        else:
            content = render(name, function)
            # 同じ図の古い版 (名前 + 別の 20 桁のハッシュ) だけを消す
            for stale in store.glob(f"{stem}-{'[0-9a-f]' * len(digest)}.svg"):
                stale.unlink()
            cached.write_bytes(content)
            rendered += 1
        files.append(File.generated(config, f"{FIGURE_DIR}/{name}", content=content))
    log.info("figures: %d rendered, %d from cache (%s)", rendered, len(figures) - rendered, store)
    return files
