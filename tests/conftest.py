"""テスト共通の道具: サイトを一度だけ strict ビルドし、ローカルの HTTP サーバーで配信する。

テストの層 (pyproject.toml の markers): サイトをビルドするテスト (``site`` フィクスチャを使うもの) に ``site``、
Chromium を使うテスト (test_browser.py の ``browser`` フィクスチャを使うもの) に ``browser`` を自動で付ける。
``-m "not site and not browser"`` でライブラリのテストだけを走らせられる。
"""

from __future__ import annotations

import functools
import http.server
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MKDOCS = [sys.executable, "-m", "mkdocs"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "site" in item.fixturenames:
            item.add_marker(pytest.mark.site)
        if "browser" in item.fixturenames:
            item.add_marker(pytest.mark.browser)


def page_sources() -> list[str]:
    """サイトのページになるソース (docs 以下の .md と notebooks/*.py) の相対パス。"""
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    pages += sorted(p.relative_to(DOCS).as_posix() for p in (DOCS / "notebooks").glob("*.py"))
    return pages


def page_url(source: str) -> str:
    """ソースのパスからサイト上の相対 URL を作る (use_directory_urls)。"""
    stem = source.rsplit(".", 1)[0]
    if stem == "index":
        return ""
    if stem.endswith("/index"):
        return stem[: -len("index")]
    return stem + "/"


def run_build(project: Path, site_dir: Path, *, site_url: str, cache: Path) -> subprocess.CompletedProcess:
    """strict ビルド。図と学習済みモデルのキャッシュは ``cache`` 以下に置く。"""
    env = dict(os.environ, SITE_URL=site_url, GEN_LIB_FIGURE_CACHE=str(cache / "figures"),
               GEN_LIB_MODEL_CACHE=str(cache / "models"), NO_MKDOCS_2_WARNING="1", NOTEBOOK_CACHE="false")
    return subprocess.run([*MKDOCS, "build", "--strict", "--clean", "-d", str(site_dir)],
                          cwd=project, env=env, capture_output=True, text=True, timeout=1200)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class BuiltSite:
    dir: Path
    url: str
    log: str
    cache: Path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """テスト全体で使うキャッシュ (ホームの ~/.cache を汚さず、冷えた状態から始める)。"""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def isolated_model_cache(session_cache, monkeypatch):
    monkeypatch.setenv("GEN_LIB_MODEL_CACHE", str(session_cache / "models"))


@pytest.fixture(scope="session")
def site(tmp_path_factory, session_cache) -> BuiltSite:
    """冷えたキャッシュから strict ビルドしたサイトを、site_url と同じオリジンで配信する。"""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    work = tmp_path_factory.mktemp("site")
    result = run_build(ROOT, work / "site", site_url=url, cache=session_cache)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log[-5000:]}"
    handler = functools.partial(_QuietHandler, directory=str(work / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield BuiltSite(work / "site", url, log, session_cache)
    server.shutdown()
