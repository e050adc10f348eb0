r"""MkDocs フック: 教科書の道具立て。式の番号と参照、式とテストの対応 (検証表)、参考文献。

式
- ラベル: 章のページ (docs/chN/*.md) の `$$ … $$` の中に `\label{eq:名前}` を 1 つ書く。nav の順に
  N.1, N.2, … と番号を付け、ラベルを `\tag{N.k}` に置き換え、式の直前に `id="eq-名前"` の要素を置く
  (MathJax が動く前から HTML にあるので、どこからでもリンクできる)。
- 参照: `[](#eq:名前)` は、その式へのリンク `(N.k)` (ページをまたぐときは相対 URL) になる。
- テスト: tests/test_*.py のテスト関数に `@pytest.mark.equation("eq:名前", …)` を付けると、その式の下に
  「検証: tests/….py::test_…」のリンクが付く。リンク先はテストのファイルごとに生成するソースのページ
  (行番号のアンカー付き、検索とサイトマップには載せない)。検証表のページ (verification.md) の末尾に、
  すべての式とそのテスト、テストのない式を並べる。テストは ast で読むだけで、import も実行もしない。

参考文献
- docs/references.bib に 1 度だけ書き、`[@key]`・`[@a; @b]`・`[@key, 2.3 節]` (→ [著者, 年]) か、
  文中の `@key` (→ 著者 (年)) で引く。引用は参考文献のページ (bibliography.md) の項目へリンクする。
- 引用のあるページの末尾に、そのページの参考文献の節を作って加える。参考文献のページにはすべてを並べる。

知らないラベル・キー、重複したラベル、章の外のラベル、手書きの「## 参考文献」はビルドを止める (PluginError)。
コードブロックとインラインコードの中は書き換えない。
"""

from __future__ import annotations

import ast
import logging
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, InclusionLevel
from pybtex.backends.plaintext import Backend as PlainTextBackend
from pybtex.database import parse_string
from pybtex.exceptions import PybtexError
from pybtex.richtext import Text

log = logging.getLogger("mkdocs.hooks.apparatus")

VERIFICATION_PAGE = "verification.md"
BIBLIOGRAPHY_PAGE = "bibliography.md"
BIB_FILE = "references.bib"  # docs からの相対パス
TEST_DIR = "tests"  # テストのソースのページも同じ名前のディレクトリに生成する
SOURCE_ID = "source"  # ソースのコードブロックの id。行のアンカーは __codelineno-source-<行番号>

