"""内容キャッシュ: 鍵は設定と import の閉包から導かれ、古くならず、関係のない変更では変わらない。"""

from dataclasses import dataclass

import pytest

from gen_lib.core import cache
from gen_lib.core.experiment import experiment


@pytest.fixture
def package(tmp_path, monkeypatch):
    """閉包を調べるための小さな偽の gen_lib: top → mid → deep、unrelated はどこからも import されない。"""
    root = tmp_path / "gen_lib"
    (root / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "sub/__init__.py": "",
        "top.py": "from gen_lib.sub import mid\nimport numpy\n",
        "sub/mid.py": "from .deep import value\n",
        "sub/deep.py": "value = 1\n",
        "unrelated.py": "value = 2\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    monkeypatch.setattr(cache, "PACKAGE_DIR", root)
    return root


def test_closure_follows_absolute_relative_and_package_imports(package):
    assert cache.dependency_closure(["gen_lib.top"]) == [
        "gen_lib", "gen_lib.sub", "gen_lib.sub.deep", "gen_lib.sub.mid", "gen_lib.top"]
    assert cache.dependency_closure(["gen_lib.unrelated"]) == ["gen_lib", "gen_lib.unrelated"]


def test_change_deep_in_the_import_graph_changes_the_key(package):
    key = cache.content_key("toy", {"a": 1}, ["gen_lib.top"])
    (package / "sub" / "deep.py").write_text("value = 1  # edited\n")
    assert cache.content_key("toy", {"a": 1}, ["gen_lib.top"]) != key


def test_change_to_an_unrelated_module_keeps_the_key(package):
    key = cache.content_key("toy", {"a": 1}, ["gen_lib.top"])
    (package / "unrelated.py").write_text("value = 3\n")
    assert cache.content_key("toy", {"a": 1}, ["gen_lib.top"]) == key
    assert cache.content_key("toy", {"a": 2}, ["gen_lib.top"]) != key  # 設定が変われば変わる


def test_real_experiment_closure_includes_validation():
    """学習はすべて入力検査を import する: validation の編集は NCSN を学習し直させる。"""
    closure = cache.dependency_closure(["gen_lib.experiments.ch2_ncsn"])
    for module in ("gen_lib.core.validation", "gen_lib.core.nn", "gen_lib.score_based.ncsn"):
        assert module in closure
    assert "gen_lib.figures" not in closure


def test_computes_once_per_key_and_drops_only_older_versions_of_the_same_settings(tmp_path, monkeypatch):
    """同じ鍵なら計算しない。ソースが変われば計算し直して同じ名前・同じ設定の古い版だけを消し、
    別の設定 (実験の variants) と別の名前の結果は残す。"""
    monkeypatch.setenv("GEN_LIB_MODEL_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"loss": [1.0, 0.5]}

    first = cache.cached("toy", {"steps": 10}, compute, depends_on=__name__)
    cache._MEMORY.clear()
    again = cache.cached("toy", {"steps": 10}, compute, depends_on=__name__)
    assert len(calls) == 1 and again == first
    cache.cached("other", {"steps": 10}, compute, depends_on=__name__)
    cache.cached("toy", {"steps": 11}, compute, depends_on=__name__)
    assert len(calls) == 3 and len(list(tmp_path.glob("toy-*.pkl"))) == 2  # 別の設定は残る
    monkeypatch.setattr(cache, "source_digest", lambda modules: "edited source")  # ソースが変わった
    cache.cached("toy", {"steps": 10}, compute, depends_on=__name__)
    assert len(calls) == 4
    assert len(list(tmp_path.glob("toy-*.pkl"))) == 2  # steps=10 の古い版だけが消えた
    assert len(list(tmp_path.glob("other-*.pkl"))) == 1  # 別の名前は残る


@pytest.mark.parametrize("name", ["*", "../x", "", "A", None, 3, "a/b"])
def test_unsafe_names_are_rejected(name):
    with pytest.raises(ValueError, match="cache name"):
        cache.check_name(name)


@dataclass(frozen=True)
class _Settings:
    n: int = 3  # 点の数


@dataclass
class _Mutable:
    n: int = 3


def test_settings_must_be_frozen_json_and_finite():
    assert '"n": 3' in cache.settings_json(_Settings())
    with pytest.raises(ValueError, match="frozen"):
        cache.settings_json(_Mutable())
    with pytest.raises(ValueError, match="JSON"):
        cache.settings_json({"a": object()})
    with pytest.raises(ValueError, match="finite"):
        cache.settings_json({"a": float("nan")})
    with pytest.raises(ValueError, match="dataclass or a dict"):
        cache.settings_json([1, 2])


def test_experiment_checks_settings_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("GEN_LIB_MODEL_CACHE", str(tmp_path))
    calls = []

    @experiment(_Settings)
    def count(settings: _Settings) -> list[int]:
        calls.append(settings.n)
        return list(range(settings.n))

    assert count() == [0, 1, 2] and count() == [0, 1, 2] and calls == [3]
    assert count(_Settings(n=1)) == [0]
    with pytest.raises(ValueError, match="expects settings of type _Settings"):
        count(_Mutable())
    with pytest.raises(ValueError, match="frozen dataclass"):
        experiment(_Mutable)
