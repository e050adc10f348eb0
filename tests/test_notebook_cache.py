"""ノートブックの実行結果キャッシュは、ノートブックが import する gen_lib の内容ごとに分かれる (古い出力を出さない)。"""

import importlib.util
from pathlib import Path

from mkdocs.config import load_config

from conftest import ROOT

spec = importlib.util.spec_from_file_location("notebooks_hook", ROOT / "hooks" / "notebooks.py")
notebooks_hook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(notebooks_hook)


def test_cache_dir_follows_the_digest_of_what_notebooks_import(monkeypatch):
    monkeypatch.setenv("NOTEBOOK_CACHE", "true")
    config = load_config(str(ROOT / "mkdocs.yml"))
    notebooks_hook.on_config(config)
    cache_dir = Path(config.plugins["mkdocs-jupyter"].config["cache_dir"])
    assert cache_dir.parent == ROOT / ".cache" / "notebooks"
    assert cache_dir.name == notebooks_hook.notebook_digest(ROOT / "docs" / "notebooks")[:20]


def test_cache_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("NOTEBOOK_CACHE", "false")
    config = load_config(str(ROOT / "mkdocs.yml"))
    assert config.plugins["mkdocs-jupyter"].config["cache"] is False


def test_kernels_are_started_with_transport_encryption(monkeypatch):
    """ノートブックのカーネルとの通信を暗号化する (ipykernel の「暗号化なしの TCP」の警告が出ない)。"""
    from nbconvert.nbconvertapp import NbConvertApp

    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "")
    notebooks_hook.on_config(load_config(str(ROOT / "mkdocs.yml")))
    app = NbConvertApp()
    app.load_config_file()
    assert app.config.KernelManager.transport_encryption == "auto"