CHAPTER = re.compile(r"^ch(\d+)/")
LABEL_NAME = re.compile(r"eq:[a-z0-9]+(?:-[a-z0-9]+)*")
LABEL = re.compile(r"\\label\{([^}]*)\}")
DISPLAY = re.compile(r"^(?P<indent>[ \t]*)\$\$[ \t]*\n(?P<body>.*?)\n(?P=indent)\$\$[ \t]*$", re.M | re.S)
REFERENCE = re.compile(r"\[\]\(#(eq:[^)\s]*)\)")
KEY = r"[a-z][a-z0-9]*[0-9]{4}[a-z]*"
CITATION_GROUP = re.compile(rf"\[\s*(@{KEY}\b[^\]\n]*)\](?![(\[:])")
CITATION_ITEM = re.compile(rf"^@({KEY})\s*(?:,\s*(.+))?$")
NARRATIVE = re.compile(rf"(?<![\w@./\\])@({KEY})(?![\w-])")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*$", re.M)
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,}).*?\n.*?^[ \t]*\1[`~]*[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"(`+)[^`\n](?:[^\n]*?[^`\n])?\1(?!`)")
STASHED = re.compile("\x00(\\d+)\x00")


@dataclass(frozen=True)
class Equation:
    label: str
    number: str  # "2.7"
    page: str  # ソースのパス (docs からの相対)
    title: str  # ページの題 (nav)
    section: str  # 式のある節の見出し


@dataclass(frozen=True)
class Check:
    label: str
    module: str  # "tests/test_score.py"
    test: str  # テスト関数の名前 (クラスの中なら "Class::name")
    line: int  # 最初のデコレーターの行 (ソースのページで飛ぶ先)


@dataclass(frozen=True)
class Reference:
    key: str
    names: str  # 引用に書く著者 ("Song & Ermon", "Ho et al.")
    year: str  # 引用に書く年 (同じ著者・年が重なれば 2019a, 2019b)
    entry: str  # 一覧に書く 1 項目 (Markdown)


# 1 回のビルドの状態 (on_config / on_files / on_nav で作り直す)
equations: dict[str, Equation] = {}
checks: dict[str, list[Check]] = {}
references: dict[str, Reference] = {}
cited_by: dict[str, list[str]] = {}  # 文献のキー → それを引くページのソース (nav の順)
titles: dict[str, str] = {}  # ページのソース → 題


# ---- 共通の道具 ---------------------------------------------------------------------------------

def outside_code(text: str, transform) -> str:
    """コードブロックとインラインコードを退避して、残りの文章にだけ transform を掛ける。"""
    stash: list[str] = []

    def keep(match):
        stash.append(match.group(0))
        return f"\x00{len(stash) - 1}\x00"

    masked = INLINE_CODE.sub(keep, FENCE.sub(keep, text))
    return STASHED.sub(lambda m: stash[int(m.group(1))], transform(masked))


def link(target: str, page: str) -> str:
    """ページ page (ソースのパス) から target (ソースのパス、#アンカー付きも可) への相対リンク。"""
    path, _, fragment = target.partition("#")
    relative = "" if path == page else posixpath.relpath(path, posixpath.dirname(page) or ".")
    return relative + (f"#{fragment}" if fragment else "")


def anchor(label: str) -> str:
    return label.replace(":", "-")


def source_page(module: str) -> str:
    """テストのファイル tests/test_x.py のソースのページ tests/test_x.md。"""
    return module.removesuffix(".py") + ".md"


def line_anchor(check: Check) -> str:
    return f"{source_page(check.module)}#__codelineno-{SOURCE_ID}-{check.line}"


# ---- 式: ラベルを集めて番号を付ける ----------------------------------------------------------------

def labelled_displays(markdown: str, page: str) -> list[tuple[str, str]]:
    """ページの式のラベルを順に (ラベル, 節の見出し) で返す。形の悪いラベルは PluginError。"""
    found: list[tuple[str, str]] = []

    def scan(text):
        inside = 0
        for display in DISPLAY.finditer(text):
            labels = LABEL.findall(display.group("body"))
            inside += len(labels)
            if len(labels) > 1:
                raise PluginError(f"{page}: one display holds {len(labels)} labels {labels}; expected one")
            if labels:
                if not LABEL_NAME.fullmatch(labels[0]):
                    raise PluginError(f"{page}: bad equation label {labels[0]!r}; "
                                      "expected eq: and lower-case words joined by -")
                headings = HEADING.findall(text, 0, display.start())
                found.append((labels[0], headings[-1][1] if headings else ""))
        outside = len(LABEL.findall(text)) - inside
        if outside:
            raise PluginError(f"{page}: {outside} \\label outside a '$$' display (on its own lines)")
        return text

    outside_code(markdown, scan)
    return found


def number_equations(pages: list[tuple[str, str, str]]) -> dict[str, Equation]:
    """(ソース, 題, Markdown) を nav の順に受け取り、章ごとに N.1, N.2, … と番号を付ける。"""
    numbered: dict[str, Equation] = {}
    counts: dict[str, int] = {}
    for page, title, markdown in pages:
        chapter = CHAPTER.match(page)
        for label, section in labelled_displays(markdown, page):
            if chapter is None:
                raise PluginError(f"{page}: equation label {label!r} outside a chapter (docs/chN/)")
            if label in numbered:
                raise PluginError(f"duplicate equation label {label!r} in {page} and {numbered[label].page}")
            counts[chapter[1]] = counts.get(chapter[1], 0) + 1
            numbered[label] = Equation(label, f"{chapter[1]}.{counts[chapter[1]]}", page, title, section)
    return numbered


# ---- 式とテスト ------------------------------------------------------------------------------

def marker_labels(decorator: ast.expr, where: str) -> list[str]:
    """`@pytest.mark.equation("eq:…", …)` ならラベルのリスト、ほかのデコレーターなら空。"""
    is_marker = isinstance(decorator, ast.Call) and ast.unparse(decorator.func) in ("pytest.mark.equation",
                                                                                     "mark.equation")
    if not is_marker:
        return []
    labels = [arg.value for arg in decorator.args
              if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
    if not labels or len(labels) != len(decorator.args) or decorator.keywords:
        raise PluginError(f"{where}: @pytest.mark.equation takes one or more label strings, "
                          f"got {ast.unparse(decorator)}")
    return labels


def find_checks(root: Path) -> list[Check]:
    """root/tests/test_*.py を ast で読み、式の印の付いたテストを集める (import しない)。"""
    found = []
    for path in sorted((root / TEST_DIR).glob("test_*.py")):
        module = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=module)
        functions = [(node.name, node) for node in tree.body if isinstance(node, ast.FunctionDef)]
        classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
        functions += [(f"{cls.name}::{node.name}", node)
                      for cls in classes for node in cls.body if isinstance(node, ast.FunctionDef)]
        for name, node in functions:
            for decorator in node.decorator_list:
                for label in marker_labels(decorator, f"{module}:{decorator.lineno}"):
                    found.append(Check(label, module, name, node.decorator_list[0].lineno))
    return found


def tests_markdown(group: list[Check], page: str, sep: str) -> str:
    """テストへのリンクをファイルごとにまとめる: tests/test_x.py::test_a, test_b。"""
    modules: dict[str, list[Check]] = {}
    for check in group:
        modules.setdefault(check.module, []).append(check)
    return sep.join(f"[{module}]({link(source_page(module), page)})::"
                    + ", ".join(f"[{c.test}]({link(line_anchor(c), page)})" for c in tests)
                    for module, tests in modules.items())


def source_markdown(module: str, source: str, group: list[Check]) -> str:
    """テストのファイルのソースのページ。行番号にアンカーが付く (__codelineno-source-<行>)。"""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", source)), default=0))
    # pymdownx.snippets はコードブロックの中の行頭の --8<-- も読むので、; で打ち消す (表示は変わらない)
    source = re.sub(r"^([ \t]*)(-+8<-+)", r"\1;\2", source, flags=re.M)
    tests: dict[tuple[str, int], list[str]] = {}
    for check in group:
        tests.setdefault((check.test, check.line), []).append(f"[](#{check.label})")
    listing = [f"- [{test}](#__codelineno-{SOURCE_ID}-{line}) ({line} 行目): 式 " + "、".join(labels)
               for (test, line), labels in sorted(tests.items(), key=lambda item: item[0][1])]
    return "\n".join([
        "---", "search:", "  exclude: true", "---", "", f"# {module}", "",
        f"テストのファイル `{module}` のソースを、ビルドのたびにそのまま写したものである。"
        f"[検証表]({link(VERIFICATION_PAGE, source_page(module))})から、式を確かめるテストの行へ飛んでくる。",
        "", "式を確かめるテスト:", "", *listing, "",
        f'{fence}{{.python #{SOURCE_ID} linenums="1"}}', source.rstrip("\n"), fence, ""])


def where(equation: Equation) -> str:
    return f": {equation.section}" if equation.section else ""


def verification_markdown() -> str:
    """検証表: 章ごとの式とテストの表、テストのない式、数のまとめ。"""
    lines: list[str] = []
    chapters: dict[str, list[Equation]] = {}
    for equation in equations.values():
        chapters.setdefault(equation.number.split(".")[0], []).append(equation)
    for chapter, chapter_equations in chapters.items():
        lines += ["", f"## 第 {chapter} 章", "", '<div class="verification-table" markdown>', "",
                  "| 式 | ページ: 節 | テスト |", "| --- | --- | --- |"]
        for eq in chapter_equations:
            tests = tests_markdown(checks.get(eq.label, []), VERIFICATION_PAGE, "<br>") or "—"
            lines.append(f"| [](#{eq.label}) | [{eq.title}]({eq.page}){where(eq)} | {tests} |")
        lines += ["", "</div>"]
    untested = [eq for eq in equations.values() if eq.label not in checks]
    lines += ["", "## テストのない式", ""]
    lines += [f"- 式 [](#{eq.label}) ([{eq.title}]({eq.page}){where(eq)})" for eq in untested] or ["なし。"]
    per_chapter = "、".join(f"第 {chapter} 章 {len(eqs)} 個" for chapter, eqs in chapters.items())
    n_tests = len({(c.module, c.test) for group in checks.values() for c in group})
    lines += ["", f"ラベルの付いた式は {len(equations)} 個 ({per_chapter}) で、そのうち "
              f"{len(equations) - len(untested)} 個を {n_tests} 個のテストが確かめている。"
              f"テストのない式は {len(untested)} 個である。", ""]
    return "\n".join(lines)


# ---- 参考文献 ---------------------------------------------------------------------------------

_TEXT_BACKEND = PlainTextBackend()  # render_as("text") は呼ぶたびにプラグインを探す (数百回で数秒) ので 1 つを使い回す


def plain(latex: str) -> str:
    """BibTeX の値を表示用の文字列にする ({GAN} → GAN, -- → –)。"""
    return Text.from_latex(latex).render(_TEXT_BACKEND)


def escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]])", r"\\\1", text)


def person_name(person) -> tuple[str, str]:
    """(姓, "姓, F. M.")。名はハイフンごとに頭文字にする (Jean-Pierre → J.-P.)。"""
    last = plain(" ".join(person.prelast_names + person.last_names))
    initials = " ".join("-".join(part[0] + "." for part in plain(name).split("-") if part)
                        for name in person.first_names + person.middle_names)
    return last, f"{last}, {initials}" if initials else last


def format_entry(entry, authors: str) -> str:
    """APA に近い 1 項目: 著者 (年). 題. 掲載先. リンク。"""
    fields = {name: plain(value) for name, value in entry.fields.items()}
    title = escape(fields["title"])
    pages = f", {fields['pages']}" if "pages" in fields else ""
    if entry.type == "article":
        venue = f"*{escape(fields['journal'])}*" + (f", {fields['volume']}" if "volume" in fields else "")
        venue += (f"({fields['number']})" if "number" in fields else "") + pages
    elif entry.type in ("inproceedings", "incollection"):
        venue = f"In *{escape(fields['booktitle'])}*{pages}"
        venue += f". {escape(fields['publisher'])}" if "publisher" in fields else ""
    elif entry.type == "book":
        series = " ".join(fields[name] for name in ("series", "volume") if name in fields)
        title = f"*{title}*" + (f" ({escape(series)})" if "series" in fields else "")
        venue = escape(fields["publisher"])
    elif entry.type == "techreport":
        venue = escape(f"{fields.get('type', 'Technical Report')} {fields.get('number', '')}".strip()
                       + f", {fields['institution']}")
    else:
        venue = escape(fields.get("howpublished", fields.get("publisher", "")))
    links = []
    if "doi" in fields:
        links.append(f"[doi:{escape(fields['doi'])}](https://doi.org/{fields['doi']})")
    if "eprint" in fields:
        links.append(f"[arXiv:{fields['eprint']}](https://arxiv.org/abs/{fields['eprint']})")
    if "isbn" in fields:
        links.append(f"ISBN {fields['isbn']}")
    if "url" in fields and not links:
        links.append(f"[{urlparse(fields['url']).netloc}]({fields['url']})")
    stop = "" if title.rstrip("*")[-1:] in "?!." else "."
    return f"{authors} ({{year}}). {title}{stop} {venue}. " + ", ".join(links)


REQUIRED = {"author": ("author",), "title": ("title",), "year": ("year",),
            "venue": ("journal", "booktitle", "publisher", "institution", "howpublished"),
            "link": ("doi", "eprint", "isbn", "url")}


def load_bibliography(text: str) -> dict[str, Reference]:
    """BibTeX の文字列を読み、必須の項目を確かめ、引用の書き方 (著者, 年) を決める。"""
    try:
        data = parse_string(text, "bibtex")
    except PybtexError as error:
        raise PluginError(f"{BIB_FILE}: {error}") from error
    drafts = []
    for key, entry in data.entries.items():
        if not re.fullmatch(KEY, key):
            raise PluginError(f"{BIB_FILE}: key {key!r} must look like author2019 "
                              "(lower case, a 4-digit year)")
        present = set(entry.fields) | set(entry.persons)
        missing = [need for need, names in REQUIRED.items() if not present.intersection(names)]
        if missing:
            raise PluginError(f"{BIB_FILE}: entry {key!r} lacks {', '.join(missing)}")
        if not re.fullmatch(r"\d{4}", entry.fields["year"]):
            raise PluginError(f"{BIB_FILE}: entry {key!r} has year {entry.fields['year']!r}; "
                              "expected 4 digits")
        names = [person_name(person) for person in entry.persons["author"]]
        lasts, full = [last for last, _ in names], [name for _, name in names]
        cite = " & ".join(lasts) if len(lasts) <= 2 else f"{lasts[0]} et al."
        authors = full[0] if len(full) == 1 else ", ".join(full[:-1]) + ", & " + full[-1]
        entry_markdown = format_entry(entry, escape(authors))
        drafts.append((key, cite, entry.fields["year"], entry_markdown, authors.lower()))
    drafts.sort(key=lambda draft: (draft[4], draft[2], draft[0]))  # 一覧の順: 著者, 年, キー
    # 同じ「著者, 年」が 2 つ以上あれば、一覧の順に年に a, b, … を付ける
    same: dict[tuple[str, str], list[str]] = {}
    for key, cite, year, _, _ in drafts:
        same.setdefault((cite, year), []).append(key)
    result = {}
    for key, cite, year, entry, _ in drafts:
        group = same[(cite, year)]
        year = year + ("abcdefghijklmnopqrstuvwxyz"[group.index(key)] if len(group) > 1 else "")
        result[key] = Reference(key, cite, year, entry.replace("{year}", year))
    return result


def reference(key: str, page: str) -> Reference:
    if key not in references:
        raise PluginError(f"{page}: unknown citation key {key!r}; add it to docs/{BIB_FILE}")
    return references[key]


def cite_link(ref: Reference, text: str, page: str) -> str:
    return f"[{text}]({link(f'{BIBLIOGRAPHY_PAGE}#ref-{ref.key}', page)}){{ .citation }}"


def bibliography_list(keys, page: str, backlinks: bool) -> str:
    """文献の箇条書き (一覧の順)。backlinks なら項目のアンカーと、引いているページを付ける。"""
    lines = []
    for ref in references.values():
        if ref.key not in keys:
            continue
        if backlinks:
            pages = ", ".join(f"[{titles.get(src, src)}]({link(src, page)})"
                              for src in cited_by.get(ref.key, []))
            lines.append(f'- <span class="reference" id="ref-{ref.key}"></span>{ref.entry}'
                         + (f" (引用: {pages})" if pages else ""))
        else:
            lines.append(f"- {ref.entry}")
    return "\n".join(lines)


# ---- ページの書き換え ---------------------------------------------------------------------------

def render(markdown: str, page: str, cites: list[str] | None = None) -> str:
    """式の番号・テストへのリンク・式の参照・引用を書き換える。cites には引いた文献のキーを足す。"""
    cites = [] if cites is None else cites

    def number(display):
        indent, body = display.group("indent"), display.group("body")
        found = LABEL.search(body)
        if not found:
            return display.group(0)
        eq = equations[found.group(1)]
        lines = ["", f'{indent}<div class="equation-anchor" id="{anchor(eq.label)}"></div>', "",
                 f"{indent}$$", LABEL.sub("", body).rstrip(), f"{indent}\\tag{{{eq.number}}}", f"{indent}$$"]
        if eq.label in checks:
            lines += ["", f"{indent}検証: {tests_markdown(checks[eq.label], page, '<br>')}",
                      f"{indent}{{: .equation-tests }}", ""]
        return "\n".join(lines)

    def refer(match):
        eq = equations.get(match.group(1))
        if eq is None:
            raise PluginError(f"{page}: reference to unknown equation label {match.group(1)!r}")
        return f"[({eq.number})]({link(f'{eq.page}#{anchor(eq.label)}', page)}){{ .equation-ref }}"

    def group(match):
        items = []
        for part in match.group(1).split(";"):
            item = CITATION_ITEM.match(part.strip())
            if item is None:
                raise PluginError(f"{page}: cannot read citation [{match.group(1)}]; "
                                  "expected [@key, locator; @key]")
            ref = reference(item.group(1), page)
            cites.append(ref.key)
            locator = f", {item.group(2).strip()}" if item.group(2) else ""
            items.append(cite_link(ref, f"{ref.names}, {ref.year}", page) + locator)
        return "\\[" + "; ".join(items) + "\\]"

    def narrative(match):
        ref = reference(match.group(1), page)
        cites.append(ref.key)
        return cite_link(ref, f"{ref.names} ({ref.year})", page)

    def transform(text):
        if any(level != "#" and title == "参考文献" for level, title in HEADING.findall(text)):
            raise PluginError(f"{page}: hand-written '参考文献' section; "
                              "cite with [@key] and the list is generated")
        text = DISPLAY.sub(number, text)
        text = REFERENCE.sub(refer, text)
        return NARRATIVE.sub(narrative, CITATION_GROUP.sub(group, text))

    return outside_code(markdown, transform)


# ---- MkDocs のイベント ---------------------------------------------------------------------------

def on_config(config):
    global references
    # serve はテストの編集でも作り直す (テストのない写しのプロジェクトでも動くよう、あるときだけ)
    tests = Path(config["config_file_path"]).parent / TEST_DIR
    if tests.is_dir() and str(tests) not in config["watch"]:
        config["watch"].append(str(tests))
    path = Path(config["docs_dir"]) / BIB_FILE
    if not path.exists():
        raise PluginError(f"bibliography {path} not found")
    references = load_bibliography(path.read_text(encoding="utf-8"))
    return config


def on_files(files, config):
    global checks
    root = Path(config["config_file_path"]).parent
    found = find_checks(root)
    checks = {}
    for check in found:
        checks.setdefault(check.label, []).append(check)
    for module in sorted({check.module for check in found}):
        source = (root / module).read_text(encoding="utf-8")
        content = source_markdown(module, source, [c for c in found if c.module == module])
        files.append(File.generated(config, source_page(module), content=content,
                                    inclusion=InclusionLevel.NOT_IN_NAV))
    log.info("apparatus: %d equation markers in %d test files", len(found), len({c.module for c in found}))
    return files


def on_nav(nav, config, files):
    """nav の順に式へ番号を付け、テストの印・参照・引用をビルドの最初に確かめる。"""
    global equations, cited_by, titles
    titles = {page.file.src_uri: page.title for page in nav.pages}
    markdown_pages = [file for file in files.documentation_pages() if file.src_uri.endswith(".md")]
    position = {src: index for index, src in enumerate(titles)}  # nav にないページ (テストのソース) は最後
    ordered = sorted(markdown_pages, key=lambda file: position.get(file.src_uri, len(position)))
    sources = {file.src_uri: file.content_string for file in ordered}
    equations = number_equations([(src, titles.get(src, src), text) for src, text in sources.items()])
    for label, group in checks.items():
        if label not in equations:
            where = ", ".join(f"{c.module}:{c.line} ({c.test})" for c in group)
            raise PluginError(f"{where}: @pytest.mark.equation names {label!r}, which no page defines")
    for page in (VERIFICATION_PAGE, BIBLIOGRAPHY_PAGE):
        if page not in sources:
            raise PluginError(f"page {page} is missing (hooks/apparatus.py appends to it)")
    cited_by = {}
    for src, text in sources.items():
        cites: list[str] = []
        render(text, src, cites)
        for key in dict.fromkeys(cites):
            cited_by.setdefault(key, []).append(src)
    log.info("apparatus: %d labelled equations, %d references (%d cited)",
             len(equations), len(references), len(cited_by))
    return nav


def on_page_markdown(markdown, page, config, files):
    src = page.file.src_uri
    if not src.endswith(".md"):
        return markdown
    if src == VERIFICATION_PAGE:
        markdown += "\n" + verification_markdown()
    cites: list[str] = []
    markdown = render(markdown, src, cites)
    if src == BIBLIOGRAPHY_PAGE:
        markdown += "\n\n" + bibliography_list(references, src, backlinks=True) + "\n"
    elif cites:
        markdown += "\n\n## 参考文献\n\n" + bibliography_list(set(cites), src, backlinks=False) + "\n"
    return markdown


def on_page_content(html, page, config, files):
    """ソースのページの行のアンカーは Pygments の HTML の中にあって MkDocs に見えないので、リンクの検査に教える。"""
    if page.file.src_uri.startswith(f"{TEST_DIR}/") and page.present_anchor_ids is not None:
        page.present_anchor_ids |= set(re.findall(rf'id="(__codelineno-{SOURCE_ID}-\d+)"', html))
    return html


def on_template_context(context, template_name, config):
    """テストのソースのページは講義の本文ではないので、サイトマップに載せない (検索からも外してある)。"""
    if template_name == "sitemap.xml":
        context["pages"] = [f for f in context["pages"] if not f.src_uri.startswith(f"{TEST_DIR}/")]
    return context
