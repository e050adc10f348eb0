"""ビルドのキャッシュと並列化: 鍵は編集したものだけで変わり、変わっていないビルドは何も計算しない。

- 図の鍵は図のモジュールごと、実験の鍵は実験のモジュールの import の閉包ごと (tests/test_cache.py の続き)。
- 同じ鍵を 2 つのプロセスが同時に求めても計算は 1 回。ビルドは別の実験の設定を含む実験より先に、その実験を計算する。
- 図のモジュールを 1 つ編集したビルドは、そのモジュールの図だけを描き直す。温まったビルドは torch を import しない。
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT
from gen_lib.core import cache
from gen_lib.core.experiment import Experiment, all_experiments
from gen_lib.figures import all_figures

spec = importlib.util.spec_from_file_location("figures_hook", ROOT / "hooks" / "figures.py")
figures_hook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(figures_hook)


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """gen_lib の写し。鍵はこの写しのソースから計算する (編集しても本物は変わらない)。"""
    copy = tmp_path / "gen_lib"
    shutil.copytree(cache.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "PACKAGE_DIR", copy)
    return copy


def figure_keys() -> dict[str, str]:
    return {name: cache.source_digest([f.__module__]) for name, f in all_figures().items()}


def experiment_keys() -> dict[tuple[str, str], str]:
    return {(e.name, cache.settings_json(s)): cache.content_key(e.name, s, [e.__module__])
            for e in all_experiments().values() for s in e.build_settings}


def test_editing_one_figure_module_changes_only_its_figures_keys(package_copy):
    figures, experiments = figure_keys(), experiment_keys()
    module = sorted({f.__module__ for f in all_figures().values()})[0]
    edited = package_copy.joinpath(*module.split(".")[1:]).with_suffix(".py")
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    changed = {name for name, key in figure_keys().items() if key != figures[name]}
    assert changed == {name for name, f in all_figures().items() if f.__module__ == module}
    assert experiment_keys() == experiments


def test_editing_a_deep_module_changes_exactly_the_experiments_that_import_it(package_copy):
    before = experiment_keys()
    deep = "gen_lib.core.validation"
    edited = package_copy / "core" / "validation.py"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    after = experiment_keys()
    importers = {experiment.name for experiment in all_experiments().values()
                 if deep in cache.dependency_closure([experiment.__module__])}
    assert importers, f"no experiment imports {deep}"
    assert {name for (name, settings), key in after.items() if key != before[(name, settings)]} == importers


@dataclass(frozen=True)
class _Train:
    steps: int = 3  # 学習のステップ数


@dataclass(frozen=True)
class _Evaluate:
    train: _Train = _Train(steps=5)  # 評価するモデルの学習の設定
    n: int = 2  # 評価の点の数


def _train(settings: _Train) -> int:
    return settings.steps


def _evaluate(settings: _Evaluate) -> int:
    return settings.n


def test_build_runs_defaults_variants_and_nested_settings_first():
    train = Experiment(_train, _Train, timing=False, variants=(_Train(steps=4),))
    evaluate = Experiment(_evaluate, _Evaluate, timing=False, variants=())
    runs, needs = figures_hook.build_runs([train, evaluate])
    listed = {(experiment.name, settings) for experiment, settings in runs.values()}
    assert listed == {(train.name, _Train()), (train.name, _Train(steps=4)), (train.name, _Train(steps=5)),
                      (evaluate.name, _Evaluate())}
    evaluate_key = (evaluate.name, cache.settings_json(_Evaluate()))
    assert needs[evaluate_key] == {(train.name, cache.settings_json(_Train(steps=5)))}


SLOW_COMPUTE = """
import sys, time
from pathlib import Path
from gen_lib.core import cache

def compute():
    with open(Path(sys.argv[1]) / "calls", "a") as stream:
        stream.write("1")
    time.sleep(2.0)
    return "result"

assert cache.cached("shared", {"a": 1}, compute, depends_on="gen_lib.core.cache") == "result"
"""


def test_two_processes_compute_the_same_key_once(tmp_path):
    env = dict(os.environ, GEN_LIB_MODEL_CACHE=str(tmp_path), PYTHONPATH=str(ROOT))
    command = [sys.executable, "-c", SLOW_COMPUTE, str(tmp_path)]
    workers = [subprocess.Popen(command, env=env) for _ in range(2)]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0]
    assert (tmp_path / "calls").read_text() == "1"
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".lock"] == []


PROBE_HOOK = '''
import logging
import sys

def on_files(files, config):
    logging.getLogger("mkdocs.hooks.probe").info("probe: torch imported: %s", "torch" in sys.modules)
'''


@pytest.fixture
def figures_project(tmp_path, site):
    """図のフックだけの小さなプロジェクト。図のキャッシュはサイトのビルドの写し、実験の結果は共有する。"""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "gen_lib", project / "gen_lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "hooks", project / "hooks", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "hooks" / "probe.py").write_text(PROBE_HOOK)
    (project / "docs").mkdir()
    (project / "docs" / "index.md").write_text("# figures\n")
    (project / "mkdocs.yml").write_text("site_name: figures\n"
                                        "hooks:\n  - hooks/figures.py\n  - hooks/probe.py\n")
    shutil.copytree(site.cache / "figures", tmp_path / "cache" / "figures")
    (tmp_path / "cache" / "models").symlink_to(site.cache / "models")
    return project


def build(project: Path) -> str:
    env = {"GEN_LIB_FIGURE_CACHE": str(project.parent / "cache" / "figures"),
           "GEN_LIB_MODEL_CACHE": str(project.parent / "cache" / "models"), "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(project / "site")]
    result = subprocess.run(command, cwd=project, env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    return log


def test_warm_build_computes_nothing_and_one_edited_module_is_redrawn(figures_project, site):
    n = len(all_figures())
    log = build(figures_project)
    assert f"figures: 0 rendered, {n} from cache" in log
    assert "experiments:" not in log and "probe: torch imported: False" in log

    module = sorted({f.__module__ for f in all_figures().values()})[0]
    names = sorted(name for name, f in all_figures().items() if f.__module__ == module)
    edited = figures_project.joinpath(*module.split(".")).with_suffix(".py")
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    log = build(figures_project)
    assert f"figures: {len(names)} rendered, {n - len(names)} from cache" in log
    assert "experiments:" not in log and "WARNING" not in log
    for name in names:  # 並列のワーカーで描き直しても、サイトのビルドと同じバイト列
        rebuilt = (figures_project / "site" / "figures" / name).read_bytes()
        assert rebuilt == (site.dir / "figures" / name).read_bytes(), name
