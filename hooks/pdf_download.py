"""MkDocs フック: LaTeX 版 (scripts/build_pdf.py が作る PDF と .tex) を、今のソースから作ったものに限ってサイトに載せる。

- scripts/build_pdf.py は build/latex/ に course.pdf・course.tex と、作ったときのソースの内容ハッシュ
  (course.json) を書く。このフックはビルドのたびにハッシュを計算し直し、一致したときだけ
  2 つのファイルをサイトの直下にコピーし、ホームの冒頭にダウンロードの案内を入れる。
- 一致しない (古い PDF)・ファイルがない・壊れているときは何もしない (リンクも警告も出さない)。
- 置き場所は環境変数 GEN_LIB_PDF_DIR で変えられる (テストが使う。既定は build/latex)。
- LaTeX は走らせない (mkdocs serve の速さは変わらない)。ハッシュの計算はファイルを読むだけ (数十 ms)。

ハッシュの対象 (SOURCES): PDF の中身を決めるもの。ページ、ライブラリ (コード・数値・図)、フック、
設定、依存の版、変換のスクリプト。`__pycache__` と隠しファイルは除く。
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.pdf_download")

SOURCES = ("mkdocs.yml", "pyproject.toml", "requirements.lock", "docs", "gen_lib", "hooks",
           "scripts/build_pdf.py")
OUTPUT_DIR = Path("build") / "latex"  # プロジェクトからの相対パス (git の対象外)
PDF_NAME = "course.pdf"
TEX_NAME = "course.tex"
STAMP_NAME = "course.json"  # {"digest": …, "pages": …}
HOME_PAGE = "index.md"
MARKER_CLASS = "pdf-download"  # 変換のスクリプトはこのクラスの囲みを PDF に入れない


def _files(root: Path) -> list[Path]:
    found = []
    for name in SOURCES:
        path = root / name
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found += [p for p in path.rglob("*") if p.is_file()
                      and not any(part.startswith(".") or part == "__pycache__"
                                  for part in p.relative_to(root).parts)]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def source_digest(root: Path) -> str:
    """PDF の中身を決めるソース (SOURCES) の内容ハッシュ (パスと中身の SHA-256)。"""
    digest = hashlib.sha256()
    for path in _files(root):
        data = path.read_bytes()
        digest.update(f"{path.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def output_dir(root: Path) -> Path:
    """PDF の置き場所: GEN_LIB_PDF_DIR、なければ root/build/latex。"""
    return Path(os.environ.get("GEN_LIB_PDF_DIR", root / OUTPUT_DIR))


def current_edition(root: Path) -> dict | None:
    """今のソースから作った PDF があれば、その記録 (course.json の中身)。なければ None。"""
    out = output_dir(root)
    stamp = out / STAMP_NAME
    if not all((out / name).is_file() for name in (PDF_NAME, TEX_NAME, STAMP_NAME)):
        return None
    try:
        record = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("digest") != source_digest(root):
        return None
    return record


# 1 回のビルドの状態
_edition: dict | None = None


def on_files(files, config):
    global _edition
    root = Path(config["config_file_path"]).parent
    _edition = current_edition(root)
    if _edition is None:
        return files
    out = output_dir(root)
    for name in (PDF_NAME, TEX_NAME):
        files.append(File.generated(config, name, abs_src_path=str(out / name)))
    log.info("pdf_download: offering %s (%s pages) made from the current sources", PDF_NAME,
             _edition.get("pages", "?"))
    return files


def on_page_markdown(markdown, page, config, files):
    if _edition is None or page.file.src_uri != HOME_PAGE:
        return markdown
    pages = _edition.get("pages")
    size = f" ({pages} ページ)" if isinstance(pages, int) else ""
    note = (f'!!! note {MARKER_CLASS} "PDF 版"\n\n'
            f"    この講義ノート全体を 1 冊にした [PDF]({PDF_NAME}){size}と、その LaTeX のソース "
            f"[{TEX_NAME}]({TEX_NAME}) をダウンロードできる。今のページと同じソースから作ったものである。\n\n")
    # 最初の見出し (ページの題) の直後に入れる
    lines = markdown.split("\n")
    for index, line in enumerate(lines):
        if line.startswith("# "):
            return "\n".join(lines[:index + 1] + ["", note] + lines[index + 1:])
    return note + markdown
