"""実際の Chromium で全ページを確かめる: 数式の組版、画像、コンソール、通信、日本語検索。

- 直接読み込んだときと、instant navigation で遷移したときの両方で数式を検査する。
- マシンの外へ出るリクエスト、失敗したリクエスト、コンソールのエラーがないこと。
"""

from __future__ import annotations

import importlib.util
import os
from urllib.parse import urlparse

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import sync_playwright

from conftest import DOCS, ROOT, page_sources, page_url

_spec = importlib.util.spec_from_file_location("search_ja", ROOT / "hooks" / "search_ja.py")
_search_ja = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_search_ja)
GLOSSARY = _search_ja.glossary_rows(DOCS / "glossary.md")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = [page_url(source) for source in page_sources()]

# ページの数式・画像・生の TeX を調べ、問題のリストを返す。
CHECK_PAGE_JS = r"""
() => {
  const problems = [];
  const short = (s) => s.replace(/\s+/g, " ").trim().slice(0, 80);
  document.querySelectorAll("mjx-merror").forEach((e) => problems.push("MathJax error: " + short(e.textContent)));
  document.querySelectorAll("mjx-container [style*='color: red'], mjx-container [mathcolor='red']")
    .forEach((e) => problems.push("undefined macro: " + short(e.textContent || e.outerHTML)));
  document.querySelectorAll(".arithmatex").forEach((e) => {
    const n = e.querySelectorAll("mjx-container").length;
    if (n === 0) problems.push("not typeset: " + short(e.textContent));
    if (n > 1) problems.push("typeset " + n + " times: " + short(e.textContent));
  });
  // 不可視の文字 (関数適用 U+2061 など、\log の後に入る) は字形を持たない。
  const invisible = /^mjx-c(200[B-D]|206[0-4])$/;
  document.querySelectorAll("mjx-container mjx-c").forEach((c) => {
    if (invisible.test(c.classList[0])) return;
    const content = getComputedStyle(c, "::before").content;
    if (!c.textContent && (!content || content === "none" || content === "normal" || content === '""'))
      problems.push("blank glyph: " + c.className);
  });
  // 組版されずに残った TeX (コード・数式を除いた本文で探す)
  const body = document.querySelector("article").cloneNode(true);
  body.querySelectorAll("pre, code, mjx-container, script, style, .jp-OutputArea").forEach((e) => e.remove());
  const text = body.textContent;
  const raw = text.match(/\\\(|\\\[|\$\$|\\begin\{|\$[^$\n]{1,80}\$/);
  if (raw) problems.push("raw TeX left: " + short(text.slice(Math.max(0, raw.index - 30), raw.index + 50)));
  document.querySelectorAll("img").forEach((img) => {
    if (!img.complete || img.naturalWidth === 0) problems.push("image did not load: " + img.getAttribute("src"));
  });
  return problems;
}
"""

WAIT_FOR_MATH_JS = r"""
async () => {
  for (let i = 0; i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
    await new Promise((r) => setTimeout(r, 25));
  // document$ の購読が組版を MathJax.startup.promise に連ねるので、連鎖が止まるまで待つ。
  let last;
  do { last = MathJax.startup.promise; await last; await new Promise((r) => setTimeout(r, 50)); }
  while (last !== MathJax.startup.promise);
  await Promise.all([...document.images].map((img) => img.complete ? null :
    new Promise((r) => { img.onload = img.onerror = r; })));
  return document.querySelectorAll("mjx-container").length;
}
"""


