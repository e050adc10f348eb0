"""教科書の道具立て (hooks/apparatus.py): 式の番号と参照、式とテストの対応 (検証表)、参考文献。

- フックの関数を直接呼ぶ (ビルドしない): 番号の付け方、書き換え、壊れた入力で止まること
- ビルドしたサイト: 式の参照・引用・「検証」のリンクをすべてたどり、行き先があること
- 壊れた入力では実際のビルドが失敗し、何が壊れたかを名指しすること (プロジェクトの写しで)
- Chromium: 番号が式の横に見え、instant navigation でページをまたぐ参照が式に着くこと
"""

from __future__ import annotations

import html
import importlib.util
import re
import shutil
import sys
from urllib.parse import unquote, urljoin, urlparse

import pytest
from mkdocs.exceptions import PluginError

from conftest import DOCS, ROOT, run_build
from test_browser import WAIT_FOR_MATH_JS, browser, check, page  # noqa: F401 (fixture を使う)


def load_hook():
    spec = importlib.util.spec_from_file_location("apparatus_hook", ROOT / "hooks" / "apparatus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclass が自分のモジュールを引けるように
    spec.loader.exec_module(module)
    return module


hook = load_hook()

BIB = r"""
@article{smith2001,
  author = {Smith, John Quincy and Jones, Ann}, title = {A {GAN} Study?}, journal = {J. Tests},
  volume = {3}, number = {2}, pages = {1--9}, year = {2001}, doi = {10.1/x_y},
}
@misc{lee2001kim, author = {Lee, A. and Kim, B. and Park, C.}, title = {One}, howpublished = {arXiv preprint},
  year = {2001}, eprint = {0101.00002}}
@misc{lee2001oh, author = {Lee, A. and Oh, D. and Yu, E.}, title = {Two}, howpublished = {arXiv preprint},
  year = {2001}, eprint = {0101.00001}}
"""


@pytest.fixture
def state(monkeypatch):
    """2 章ぶんの式、1 つのテストの印、3 つの文献を持つフックの状態。"""
    equations = hook.number_equations([("ch1/a.md", "A", "$$\nx\n\\label{eq:one}\n$$\n"),
                                       ("ch2/b.md", "B", "$$\ny\n\\label{eq:two}\n$$\n")])
    monkeypatch.setattr(hook, "equations", equations)
    monkeypatch.setattr(hook, "checks", {"eq:two": [hook.Check("eq:two", "tests/test_b.py", "test_b", 12)]})
    monkeypatch.setattr(hook, "references", hook.load_bibliography(BIB))


# ---- 番号 ------------------------------------------------------------------------------------

def test_labels_are_numbered_per_chapter_in_nav_order():
    pages = [("ch1/a.md", "A", "# A\n\n## 節 1\n\n$$\nx\n\\label{eq:one}\n$$\n\n$$\ny\n$$\n"),
             ("ch1/b.md", "B", "$$\n\\begin{aligned} z \\end{aligned} \\label{eq:two}\n$$\n"),
             ("ch2/c.md", "C", "## 節 2\n\n  $$\n  w\n  \\label{eq:three}\n  $$\n")]
    numbered = hook.number_equations(pages)
    assert [(e.label, e.number, e.page, e.title, e.section) for e in numbered.values()] == [
        ("eq:one", "1.1", "ch1/a.md", "A", "節 1"), ("eq:two", "1.2", "ch1/b.md", "B", ""),
        ("eq:three", "2.1", "ch2/c.md", "C", "節 2")]


@pytest.mark.parametrize("page, text, message", [
    ("index.md", "$$\nx \\label{eq:a}\n$$\n", "outside a chapter"),
    ("ch1/a.md", "$$\nx \\label{eq:a} \\label{eq:b}\n$$\n", "holds 2 labels"),
    ("ch1/a.md", "文中の $x \\label{eq:a}$ は使えない\n", "outside a '\\$\\$' display"),
    ("ch1/a.md", "$$\nx \\label{eq:Bad_Name}\n$$\n", "bad equation label 'eq:Bad_Name'"),
    ("ch1/a.md", "$$\nx \\label{a}\n$$\n", "bad equation label 'a'"),
])
def test_bad_labels_stop_the_build(page, text, message):
    with pytest.raises(PluginError, match=message):
        hook.number_equations([(page, "T", text)])


def test_duplicate_label_stops_the_build():
    with pytest.raises(PluginError, match="duplicate equation label 'eq:a' in ch2/b.md and ch1/a.md"):
        hook.number_equations([("ch1/a.md", "A", "$$\nx \\label{eq:a}\n$$\n"),
                               ("ch2/b.md", "B", "$$\ny \\label{eq:a}\n$$\n")])


# ---- 書き換え ---------------------------------------------------------------------------------

def test_label_becomes_a_tag_with_an_anchor_and_the_tests_below(state):
    out = hook.render("前の文。\n\n$$\ny\n\\label{eq:two}\n$$\n\n後の文。\n", "ch2/b.md")
    assert '<div class="equation-anchor" id="eq-two"></div>\n\n$$\ny\n\\tag{2.1}\n$$' in out
    assert "\\label" not in out
    assert ("検証: [tests/test_b.py](../tests/test_b.md)::[test_b](../tests/test_b.md#__codelineno-source-12)\n"
            "{: .equation-tests }") in out
    assert out.startswith("前の文。\n") and out.endswith("\n後の文。\n")


def test_references_link_across_pages_and_within_a_page(state):
    out = hook.render("式 [](#eq:one) と式 [](#eq:two)", "ch2/b.md")
    assert out == ("式 [(1.1)](../ch1/a.md#eq-one){ .equation-ref } と式 [(2.1)](#eq-two){ .equation-ref }")


def test_unknown_reference_stops_the_build(state):
    with pytest.raises(PluginError, match="ch1/a.md: reference to unknown equation label 'eq:nope'"):
        hook.render("式 [](#eq:nope)", "ch1/a.md")


def test_citations_in_brackets_and_in_the_text(state):
    cites = []
    out = hook.render("[@smith2001, 2.3 節; @lee2001oh] と @smith2001 は", "ch1/a.md", cites)
    link = "../bibliography.md#ref-"
    assert out == (f"\\[[Smith & Jones, 2001]({link}smith2001){{ .citation }}, 2.3 節; "
                   f"[Lee et al., 2001b]({link}lee2001oh){{ .citation }}\\] と "
                   f"[Smith & Jones (2001)]({link}smith2001){{ .citation }} は")
    assert cites == ["smith2001", "lee2001oh", "smith2001"]


def test_code_and_addresses_are_left_alone(state):
    text = ("`[](#eq:nope)` と `[@nobody2000]`、mail@example2001.org\n\n"
            "```python\n$$\nx \\label{eq:nope}\n$$\n[@nobody2000]\n```\n")
    assert hook.render(text, "ch1/a.md") == text


@pytest.mark.parametrize("text, message", [
    ("[@nobody2000]", "ch1/a.md: unknown citation key 'nobody2000'"),
    ("@nobody2000 は", "unknown citation key 'nobody2000'"),
    ("[@smith2001 2.3 節]", "cannot read citation"),
    ("# 題\n\n## 参考文献\n\n- 手書き\n", "hand-written '参考文献' section"),
])
def test_bad_citations_stop_the_build(state, text, message):
    with pytest.raises(PluginError, match=message):
        hook.render(text, "ch1/a.md")


# ---- 参考文献 ---------------------------------------------------------------------------------

def test_entries_are_formatted_and_same_author_years_get_letters():
    refs = hook.load_bibliography(BIB)
    assert list(refs) == ["lee2001kim", "lee2001oh", "smith2001"]  # 著者、年、キーの順
    assert (refs["lee2001kim"].year, refs["lee2001oh"].year) == ("2001a", "2001b")
    assert refs["smith2001"].entry == ("Smith, J. Q., & Jones, A. (2001). A GAN Study? *J. Tests*, 3(2), "
                                       "1–9. [doi:10.1/x\\_y](https://doi.org/10.1/x_y)")
    assert refs["lee2001oh"].entry == ("Lee, A., Oh, D., & Yu, E. (2001b). Two. arXiv preprint. "
                                      "[arXiv:0101.00001](https://arxiv.org/abs/0101.00001)")


@pytest.mark.parametrize("entry, message", [
    ("@article{x2001, title={T}, journal={J}, year={2001}, doi={1}}", "'x2001' lacks author"),
    ("@article{x2001, author={A, B}, title={T}, year={2001}, doi={1}}", "lacks venue"),
    ("@article{x2001, author={A, B}, title={T}, journal={J}, year={2001}}", "lacks link"),
    ("@article{x2001, author={A, B}, title={T}, journal={J}, year={20x1}, doi={1}}", "year '20x1'"),
    ("@article{Smith, author={A, B}, title={T}, journal={J}, year={2001}, doi={1}}", "look like author2019"),
    ("@article{x2001, author={A, B}", "references.bib"),
])
def test_bad_bibliography_stops_the_build(entry, message):
    with pytest.raises(PluginError, match=message):
        hook.load_bibliography(entry)


# ---- テストの印 -------------------------------------------------------------------------------

def test_markers_are_read_without_importing_the_tests(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        'import pytest\nraise RuntimeError("never imported")\n\n\n'
        '@pytest.mark.parametrize("a", [1])\n@pytest.mark.equation("eq:a", "eq:b")\n'
        'def test_one(a):\n    pass\n\n\n'
        'class TestGroup:\n    @pytest.mark.equation("eq:c")\n    def test_two(self):\n        pass\n\n\n'
        'def test_plain():\n    pass\n', encoding="utf-8")
    checks = hook.find_checks(tmp_path)
    assert [(c.label, c.module, c.test, c.line) for c in checks] == [
        ("eq:a", "tests/test_x.py", "test_one", 5), ("eq:b", "tests/test_x.py", "test_one", 5),
        ("eq:c", "tests/test_x.py", "TestGroup::test_two", 12)]
    assert hook.find_checks(tmp_path / "no-such-project") == []


def test_marker_needs_label_strings(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        'import pytest\nLABEL = "eq:a"\n\n\n@pytest.mark.equation(LABEL)\ndef test_one():\n    pass\n')
    with pytest.raises(PluginError, match="tests/test_x.py:5: @pytest.mark.equation takes one or more label"):
        hook.find_checks(tmp_path)


def test_test_source_page_keeps_the_source_and_links_each_marked_test():
    source = 'x = "```"\n--8<-- "not/a/snippet.py"\n'
    marked = [hook.Check("eq:a", "tests/test_x.py", "test_a", 2)]
    page = hook.source_markdown("tests/test_x.py", source, marked)
    assert "search:\n  exclude: true" in page
    assert '````{.python #source linenums="1"}\nx = "```"\n;--8<-- "not/a/snippet.py"\n````' in page
    assert "- [test_a](#__codelineno-source-2) (2 行目): 式 [](#eq:a)" in page


# ---- このリポジトリのページとテスト (ビルドしない) -------------------------------------------------

def page_labels() -> set[str]:
    return {label for path in DOCS.rglob("*.md")
            for label, _ in hook.labelled_displays(path.read_text(encoding="utf-8"), str(path))}


def test_every_marker_in_the_tests_names_a_label_of_the_pages():
    labels = page_labels()
    unknown = [f"{c.module}::{c.test} → {c.label}" for c in hook.find_checks(ROOT) if c.label not in labels]
    assert unknown == []


def test_every_reference_in_the_bibliography_is_cited_somewhere():
    references = hook.load_bibliography((DOCS / hook.BIB_FILE).read_text(encoding="utf-8"))
    text = "\n".join(path.read_text(encoding="utf-8") for path in DOCS.rglob("*.md"))
    cited = set(re.findall(rf"@({hook.KEY})", text))
    assert sorted(set(references) - cited) == []


# ---- ビルドしたサイト ---------------------------------------------------------------------------

def nav_chapter_pages() -> list[str]:
    """mkdocs.yml の nav に出てくる順の章のページ (ch1/…, ch2/…)。"""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    return re.findall(r"^\s+- .+: (ch\d+/[\w-]+\.md)$", config, re.M)


def built_pages(site) -> dict[str, str]:
    """サイトの URL のパス (例 'ch2/score/') → HTML。アセットは除く。"""
    return {path.parent.relative_to(site.dir).as_posix() + "/": path.read_text(encoding="utf-8")
            for path in site.dir.rglob("index.html")
            if "assets" not in path.parts and path.parent != site.dir}


def links(page_html: str, css_class: str) -> list[tuple[str, str]]:
    """<a class="css_class" href="…">テキスト</a> の (href, テキスト)。"""
    return [(html.unescape(href), html.unescape(re.sub(r"<[^>]+>", "", text))) for href, text in
            re.findall(rf'<a class="{css_class}" href="([^"]*)">(.*?)</a>', page_html, re.S)]


def target(site, page_path: str, href: str) -> tuple[str, str]:
    """ページ page_path の相対リンク href の行き先 (URL のパス, アンカー)。"""
    url = urlparse(urljoin(site.url + page_path, href))
    return url.path.lstrip("/"), unquote(url.fragment)


def tag_after(page_html: str, anchor_id: str) -> str | None:
    """アンカーのすぐ後の式の \\tag{…} (MathJax の前の HTML で)。"""
    match = re.search(rf'<div class="equation-anchor" id="{re.escape(anchor_id)}"></div>\s*'
                      r'<div class="arithmatex">\\\[(.*?)\\\]</div>', page_html, re.S)
    tag = match and re.search(r"\\tag\{([\d.]+)\}", match.group(1))
    return tag.group(1) if tag else None


def test_equations_are_numbered_in_nav_order_with_anchors_in_the_html(site):
    pages = built_pages(site)
    numbers: dict[str, list[str]] = {}
    for source in nav_chapter_pages():
        page_html = pages[source.removesuffix(".md") + "/"]
        for label, _ in hook.labelled_displays((DOCS / source).read_text(encoding="utf-8"), source):
            number = tag_after(page_html, hook.anchor(label))
            assert number, f"{source}: no anchor + \\tag for {label}"
            numbers.setdefault(source.split("/")[0], []).append(number)
    assert numbers and all(found == [f"{chapter[2:]}.{k}" for k in range(1, len(found) + 1)]
                           for chapter, found in numbers.items()), numbers


def test_every_equation_reference_leads_to_its_equation(site):
    pages = built_pages(site)
    followed = across = 0
    for path, page_html in pages.items():
        for href, text in links(page_html, "equation-ref"):
            to_path, anchor_id = target(site, path, href)
            assert to_path in pages, f"{path}: {href} leads nowhere"
            assert text == f"({tag_after(pages[to_path], anchor_id)})", f"{path}: {href} shows {text}"
            followed += 1
            across += to_path != path
    assert followed > 100 and across > 10


def test_every_citation_leads_to_the_bibliography_and_pages_list_their_references(site):
    pages = built_pages(site)
    references = hook.load_bibliography((DOCS / hook.BIB_FILE).read_text(encoding="utf-8"))
    bibliography = pages["bibliography/"]
    assert len(re.findall(r'<span class="reference" id="ref-', bibliography)) == len(references)
    for path, page_html in pages.items():
        keys = set()
        for href, _ in links(page_html, "citation"):
            to_path, anchor_id = target(site, path, href)
            assert to_path == "bibliography/" and f'id="{anchor_id}"' in bibliography, f"{path}: {href}"
            keys.add(anchor_id.removeprefix("ref-"))
        if keys:
            section = page_html.split('<h2 id="参考文献">')[1].split("</ul>")[0]
            assert section.count("<li>") == len(keys), path
            for key in keys:
                authors = references[key].entry.split(" (")[0].replace("\\", "")
                assert authors in html.unescape(section), (path, key)


TEST_LINK = r'<a href="([^"]*#__codelineno-source-\d+)">([A-Za-z_][\w:]*)</a>'  # 行番号のリンクは除く


def test_every_test_link_lands_on_the_test(site):
    pages = built_pages(site)
    followed = 0
    for path, page_html in pages.items():
        for href, text in re.findall(TEST_LINK, page_html):
            to_path, anchor_id = target(site, path, href)
            assert f'id="{anchor_id}"' in pages[to_path], f"{path}: {href}"
            line = int(anchor_id.rsplit("-", 1)[1])
            source = (ROOT / to_path.rstrip("/")).with_suffix(".py").read_text(encoding="utf-8").splitlines()
            # 飛ぶ先はテストの最初のデコレーターの行で、その下で最初の def がそのテスト
            definition = next(s.strip() for s in source[line - 1:] if s.strip().startswith("def "))
            assert source[line - 1].lstrip().startswith("@"), f"{path}: {href}"
            assert definition.startswith(f"def {text.split('::')[-1]}("), f"{path}: {href} → {definition}"
            followed += 1
    assert followed >= 2 * len(hook.find_checks(ROOT))  # 式の下と検証表の両方から


def test_verification_page_lists_every_labelled_equation(site):
    verification = built_pages(site)["verification/"]
    labels = page_labels()
    untested = labels - {c.label for c in hook.find_checks(ROOT)}
    rows = re.findall(r'<tr>\s*<td><a class="equation-ref" href="[^"]*#(eq-[^"]+)"', verification)
    assert sorted(rows) == sorted(hook.anchor(label) for label in labels)
    untested_section = verification.split('id="テストのない式"')[1]
    listed = re.findall(r'<li>式 <a class="equation-ref" href="[^"]*#(eq-[^"]+)"', untested_section)
    assert sorted(listed) == sorted(hook.anchor(label) for label in untested)
    assert f"ラベルの付いた式は {len(labels)} 個" in verification
    assert f"テストのない式は {len(untested)} 個である" in verification


def test_test_source_pages_stay_out_of_the_sitemap_and_search(site):
    assert (site.dir / "tests" / "test_score" / "index.html").exists()
    assert "/tests/" not in (site.dir / "sitemap.xml").read_text(encoding="utf-8")
    assert '"location":"tests/' not in (site.dir / "search" / "search_index.json").read_text(encoding="utf-8")


# ---- 壊れた入力では実際のビルドが止まる --------------------------------------------------------------

BROKEN = {
    "unknown-reference": ("docs/ch1/notation.md", "\n式 [](#eq:no-such-equation) を見よ。\n",
                          "reference to unknown equation label 'eq:no-such-equation'"),
    "unknown-marker": ("tests/test_score.py",
                       '\n\n@pytest.mark.equation("eq:no-such-equation")\ndef test_extra():\n    pass\n',
                       "names 'eq:no-such-equation', which no page defines"),
    "unknown-citation": ("docs/ch1/ebm.md", "\n[@nobody2000] を見よ。\n", "unknown citation key 'nobody2000'"),
}


@pytest.mark.parametrize("name", BROKEN)
def test_broken_apparatus_fails_the_build_naming_it(tmp_path, site, name):
    project = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ["docs", "gen_lib", "hooks", "tests"]:
        shutil.copytree(ROOT / folder, project / folder, ignore=ignore)
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    path, addition, message = BROKEN[name]
    with open(project / path, "a", encoding="utf-8") as file:
        file.write(addition)
    result = run_build(project, project / "site", site_url=site.url, cache=site.cache)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


# ---- Chromium ---------------------------------------------------------------------------------

# 各式のアンカーの次の式に、期待する番号のタグが組まれ、式の枠の中に見えていること
TAGS_JS = r"""
(expected) => Object.entries(expected).map(([id, number]) => {
  const anchor = document.getElementById(id);
  const box = anchor && anchor.nextElementSibling;
  const label = box && box.querySelector('mjx-labels [id^="mjx-eqn:"]');
  if (!label) return id + ": no tag typeset";
  if (label.id !== "mjx-eqn:" + number) return id + ": " + label.id + " instead of " + number;
  const outer = box.getBoundingClientRect(), inner = label.getBoundingClientRect();
  if (inner.right > outer.right + 1 || inner.left < outer.left - 1) return id + ": tag scrolled out of view";
  return null;
}).filter((problem) => problem !== null)
"""


@pytest.mark.browser
@pytest.mark.parametrize("source", nav_chapter_pages())
def test_equation_numbers_show_next_to_their_equations(page, site, source):
    path = source.removesuffix(".md") + "/"
    page_html = built_pages(site)[path]
    expected = {hook.anchor(label): tag_after(page_html, hook.anchor(label))
                for label, _ in hook.labelled_displays((DOCS / source).read_text(encoding="utf-8"), source)}
    page.goto(site.url + path, wait_until="load")
    assert check(page) == []
    assert page.locator(".equation-anchor").count() == len(expected)
    assert page.evaluate(TAGS_JS, expected) == []


def cross_page_references(site) -> list[tuple[str, str]]:
    """(ページの URL のパス, 別のページの式へのリンクの href) のすべて。"""
    found = []
    for path, page_html in built_pages(site).items():
        if path.startswith("ch"):
            found += [(path, href) for href, _ in links(page_html, "equation-ref")
                      if not href.startswith("#")]
    return found


@pytest.mark.browser
def test_cross_page_references_land_on_the_equation_under_instant_navigation(page, site):
    """別のページの式への参照を、読者と同じようにスクロールしてから押し、式に着くこと (すべての参照)。"""
    pages = built_pages(site)
    problems = []
    for path, href in cross_page_references(site):
        to_path, anchor_id = target(site, path, href)
        page.goto(site.url + path, wait_until="load")
        page.evaluate(WAIT_FOR_MATH_JS)
        page.evaluate("window.__no_full_reload = true")
        link = page.locator(f'a.equation-ref[href$="#{anchor_id}"]').first
        link.scroll_into_view_if_needed()
        page.wait_for_timeout(400)  # Material はスクロールの 250 ms 後に位置と URL を書き換える
        link.click()
        page.wait_for_function("(id) => document.getElementById(id) !== null", arg=anchor_id)
        found = check(page)
        top = page.evaluate("(id) => document.getElementById(id).getBoundingClientRect().top", anchor_id)
        label = page.evaluate("(id) => { const l = document.getElementById(id).nextElementSibling"
                              ".querySelector('[id^=\"mjx-eqn:\"]'); return l && l.id }", anchor_id)
        if not page.evaluate("window.__no_full_reload === true"):
            found.append("full reload instead of instant navigation")
        if urlparse(page.url).path.lstrip("/") != to_path:
            found.append(f"landed on {page.url}")
        if not 0 <= top < 400:
            found.append(f"equation at {top:.0f}px from the top of the window")
        if label != f"mjx-eqn:{tag_after(pages[to_path], anchor_id)}":
            found.append(f"tag {label}")
        if found:
            problems.append((path, href, found))
    assert problems == []
