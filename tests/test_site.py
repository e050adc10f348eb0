"""ビルドしたサイトの検査: 警告なし、全ページが gen_lib のコードと図を示す、外部参照なし。"""

from __future__ import annotations

import html
import json
import re

import nbformat
import pytest

from conftest import DOCS, ROOT, page_sources, page_url
from gen_lib.figures import all_figures

SNIPPET = re.compile(r'^\s*--8<--\s+"([^":]+):([^"]+)"\s*$', re.M)
CHAPTER_PAGES = [p for p in page_sources() if p.startswith("ch") and p.endswith(".md")]


def snippet_lines(path: str, section: str) -> list[str]:
    """gen_lib のファイルから snippet セクションの中身 (空行・マーカーを除く) を取り出す。"""
    text = (ROOT / path).read_text(encoding="utf-8")
    match = re.search(rf"--8<-- \[start:{re.escape(section)}\]\n(.*?)\n[ \t]*# --8<-- \[end:{re.escape(section)}\]",
                      text, re.S)
    assert match, f"section {section!r} not found in {path}"
    return [line.strip() for line in match.group(1).splitlines()
            if line.strip() and "--8<--" not in line]


def built_html(site, source: str) -> str:
    return (site.dir / page_url(source) / "index.html").read_text(encoding="utf-8")


def code_text(page_html: str) -> str:
    """ページ中のコードブロックの文字列 (タグを外し、実体参照を戻す)。"""
    blocks = re.findall(r"<pre[^>]*>(.*?)</pre>", page_html, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", "\n".join(blocks)))


def test_build_is_strict_and_clean(site):
    warnings = [line for line in site.log.splitlines() if "WARNING" in line]
    assert warnings == []


def test_build_log_shows_progress_and_the_cache(site):
    """冷えた図のキャッシュからのビルド: 全図を 1 枚ずつ k/N で描き、最後に描いた数・キャッシュの数・遅い図を出す。"""
    n = len(all_figures())
    progress = re.findall(rf"figures: \[(\d+)/{n}\] ([a-z0-9\-]+\.svg) \d+\.\d s", site.log)
    assert sorted(int(k) for k, _ in progress) == list(range(1, n + 1))
    assert {name for _, name in progress} == set(all_figures())
    assert re.search(rf"figures: {n} rendered, 0 from cache \(.*\); slowest: \S+\.svg \d+\.\d s", site.log)


def test_every_page_source_is_built(site):
    for source in page_sources():
        assert (site.dir / page_url(source) / "index.html").exists(), source
    sitemap = (site.dir / "sitemap.xml").read_text(encoding="utf-8")
    built = set(re.findall(r"<loc>(.*?)</loc>", sitemap))
    expected = {site.url + page_url(s) for s in page_sources()}
    assert built == expected


@pytest.mark.parametrize("source", CHAPTER_PAGES)
def test_chapter_page_shows_gen_lib_code_and_a_figure(site, source):
    markdown = (DOCS / source).read_text(encoding="utf-8")
    snippets = SNIPPET.findall(markdown)
    assert snippets, f"{source} embeds no gen_lib snippet"
    code = code_text(built_html(site, source))
    for path, section in snippets:
        assert path.startswith("gen_lib/"), f"{source} embeds code from outside gen_lib: {path}"
        for line in snippet_lines(path, section):
            assert line in code, f"{source}: line of {path}:{section} missing from the page: {line!r}"
    figures = re.findall(r"\]\(\.\./figures/([a-z0-9\-]+\.svg)\)", markdown)
    assert figures, f"{source} shows no build-time figure"
    for name in figures:
        svg = (site.dir / "figures" / name).read_bytes()
        assert svg.startswith(b"<?xml") and b"<svg" in svg[:500], name


def test_pages_hold_no_hand_written_python(site):
    """ページのコードブロックは snippet から来る (手で写したコードを置かない)。"""
    for source in page_sources():
        if not source.endswith(".md"):
            continue
        markdown = (DOCS / source).read_text(encoding="utf-8")
        for block in re.findall(r"```python\n(.*?)```", markdown, re.S):
            lines = [line for line in block.strip().splitlines() if line.strip()]
            assert all(SNIPPET.match(line) for line in lines), f"{source}: hand-written code block:\n{block}"


def test_no_external_resources(site):
    """CDN などマシンの外を参照するスクリプト・スタイル・画像がない。"""
    pattern = re.compile(r'<(?:script|link|img|iframe)\b[^>]*?(?:src|href)="((?:https?:)?//[^"]*)"', re.I)
    for page in site.dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        offenders = [m.group(1) for m in pattern.finditer(text) if not m.group(1).startswith(site.url)]
        assert offenders == [], f"{page}: {offenders[:3]}"
        assert "text/x-mathjax-config" not in text, f"{page}: MathJax 2 config left in the page"


def test_mathjax_is_served_locally(site):
    base = site.dir / "assets" / "vendor" / "mathjax-3.2.2"
    assert (base / "es5" / "tex-chtml.js").stat().st_size > 500_000
    assert (base / "LICENSE").exists()
    assert list((base / "es5" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))


def test_notebook_is_downloadable_as_ipynb(site):
    for source in page_sources():
        if not source.startswith("notebooks/"):
            continue
        ipynb = site.dir / (source.removesuffix(".py") + ".ipynb")
        notebook = nbformat.reads(ipynb.read_text(encoding="utf-8"), as_version=4)
        nbformat.validate(notebook)
        assert any(cell.cell_type == "code" for cell in notebook.cells)
        page = built_html(site, source)
        assert f'href="../{ipynb.name}"' in page and "download" in page
        assert 'id=""' not in page, "a notebook heading has an empty id"


def test_search_index_has_japanese_suffix_terms(site):
    index = json.loads((site.dir / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert "kw" in index["config"]["fields"]
    terms = " ".join(doc.get("kw", "") for doc in index["docs"]).split()
    for term in ["分配関数", "分配関", "配関数", "エネルギーベースモデル", "モデル"]:
        assert term in terms, term
