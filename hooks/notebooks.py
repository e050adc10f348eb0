"""MkDocs フック: jupytext 形式のノートブック (docs/notebooks/*.py) の後始末。

- .py から .ipynb を作り、ダウンロードできるファイルとしてサイトに加える。
- nbconvert が埋め込む MathJax 2 の設定と CDN を読むスクリプトを取り除く
  (サイトはローカルの MathJax 3 で組版する)。
- 日本語の見出しに付く空の id を、本文ページと同じ規則 (pymdownx.slugs) の id に直し、
  目次のリンクもそれに合わせる。
- mkdocs-jupyter の実行結果キャッシュの鍵はノートブックの中身だけで gen_lib を見ないので、
  キャッシュの置き場所を「ノートブックが推移的に import する gen_lib のソース」の内容ハッシュごとに分ける
  (それが変われば必ず実行し直し、関係のないモジュールの編集では実行し直さない)。
- ノートブックを実行するカーネルとの通信を CurveZMQ で暗号化する (``hooks/jupyter/`` の nbconvert の設定
  ``KernelManager.transport_encryption``)。暗号化しないと、カーネル (ipykernel) が起動のたびに
  "Kernel is running over TCP without encryption" と警告する。
"""

from __future__ import annotations

import html as html_lib
import os
import re
import shutil
from pathlib import Path

import jupytext
import nbformat
from mkdocs.structure.files import File
from pymdownx.slugs import slugify

NOTEBOOK_DIR = "notebooks/"
JUPYTER_CONFIG_DIR = Path(__file__).resolve().parent / "jupyter"
_slugify = slugify(case="lower")

_NBCONVERT_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
_CDN_MODULE = re.compile(r'<script type="module">(?:(?!</script>).)*?cdnjs(?:(?!</script>).)*?</script>', re.S)
_HEADING = re.compile(r'<h([1-6]) id="[^"]*">(.*?)<a class="anchor-link" href="#[^"]*">¶</a></h\1>', re.S)
_TAG = re.compile(r"<[^>]+>")


def on_config(config):
    # nbconvert はこの環境変数のディレクトリの設定を、ユーザーの設定より優先して読む。
    paths = [p for p in os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    if str(JUPYTER_CONFIG_DIR) not in paths:
        os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(JUPYTER_CONFIG_DIR), *paths])
    plugin = config.plugins.get("mkdocs-jupyter")
    if plugin is None or not plugin.config["cache"]:
        return config
    root = Path(config["config_file_path"]).parent / ".cache" / "notebooks"
    current = root / notebook_digest(Path(config["docs_dir"]) / NOTEBOOK_DIR)[:20]
    if root.is_dir():
        for stale in root.iterdir():  # 古い gen_lib の実行結果は消す
            if stale != current:
                shutil.rmtree(stale, ignore_errors=True)
    plugin.config["cache_dir"] = str(current)
    return config


def notebook_digest(notebook_dir: Path) -> str:
    """すべてのノートブックが import する gen_lib のモジュールの閉包から作る内容ハッシュ。"""
    from gen_lib.core.cache import imported_by_source, source_digest

    modules = set()
    for path in sorted(notebook_dir.glob("*.py")):
        modules.update(imported_by_source(path.read_text(encoding="utf-8")))
    return source_digest(sorted(modules))


def _is_notebook(file) -> bool:
    return file.src_uri.startswith(NOTEBOOK_DIR) and file.src_uri.endswith(".py")


def on_files(files, config):
    for file in [f for f in files if _is_notebook(f)]:
        notebook = jupytext.read(file.abs_src_path)
        ipynb = nbformat.writes(notebook)
        files.append(File.generated(config, file.src_uri.removesuffix(".py") + ".ipynb", content=ipynb))
    return files


def _fix_heading_ids(content: str, page) -> str:
    used: dict[str, int] = {}
    by_title: dict[str, list[str]] = {}

    def replace(match):
        level, inner = match.group(1), match.group(2)
        title = html_lib.unescape(_TAG.sub("", inner)).strip()
        slug = _slugify(title, "-") or "section"
        count = used.get(slug, 0)
        used[slug] = count + 1
        if count:
            slug = f"{slug}_{count}"
        by_title.setdefault(title, []).append(slug)
        return f'<h{level} id="{slug}">{inner}<a class="anchor-link" href="#{slug}">¶</a></h{level}>'

    content = _HEADING.sub(replace, content)

    def relink(items):
        for item in items:
            slugs = by_title.get(item.title.strip())
            if slugs:
                item.id = slugs.pop(0)
            relink(item.children)

    relink(page.toc)
    return content


def on_page_content(html, page, config, files):
    if not _is_notebook(page.file):
        return html
    html = _NBCONVERT_MATHJAX.sub("", html)
    html = _CDN_MODULE.sub("", html)
    html = _fix_heading_ids(html, page)
    ipynb = files.get_file_from_path(page.file.src_uri.removesuffix(".py") + ".ipynb")
    link = ipynb.url_relative_to(page.file)
    banner = (f'<p class="notebook-download"><a class="md-button" href="{link}" download>'
              f"ノートブック (.ipynb) をダウンロード</a></p>")
    return banner + html
