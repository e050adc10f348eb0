"""MkDocs フック: 実験を前もって計算し、gen_lib に登録された図を並列に描いて、サイトのファイルとして渡す。

``on_files`` の順番:

1. 実験 (``gen_lib.core.experiment.all_experiments()``) の既定の設定と ``variants`` のうち、ディスクの
   キャッシュにないものを計算する。時間を測る実験 (``timing=True``) を先に 1 つずつ、ほかに何も走らせずに
   (時間が狂わないように)、残りをコアの数のワーカーで並列に。
2. キャッシュにない図をワーカーで並列に描く。ログに進み具合 (k/N、名前、秒) と、最後に遅かった図を出す。
   図は実験の結果を読んで描くだけなので、描画中に何かを計算したら警告する (``--strict`` では失敗する)。

- ワーカーは forkserver で起動し (torch と fork は相性が悪い)、torch を 1 スレッドで動かす
  (``hooks/build_workers.py``)。どのワーカーで描いても、直列に描いても同じバイト列になる。
- 図のキャッシュの鍵は図の名前と、図の関数のモジュールが推移的に import する gen_lib のソース + 主要な
  ライブラリの版 (``gen_lib.core.cache.source_digest``)。モジュールごとに描く図の名前の一覧も、実験の閉包の
  ハッシュごとに結果のファイルの一覧も保存するので、何も変わっていないビルドは図・実験のモジュールも torch も
  import せず、ワーカーも起動しない。図のモジュールを import するのはワーカーだけである。
- 図・実験が例外を出したら、その名前を挙げてビルドを失敗させる。
- ``mkdocs serve`` 中に gen_lib を編集したら、再ビルドの前に gen_lib を読み込み直す。
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import pkgutil
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, as_completed, wait
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.figures")

FIGURE_DIR = "figures"
_HEX20 = "[0-9a-f]" * 20
_SLOWEST = 3  # 最後のログに挙げる遅い図の数


def on_config(config):
    # mkdocs.yml の隣にある gen_lib と hooks を使う (別の場所に入った gen_lib より優先する)。
    # ワーカー (forkserver) もこの sys.path を引き継ぎ、hooks.build_workers を import する。
    project_dir = str(Path(config["config_file_path"]).parent)
    if sys.path[:1] != [project_dir]:
        sys.path.insert(0, project_dir)
    # 実験の結果のキャッシュ (gen_lib.core.cache) もプロジェクトの .cache に置く。
    os.environ.setdefault("GEN_LIB_MODEL_CACHE", str(Path(project_dir) / ".cache" / "models"))
    # serve 中の再ビルドで gen_lib の編集を反映させる。
    for name in [m for m in sys.modules if m == "gen_lib" or m.startswith("gen_lib.")]:
        del sys.modules[name]
    return config


def cache_dir(config) -> Path:
    default = Path(config["config_file_path"]).parent / ".cache" / "figures"
    return Path(os.environ.get("GEN_LIB_FIGURE_CACHE", default))


class Workers:
    """最初の仕事を渡したときに起動するワーカープロセス (コアの数まで)。

    forkserver で起動する (torch と fork は相性が悪い)。サーバーは torch・numpy・matplotlib だけを先に
    読み込んで (gen_lib は読まない) プロセスの最後まで残るので、ワーカーはすぐに起動し、serve の再ビルドの
    たびに torch を読み直さない。サーバーとワーカーのスレッドは 1 つ (環境変数はサーバーにだけ渡す)。
    """

    def __init__(self):
        self._pool = None

    def submit(self, function, *args):
        if self._pool is None:
            from hooks import build_workers

            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(list(build_workers.PRELOAD))
            saved = dict(os.environ)
            os.environ.update(build_workers.ENVIRONMENT)
            try:
                multiprocessing.forkserver.ensure_running()
            finally:
                os.environ.clear()
                os.environ.update(saved)
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
            self._pool = ProcessPoolExecutor(max_workers=cores or 1, initializer=build_workers.initialize,
                                             mp_context=context)
        return self._pool.submit(function, *args)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def package_modules(subpackage: str) -> list[str]:
    """``gen_lib.<subpackage>`` の下のモジュール名 (import せずにファイルから)。"""
    from gen_lib.core.cache import PACKAGE, PACKAGE_DIR

    found = pkgutil.iter_modules([str(PACKAGE_DIR / subpackage)])
    return sorted(f"{PACKAGE}.{subpackage}.{module.name}" for module in found)


def _read_manifest(path: Path, directory: Path) -> list[str] | None:
    """一覧のファイルに書かれた名前。一覧か、一覧に載ったファイルが 1 つでもなければ None。"""
    if not path.exists():
        return None
    names = path.read_text(encoding="utf-8").split()
    return names if all((directory / name).exists() for name in names) else None


def _write_manifest(path: Path, names: list[str], stale_pattern: str) -> None:
    for stale in path.parent.glob(stale_pattern):
        if stale != path:
            stale.unlink(missing_ok=True)
    path.write_text("".join(f"{name}\n" for name in names), encoding="utf-8")


def _settings_label(experiment, settings) -> str:
    """ログに出す実験の名前と、既定と違う設定だけ (例: ``name (method='ssm')``)。"""
    default = experiment.settings_type()
    changed = [f"{field.name}={getattr(settings, field.name)!r}" for field in dataclasses.fields(settings)
               if getattr(settings, field.name) != getattr(default, field.name)]
    return experiment.name + (f" ({', '.join(changed)})" if changed else "") + (
        " [timing]" if experiment.timing else "")


def build_runs(experiments) -> tuple[dict, dict]:
    """ビルドが前もって計算する (実験, 設定) と、それぞれが先に要る (実験, 設定) の鍵。

    既定の設定と ``variants`` に加えて、設定のフィールドに入った別の実験の設定 (例: 評価の設定の中の
    学習の設定) も計算する。その実験は中で学習の実験を呼ぶので、学習を先に済ませておけば、
    2 つのワーカーが同じモデルを学習し始めることがない。
    """
    from gen_lib.core.cache import settings_json

    users = collections.Counter(experiment.settings_type for experiment in experiments)
    by_type = {experiment.settings_type: experiment for experiment in experiments
               if users[experiment.settings_type] == 1}  # 設定の型から実験が 1 つに決まるものだけ
    runs, needs = {}, {}

    def add(experiment, settings):
        key = (experiment.name, settings_json(settings))
        if key not in runs:
            runs[key] = (experiment, settings)
            nested = [getattr(settings, field.name) for field in dataclasses.fields(settings)]
            needs[key] = {add(by_type[type(value)], value) for value in nested if type(value) in by_type}
        return key

    for experiment in experiments:
        for settings in experiment.build_settings:
            add(experiment, settings)
    return runs, needs


def precompute_experiments(workers: Workers) -> None:
    """ビルドが使う実験のうち、キャッシュにないものを計算する (時間を測るものは先に単独で)。"""
    from gen_lib.core.cache import cache_dir as results_dir, result_path, source_digest

    modules = package_modules("experiments")
    store = results_dir()
    manifest = store / f"build-experiments-{source_digest(modules)[:20]}.txt"
    if _read_manifest(manifest, store) is not None:
        return
    from hooks import build_workers
    from gen_lib.core.experiment import all_experiments

    runs, needs = build_runs(list(all_experiments().values()))
    paths = {key: result_path(experiment.name, settings, depends_on=experiment.__module__)
             for key, (experiment, settings) in runs.items()}
    missing = [key for key in runs if not paths[key].exists()]
    needed = set().union(*needs.values())
    waiting = sorted((key for key in missing if not runs[key][0].timing), key=lambda key: key not in needed)
    running = {}
    done = 0

    def submit(key):
        experiment, settings = runs[key]
        future = workers.submit(build_workers.run_experiment, experiment.__module__, experiment.__name__,
                                settings)
        running[future] = key
        return future

    def finish(future):
        nonlocal done
        experiment, settings = runs[running.pop(future)]
        try:
            seconds = future.result()
        except Exception as error:  # noqa: BLE001 — ワーカーのどの失敗でも実験の名前を挙げて止める
            label = _settings_label(experiment, settings)
            raise PluginError(f"experiment {label} failed: {error}") from error
        done += 1
        log.info("experiments: [%d/%d] %s %.1f s", done, len(missing), _settings_label(experiment, settings),
                 seconds)

    for key in missing:
        if runs[key][0].timing:  # 1 つずつ、ほかに何も走らせずに
            finish(submit(key))
    while waiting or running:
        unfinished = set(waiting) | set(running.values())
        for key in [key for key in waiting if not needs[key] & unfinished]:  # 先に要るものが済んだもの
            waiting.remove(key)
            submit(key)
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            finish(future)
    store.mkdir(parents=True, exist_ok=True)
    _write_manifest(manifest, sorted(path.name for path in paths.values()), f"build-experiments-{_HEX20}.txt")


def figure_svgs(workers: Workers, store: Path) -> dict[str, bytes]:
    """すべての図の SVG (名前順)。キャッシュにない図だけワーカーで描く。"""
    from hooks import build_workers
    from gen_lib.core.cache import source_digest

    digests = {module: source_digest([module])[:20] for module in package_modules("figures")}
    short = {module: module.rsplit(".", 1)[-1] for module in digests}
    manifests = {module: store / f"{short[module]}-{digests[module]}.txt" for module in digests}

    def svg_path(name, module):
        return store / f"{name.removesuffix('.svg')}-{digests[module]}.svg"

    names = {}  # モジュール → 描く図の名前
    for module, manifest in manifests.items():
        listed = _read_manifest(manifest, store)
        if listed is not None:
            names[module] = [name.rsplit("-", 1)[0] + ".svg" for name in listed]
    unknown = [module for module in digests if module not in names]
    functions = {}  # 名前 → (モジュール, 関数名)
    if unknown:  # 変わったモジュールがあるときだけ、ワーカーが図のモジュールを import して名前を調べる
        try:
            functions = workers.submit(build_workers.registered_figures).result()
        except Exception as error:  # noqa: BLE001 — 図のモジュールが import できない
            raise PluginError(f"figures could not be registered: {error}") from error
        for module in unknown:
            names[module] = [name for name, (defined_in, _) in functions.items() if defined_in == module]
    where = {name: module for module, listed in names.items() for name in listed}
    missing = sorted(name for name, module in where.items() if not svg_path(name, module).exists())

    futures = {workers.submit(build_workers.render_figure, *functions[name]): name for name in missing}
    seconds = {}
    for k, future in enumerate(as_completed(futures), start=1):
        name = futures[future]
        try:
            svg, seconds[name], computed = future.result()
        except Exception as error:  # noqa: BLE001 — ワーカーのどの失敗でも図の名前を挙げて止める
            raise PluginError(f"figure {name!r} ({'.'.join(functions[name])}) failed: {error}") from error
        log.info("figures: [%d/%d] %s %.1f s", k, len(missing), name, seconds[name])
        if computed:
            log.warning("figures: %s computed %s while rendering; the build computes each experiment's "
                        "default settings and its variants first, so a figure must call experiments with "
                        "those only (add the settings to `variants`)", name, ", ".join(sorted(set(computed))))
        path = svg_path(name, where[name])
        for stale in store.glob(f"{name.removesuffix('.svg')}-{_HEX20}.svg"):  # 同じ図の古い版だけ
            stale.unlink()
        path.write_bytes(svg)
    for module in unknown:
        _write_manifest(manifests[module], [svg_path(name, module).name for name in names[module]],
                        f"{short[module]}-{_HEX20}.txt")

    slowest = ", ".join(f"{name} {seconds[name]:.1f} s"
                        for name in sorted(seconds, key=seconds.get, reverse=True)[:_SLOWEST])
    log.info("figures: %d rendered, %d from cache (%s)%s", len(missing), len(where) - len(missing), store,
             f"; slowest: {slowest}" if slowest else "")
    return {name: svg_path(name, where[name]).read_bytes() for name in sorted(where)}


def on_files(files, config):
    store = cache_dir(config)
    store.mkdir(parents=True, exist_ok=True)
    with Workers() as workers:
        precompute_experiments(workers)
        svgs = figure_svgs(workers, store)
    for name, content in svgs.items():
        files.append(File.generated(config, f"{FIGURE_DIR}/{name}", content=content))
    return files
