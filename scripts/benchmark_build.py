"""サイトのビルドの速さを測る (テストではない)。4 つの数を出す:

1. 冷えたビルド: 空のキャッシュから ``mkdocs build`` (実験・図・ノートブックをすべて計算する)
2. 温まったビルド: キャッシュが埋まった状態で、新しいプロセスの ``mkdocs build``
3. 図のモジュールを 1 つ編集したあと: ``mkdocs serve`` の中で、ファイルに注釈の行を足してから
   再ビルドが終わる ("Reloading browsers" の行) までの時間
4. ページを 1 つ編集したあと: 同じく ``mkdocs serve`` の中で

    .venv/bin/python scripts/benchmark_build.py
    .venv/bin/python scripts/benchmark_build.py --figure-module ch2_ncsn.py --page ch2/ncsn.md

プロジェクト (docs, gen_lib, hooks, mkdocs.yml) の一時的な写しで測り、キャッシュもその中に置く。
作業ツリーのファイルもキャッシュも変えず、写しは最後に (失敗しても) 消す。
目標 (2 コア): 冷えたビルド ≤ 120 s、温まったビルド ≤ 5 s、図のモジュール ≤ 10 s、ページ ≤ 3 s。
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT_PARTS = ("docs", "gen_lib", "hooks", "mkdocs.yml")
SERVE_TIMEOUT = 600.0  # serve の 1 回のビルドを待つ上限 [s]


def copy_project(destination: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in PROJECT_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, destination / part, ignore=ignore)
        else:
            shutil.copy(source, destination / part)
    return destination


def environment(project: Path) -> dict[str, str]:
    """キャッシュをすべて写しの .cache に置く (呼び出し元の環境の設定を上書きする)。"""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", NOTEBOOK_CACHE="true",
               GEN_LIB_FIGURE_CACHE=str(project / ".cache" / "figures"),
               GEN_LIB_MODEL_CACHE=str(project / ".cache" / "models"))
    env.pop("SITE_URL", None)
    return env


def timed_build(project: Path) -> tuple[float, str]:
    start = time.perf_counter()
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(project / "site")]
    result = subprocess.run(command, cwd=project, env=environment(project), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    log = result.stdout + result.stderr
    if result.returncode != 0:
        raise SystemExit(f"mkdocs build failed:\n{log[-5000:]}")
    return seconds, log


def append_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as stream:
        stream.write(f"\n{line}\n")


class Serve:
    """``mkdocs serve`` を子プロセスで動かし、ログの行を時刻つきで受け取る。"""

    def __init__(self, project: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "serve", "--dev-addr", f"127.0.0.1:{port}"],
            cwd=project, env=environment(project), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put((time.perf_counter(), line.rstrip()))

    def wait_for(self, text: str) -> float:
        """``text`` を含む行が出た時刻。エラーの行が出るか、時間切れなら止める。"""
        deadline = time.perf_counter() + SERVE_TIMEOUT
        while True:
            try:
                stamp, line = self.lines.get(timeout=max(deadline - time.perf_counter(), 0.01))
            except queue.Empty:
                raise SystemExit(f"mkdocs serve: no {text!r} within {SERVE_TIMEOUT:.0f} s") from None
            if "ERROR" in line or "Aborted" in line:
                raise SystemExit(f"mkdocs serve failed: {line}")
            if text in line:
                return stamp

    def rebuild_after(self, path: Path, line: str) -> float:
        """ファイルに行を足してから、再ビルドが終わって "Reloading browsers" が出るまでの秒数。"""
        time.sleep(1.0)  # 直前のビルドの後始末 (ファイルの監視) が落ち着くのを待つ
        start = time.perf_counter()
        append_line(path, line)
        return self.wait_for("Reloading browsers") - start

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--figure-module", default="ch1_ebm.py", help="gen_lib/figures/ of the file to edit")
    parser.add_argument("--page", default="ch1/notation.md", help="docs/ of the page to edit")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="benchmark-build-") as temporary:
        project = copy_project(Path(temporary) / "project")
        figure_module = project / "gen_lib" / "figures" / args.figure_module
        page = project / "docs" / args.page
        for path in (figure_module, page):
            if not path.is_file():
                raise SystemExit(f"no such file to edit: {path.relative_to(project)}")

        cold, log = timed_build(project)
        print(f"cold build (empty caches):           {cold:6.1f} s   (target <= 120 s)", flush=True)
        for line in log.splitlines():
            if "figures: " in line and "rendered" in line:
                print(f"    {line.split('-  ', 1)[-1]}", flush=True)
        warm, _ = timed_build(project)
        print(f"warm build (new process, caches):    {warm:6.1f} s   (target <= 5 s)", flush=True)

        serve = Serve(project)
        try:
            serve.wait_for("Serving on")
            figure = serve.rebuild_after(figure_module, "# benchmark: edited")
            print(f"serve: edit {figure_module.relative_to(project)}:"
                  f" {figure:6.1f} s   (target <= 10 s)", flush=True)
            page_seconds = serve.rebuild_after(page, "benchmark: edited")
            print(f"serve: edit docs/{args.page}:      {page_seconds:6.1f} s   (target <= 3 s)", flush=True)
        finally:
            serve.stop()
    print(f"({os.cpu_count()} cores; other processes on the machine slow these numbers down)")


if __name__ == "__main__":
    main()
