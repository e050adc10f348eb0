"""学習キャッシュ: 同じ鍵なら学習しない、設定かコードが変われば学習し直す。"""


import pytest
import torch

from gen_lib import training_cache


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GEN_LIB_MODEL_CACHE", str(tmp_path))


def test_trains_once_per_key_and_again_when_settings_change():
    calls = []

    def train():
        calls.append(1)
        return {"w": torch.arange(3.0), "loss": [1.0, 0.5]}

    first = training_cache.load_or_train("toy", {"steps": 10}, train, modules=[training_cache])
    again = training_cache.load_or_train("toy", {"steps": 10}, train, modules=[training_cache])
    assert len(calls) == 1
    assert torch.equal(first["w"], again["w"]) and again["loss"] == [1.0, 0.5]
    training_cache.load_or_train("toy", {"steps": 11}, train, modules=[training_cache])
    assert len(calls) == 2
    assert len(list(training_cache.cache_dir().glob("toy-*.pt"))) == 1  # 古い結果は消える


def test_key_depends_on_code():
    key = training_cache.content_key("toy", {"a": 1}, [training_cache])
    assert key != training_cache.content_key("toy", {"a": 1}, [torch.nn.functional])
    assert key == training_cache.content_key("toy", {"a": 1}, [training_cache])


def test_settings_must_be_json():
    with pytest.raises(ValueError, match="JSON"):
        training_cache.content_key("toy", {"a": object()}, [])
    with pytest.raises(ValueError, match="dict"):
        training_cache.content_key("toy", [1, 2], [])