class PageWatcher:
    """コンソールのエラー、失敗したリクエスト、外部へのリクエストを記録する。"""

    def __init__(self, page, origin: str):
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

        def on_request(request):
            url = urlparse(request.url)
            if url.scheme in ("data", "blob", "about"):
                return
            if url.hostname != urlparse(origin).hostname:
                self.problems.append(f"request leaves the machine: {request.url}")

        page.on("request", on_request)

    def take(self) -> list[str]:
        problems, self.problems[:] = list(self.problems), []
        return problems


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/setup.sh --test (or set CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ja-JP")
    page = context.new_page()
    page.watcher = PageWatcher(page, site.url)
    yield page
    context.close()


def check(page) -> list[str]:
    page.evaluate(WAIT_FOR_MATH_JS)
    return page.evaluate(CHECK_PAGE_JS) + page.watcher.take()


@pytest.mark.parametrize("path", PAGES, ids=[p or "home" for p in PAGES])
def test_page_direct_load(page, site, path):
    page.goto(site.url + path, wait_until="load")
    assert check(page) == []


def test_every_page_after_instant_navigation(page, site):
    """ホームから全ページへ instant navigation で順に移り、そのたびに検査する (再組版の経路)。"""
    page.goto(site.url, wait_until="load")
    assert check(page) == []
    page.evaluate("window.__no_full_reload = true")
    problems = {}
    for path in PAGES[1:] + PAGES[:1]:
        page.evaluate("""(href) => { const a = document.createElement("a"); a.href = href;
                         document.querySelector("article").appendChild(a); a.click(); }""", site.url + path)
        page.wait_for_url(site.url + path)
        page.wait_for_function("(p) => location.href === p && document.querySelector('article') !== null",
                               arg=site.url + path)
        assert page.evaluate("window.__no_full_reload === true"), f"{path}: navigation was a full reload"
        found = check(page)
        if found:
            problems[path] = found
    assert problems == {}


def test_checker_catches_broken_math(page, site):
    """検査が失敗しうること: 未定義マクロと構文エラーを入れると報告される。"""
    page.goto(site.url + PAGES[1], wait_until="load")
    assert check(page) == []
    page.evaluate(r"""() => {
        const article = document.querySelector("article");
        for (const tex of ["\\(\\undefinedmacro{x}\\)", "\\(x^1^2\\)"]) {
          const span = document.createElement("span"); span.className = "arithmatex"; span.textContent = tex;
          article.appendChild(span);
        }
        MathJax.startup.promise = MathJax.startup.promise.then(() => MathJax.typesetPromise());
    }""")
    problems = " ".join(check(page))
    assert "undefined macro" in problems and "MathJax error" in problems


# 1280×900 の窓での読みやすさ: 図の最小の文字 (SVG に書いた pt を表示の倍率で px にする) と、
# コードブロックの横スクロール。
LEGIBILITY_JS = r"""
async () => {
  const problems = [];
  for (const img of document.querySelectorAll("article img[src*='figures/']")) {
    const svg = await (await fetch(img.src)).text();
    const width = svg.match(/<svg[^>]*width="([0-9.]+)pt"/);
    const font = svg.match(/min-font-pt=([0-9.]+)/);
    if (!width || !font) { problems.push("no size information: " + img.src); continue; }
    const px = parseFloat(font[1]) * img.getBoundingClientRect().width / parseFloat(width[1]);
    if (px < 11 - 0.05) problems.push(`text of ${px.toFixed(1)} px in ${img.src.split("/").pop()}`);
  }
  document.querySelectorAll("article pre > code").forEach((code) => {
    if (code.scrollWidth > code.clientWidth + 1)
      problems.push("code scrolls horizontally: " + code.textContent.slice(0, 60));
  });
  return problems;
}
"""


def test_figures_and_code_are_legible_at_1280(browser, site):
    """どのページでも、図の文字は 11 CSS px 以上で、コードブロックは横にスクロールしない。"""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    page = context.new_page()
    problems = {}
    for path in PAGES:
        page.goto(site.url + path, wait_until="load")
        found = page.evaluate(LEGIBILITY_JS)
        if found:
            problems[path] = found
    context.close()
    assert problems == {}


SEARCHES = {
    "拡散モデル": "ch1/overview/",
    "分配関数": "ch1/ebm/",
    "エネルギーベースモデル": "ch1/ebm/",
    "暗黙的生成モデル": "ch1/implicit/",
    "尤度": "ch1/likelihood/",
}


def search_results(page, query: str) -> list[str]:
    """検索欄に query を入れ、結果のページのパス (上から順) を返す (結果がなければ空)。"""
    box = "input.md-search__input"
    page.fill(box, "")
    page.press(box, "End")  # 空のクエリで前の結果を消してから入れる
    page.wait_for_function("() => !document.querySelector('.md-search-result__item')")
    page.fill(box, query)
    page.press(box, "End")
    try:
        page.wait_for_selector(".md-search-result__item", timeout=5000)
    except PlaywrightTimeoutError:
        return []
    links = page.eval_on_selector_all(".md-search-result__item > a.md-search-result__link",
                                      "(as) => as.map((a) => a.href)")
    return [urlparse(link).path.lstrip("/") for link in links]


@pytest.mark.parametrize("query,expected", SEARCHES.items())
def test_japanese_search_without_spaces(page, site, query, expected):
    page.goto(site.url, wait_until="load")
    page.click("input.md-search__input")
    top = search_results(page, query)[:3]
    assert expected in top, f"{query}: top results {top}"
    assert page.watcher.take() == []


def test_glossary_forms_find_the_defining_page(page, site):
    """用語集の別の表記 (カタカナの揺れ、ASCII の綴り) で検索すると、定義のページが上位 5 件に入る。"""
    page.goto(site.url, wait_until="load")
    page.click("input.md-search__input")
    missed = {}
    for row in GLOSSARY:
        expected = page_url(row["page"])
        for form in [row["term"], *row["english"], *row["forms"]]:
            top = search_results(page, form)[:5]
            if expected not in top:
                missed[form] = top
    assert missed == {}
