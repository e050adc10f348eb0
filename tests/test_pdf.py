"""LaTeX 版 (scripts/build_pdf.py): テストのビルドしたサイトから PDF を作り、ログ・見出しの順・フォント、
サイトへの載せ方 (hooks/pdf_download.py) を確かめる。

PDF は 1 回だけ作る (モジュールのフィクスチャ)。`site` フィクスチャの strict ビルドとキャッシュを使うので、
実験は計算し直さない。2 コアで約 5 分: 図の PDF 42 枚 2〜3 分、latexmk (lualatex 3 回) 約 40 秒、
PDF を載せた 2 回目の strict ビルド約 1 分。
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata

import pytest

from conftest import ROOT, run_build

OVERFULL_LIMIT = 5  # 許す overfull \hbox の数 (今は 0)
TOOLS = ("lualatex", "latexmk", "pdftotext", "pdffonts", "pdfinfo")
# サイト: 式の前の id="eq-名前" の要素と、式の \tag{N.k}。PDF: course.aux の \newlabel{eq:名前}{{{N.k}}…
SITE_EQUATION = re.compile(r'<div class="equation-anchor" id="eq-([a-z0-9-]+)"></div>\s*'
                           r'<div class="arithmatex">[^<]*?\\tag\{([^}]*)\}')
PDF_EQUATION = re.compile(r"\\newlabel\{(eq:[a-z0-9-]+)\}\{\{\{?([^{}]*)\}")

_spec = importlib.util.spec_from_file_location("pdf_download", ROOT / "hooks" / "pdf_download.py")
pdf_download = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pdf_download)


@pytest.fixture(scope="module")
def edition(site, tmp_path_factory):
    """サイトから作った LaTeX 版の置き場所と、変換のスクリプトの出力。"""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    assert not missing, f"{missing} not found; scripts/setup.sh --test installs the TeX packages"
    out = tmp_path_factory.mktemp("latex")
    env = dict(os.environ, GEN_LIB_MODEL_CACHE=str(site.cache / "models"))
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_pdf.py"), "--site", str(site.dir),
                             "--out", str(out), "--figure-cache", str(site.cache / "figure-pdfs")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"scripts/build_pdf.py failed:\n{output[-5000:]}"
    return out, output


def test_log_has_no_errors_or_undefined_references(edition):
    out, output = edition
    log = (out / "course.log").read_text(encoding="utf-8", errors="replace")
    assert not re.findall(r"^! .*", log, re.M)
    undefined = re.findall(r"^.*(?:undefined|Undefined).*$", log, re.M)
    assert not undefined, undefined[:10]
    missing = sorted(set(re.findall(r"Missing character: There is no (.+?) in font", log)))
    assert not missing, f"characters the fonts cannot draw: {missing}"
    overfull = re.findall(r"^Overfull \\hbox .*$", log, re.M)
    assert len(overfull) <= OVERFULL_LIMIT, overfull
    assert "computed" not in output, "a figure computed an experiment instead of reading the build's results"


def test_every_chapter_and_section_title_in_nav_order(edition):
    """見出し (章・ページ・節) を、目次の後の本文で nav の順に探す (数式の部分は除く)。"""
    out, _ = edition
    log = (out / "course.log").read_text(encoding="utf-8", errors="replace")
    first = int(re.search(r"BODY-START-PAGE=(\d+)", log)[1])
    text = subprocess.run(["pdftotext", "-f", str(first), "-enc", "UTF-8", str(out / "course.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout

    def squeeze(s):
        return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))

    body = squeeze(text)
    headings = json.loads((out / "headings.json").read_text(encoding="utf-8"))
    assert len(headings) > 100
    position = 0
    for words in headings:
        for word in words:
            found = body.find(squeeze(word), position)
            assert found >= 0, f"heading {words} not found after position {position} (in nav order)"
            position = found + len(squeeze(word))


def test_every_font_is_embedded(edition):
    out, _ = edition
    listing = subprocess.run(["pdffonts", str(out / "course.pdf")], capture_output=True, text=True,
                             check=True).stdout.splitlines()[2:]
    assert listing
    not_embedded = [line for line in listing if line.split()[-5] != "yes"]
    assert not not_embedded, not_embedded


def test_figures_are_vector_pdfs_without_dates(edition):
    out, _ = edition
    figures = sorted((out / "figures").glob("*.pdf"))
    assert len(figures) >= 40
    for figure in figures:
        data = figure.read_bytes()
        assert data.startswith(b"%PDF") and b"/CreationDate" not in data, figure.name


def test_equation_numbers_and_labels_match_the_site(edition, site):
    """サイトの式の番号とラベル (id="eq-…" の後の \\tag{N.k}) が、PDF の \\label と同じ番号になる。"""
    out, _ = edition
    on_site = {}
    for page in site.dir.rglob("index.html"):
        html = page.read_text(encoding="utf-8")
        for label, number in SITE_EQUATION.findall(html):
            on_site[f"eq:{label}"] = number
    aux = (out / "course.aux").read_text(encoding="utf-8")
    in_pdf = dict(PDF_EQUATION.findall(aux))
    assert len(on_site) > 90
    assert in_pdf == on_site


def test_pdf_is_offered_only_when_made_from_the_current_sources(edition, tmp_path):
    out, _ = edition
    record = json.loads((out / "course.json").read_text(encoding="utf-8"))
    assert record["pages"] > 100
    assert record["digest"] == pdf_download.source_digest(ROOT)
    os.environ["GEN_LIB_PDF_DIR"] = str(out)
    try:
        assert pdf_download.current_edition(ROOT) == record
        stale = tmp_path / "stale"
        shutil.copytree(out, stale, ignore=shutil.ignore_patterns("site", "figures", ".figure-cache"))
        (stale / "course.json").write_text(json.dumps({**record, "digest": "0" * 64}), encoding="utf-8")
        os.environ["GEN_LIB_PDF_DIR"] = str(stale)
        assert pdf_download.current_edition(ROOT) is None
        (stale / "course.json").unlink()
        assert pdf_download.current_edition(ROOT) is None
    finally:
        del os.environ["GEN_LIB_PDF_DIR"]


def test_strict_build_links_the_current_pdf(edition, site, tmp_path, monkeypatch):
    """今のソースから作った PDF があれば、strict ビルドがそれを載せ、ホームからリンクする。"""
    out, _ = edition
    monkeypatch.setenv("GEN_LIB_PDF_DIR", str(out))
    result = run_build(ROOT, tmp_path / "site", site_url=site.url, cache=site.cache)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    built = tmp_path / "site"
    assert (built / "course.pdf").read_bytes() == (out / "course.pdf").read_bytes()
    assert (built / "course.tex").read_bytes() == (out / "course.tex").read_bytes()
    home = (built / "index.html").read_text(encoding="utf-8")
    assert 'href="course.pdf"' in home and pdf_download.MARKER_CLASS in home
    if pdf_download.current_edition(ROOT) is None:  # PDF のないときのビルド (テストのサイト) にはリンクもファイルもない
        assert not (site.dir / "course.pdf").exists()
        assert 'href="course.pdf"' not in (site.dir / "index.html").read_text(encoding="utf-8")
