"""講義ノート全体を LaTeX と PDF にする (LaTeX 版)。

    .venv/bin/python scripts/build_pdf.py            # strict ビルド → LaTeX → PDF (build/latex/)
    .venv/bin/python scripts/build_pdf.py --site DIR # ビルド済みのサイトから (テストが使う)

手順:
1. サイトを strict ビルドする (`mkdocs build --strict`)。ページはビルドが処理した形 (snippet、実行した使用例の
   出力、ビルドが作った数値、式の番号、引用) で HTML になる。
2. nav の順に各ページの本文 (`<article>`) を LaTeX に変換する。要素の種類ごとに 1 つの関数がある
   (見出し・段落・数式・コード・表・図・囲み・リスト・リンク)。
3. 図は gen_lib に登録された同じ図の関数で描き、PDF (ベクター、タイムスタンプなし) で保存する。
4. `latexmk -lualatex` で course.pdf を作り、作ったときのソースの内容ハッシュを course.json に書く
   (hooks/pdf_download.py が一致を確かめてサイトに載せる)。

構成 (ltjsreport): ホーム → 番号なしの章、nav の「第 N 章 …」→ \\chapter (第 N 章)、
ページ → \\section、ページの ## → \\subsection、### → \\subsubsection。付録 (\\appendix) に用語集・正誤表・
参考文献。ノートブック (ハンズオン) と検証表は入れない (本文からのリンクはただの文字になる)。
式の番号はサイトと同じ \\tag{N.k}、ラベルも同じ eq:名前 (参照は \\eqref)。
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import multiprocessing
import os
import posixpath
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from bs4 import BeautifulSoup, NavigableString, Tag

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hooks.pdf_download import (MARKER_CLASS, PDF_NAME, STAMP_NAME, TEX_NAME,  # noqa: E402
                                output_dir, source_digest)

FIGURE_DIR = "figures"  # .tex からの相対パス
CODE_COLUMNS = 100  # コードの 1 行の幅 (半角の桁、全角は 2 桁)。\footnotesize の等幅で本文の幅に収まる
APPENDIX_PAGES = ("glossary.md", "errata.md", "bibliography.md")
LEFT_OUT = ("verification.md",)  # ノートブック (.py) も入れない
CHAPTER_TITLE = re.compile(r"^第\s*(\d+)\s*章\s*(.+)$")
BASE = "http://site.invalid/"  # 相対リンクを解決するための仮の起点

PREAMBLE = r"""\documentclass[a4paper,10pt]{ltjsreport}
\usepackage{amsmath,amssymb}
\usepackage{graphicx}
\usepackage{array,longtable}
\usepackage{fancyvrb}
\usepackage{xcolor}
\usepackage[colorlinks,linkcolor=blue!50!black,citecolor=blue!50!black,urlcolor=blue!50!black]{hyperref}
\usepackage{bookmark}
\hypersetup{pdftitle={%(title)s},pdfcreator={scripts/build\_pdf.py}}

%% コード: 等幅 \footnotesize。折り返した行の頭に印を付ける (変換のスクリプトが折り返す)
\newcommand{\contmark}{\makebox[2ex][l]{\ensuremath{\hookrightarrow}}}
\fvset{fontsize=\footnotesize,commandchars=\\\{\},frame=leftline,framerule=0.6pt,rulecolor=\color{black!30},xleftmargin=1em}
%% インラインコード
\newcommand{\code}[1]{\texttt{#1}}
%% 囲み (サイトの admonition)
\newsavebox{\admonitionbox}
\newenvironment{admonition}[1]
  {\par\medskip\noindent\begin{lrbox}{\admonitionbox}\begin{minipage}{\dimexpr\linewidth-2\fboxsep-2\fboxrule\relax}%%
   \textbf{#1}\par\smallskip}
  {\end{minipage}\end{lrbox}\fbox{\usebox{\admonitionbox}}\par\medskip}
%% 図 (浮動体にせず、サイトと同じ位置に置く)
\newcommand{\coursefigure}[2]{\par\medskip\begin{center}%%
  \includegraphics[width=\linewidth,height=0.42\textheight,keepaspectratio]{#1}\\[0.3em]%%
  \begin{minipage}{0.92\linewidth}\small #2\end{minipage}\end{center}\medskip}
\setlength{\LTpre}{0.6em}
\setlength{\LTpost}{0.6em}
\renewcommand{\arraystretch}{1.15}

\title{%(title)s}
\author{}
\date{}

\begin{document}
\hypersetup{pageanchor=false}
\maketitle
\hypersetup{pageanchor=true}
\tableofcontents
\clearpage
\typeout{BODY-START-PAGE=\the\numexpr\ReadonlyShipoutCounter+1\relax}
"""


# ---- nav ----------------------------------------------------------------------------------------

@dataclass
class Page:
    src: str  # docs からの相対パス
    title: str  # nav の題

    @property
    def url(self) -> str:
        """サイトでの相対 URL (use_directory_urls)。"""
        stem = self.src.rsplit(".", 1)[0]
        return "" if stem == "index" else stem.removesuffix("/index") + "/"


@dataclass
class Chapter:
    number: int
    title: str
    pages: list[Page] = field(default_factory=list)


def read_config(config_file: Path) -> dict:
    """mkdocs.yml を MkDocs 自身で読む (nav と site_name だけを使う)。"""
    from mkdocs.config import load_config

    config = load_config(str(config_file))
    return {"nav": config["nav"], "site_name": config["site_name"]}


def layout(nav: list) -> tuple[Page, list[Chapter], list[Page], list[str]]:
    """nav を (ホーム, 章, 付録, 入れなかったページ) に分ける。"""
    home, chapters, appendix, left_out = None, [], [], []
    for item in nav:
        (title, value), = item.items()
        if isinstance(value, list):
            match = CHAPTER_TITLE.match(title)
            if match is None:
                raise SystemExit(f"error: nav section {title!r} is not a chapter ('第 N 章 題')")
            chapter = Chapter(int(match[1]), match[2].strip())
            if chapter.number != len(chapters) + 1:
                raise SystemExit(f"error: nav chapter {title!r} is number {chapter.number}, "
                                 f"expected {len(chapters) + 1}")
            for entry in value:
                (page_title, src), = entry.items()
                if src.endswith(".md"):
                    chapter.pages.append(Page(src, page_title))
                else:
                    left_out.append(src)
            chapters.append(chapter)
        elif value == "index.md":
            home = Page(value, title)
        elif value in APPENDIX_PAGES:
            appendix.append(Page(value, title))
        else:
            left_out.append(value)
    if home is None:
        raise SystemExit("error: nav has no home page index.md")
    return home, chapters, appendix, left_out


# ---- 文字 ---------------------------------------------------------------------------------------

_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
            "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}"}
_SPECIAL = re.compile(r"[\\{}$&#^_%~]")


# 本文とコードのフォント (Latin Modern、原ノ味) にない文字は数式などで組む
_FALLBACK = {"ᾱ": r"\ensuremath{\bar{\alpha}}", "⌊": r"\ensuremath{\lfloor}", "⌋": r"\ensuremath{\rfloor}",
             **{chr(0x2070 + i): rf"\textsuperscript{{{i}}}" for i in (0, 4, 5, 6, 7, 8, 9)},
             "⁺": r"\textsuperscript{+}", "⁻": r"\textsuperscript{\ensuremath{-}}",
             **{chr(0x2080 + i): rf"\textsubscript{{{i}}}" for i in range(10)}}
_NO_GLYPH = re.compile("[" + "".join(_FALLBACK) + "]")


def fallback(text: str) -> str:
    return _NO_GLYPH.sub(lambda m: _FALLBACK[m.group(0)], text)


def escape(text: str) -> str:
    """本文の文字列を LaTeX にする (特殊文字をエスケープし、フォントにない文字を置き換える)。"""
    return fallback(_SPECIAL.sub(lambda m: _ESCAPES[m.group(0)], text))


def breakable(text: str) -> str:
    """識別子・URL のような長い文字列を、区切りの後で折り返せるようにしてエスケープする。"""
    parts = re.split(r"(?<=[_./:,(=-])", text)
    return r"\allowbreak{}".join(escape(part) for part in parts)


def columns(text: str) -> int:
    """等幅での表示の桁数 (全角は 2 桁)。"""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def classes(node: Tag) -> list[str]:
    return node.get("class") or []


# ---- 数式 ---------------------------------------------------------------------------------------

def fix_math(tex: str) -> str:
    """MathJax の TeX を LaTeX で同じに組めるようにする。

    \\gt・\\lt は LuaTeX-ja では字体の切り替えで > < が消えるので記号に戻す。
    """
    tex = re.sub(r"\\gt(?![A-Za-z])", ">", tex)
    return re.sub(r"\\lt(?![A-Za-z])", "<", tex)


def top_level_newline(body: str) -> bool:
    """環境の外 (深さ 0) に \\\\ があるか (LaTeX は環境の外の \\\\ を黙って捨てる)。"""
    depth = 0
    for token in re.finditer(r"\\begin\{[^}]*\}|\\end\{[^}]*\}|\\\\", body):
        text = token.group(0)
        if text.startswith(r"\begin"):
            depth += 1
        elif text.startswith(r"\end"):
            depth -= 1
        elif depth == 0:
            return True
    return False


def inline_math(node: Tag, in_heading: bool = False) -> str:
    tex = node.get_text()
    if not (tex.startswith(r"\(") and tex.endswith(r"\)")):
        raise SystemExit(f"error: inline math {tex[:60]!r} is not \\( … \\)")
    math = "$" + fix_math(tex[2:-2]).strip() + "$"
    if in_heading:  # しおり (PDF の目次) には TeX を除いた文字を入れる
        plain = re.sub(r"\\[A-Za-z]+|[{}^_$\\]", "", tex[2:-2]).replace(" ", "")
        return rf"\texorpdfstring{{{math}}}{{{escape(plain)}}}"
    return math


def display_math(node: Tag, label: str | None) -> str:
    """別行の数式。番号 (\\tag{N.k}) はビルドが付けたもの。ラベルはサイトと同じ eq:名前。"""
    tex = node.get_text().strip()
    if not (tex.startswith(r"\[") and tex.endswith(r"\]")):
        raise SystemExit(f"error: display math {tex[:60]!r} is not \\[ … \\]")
    body = fix_math(tex[2:-2]).strip()
    tags = re.findall(r"\\tag\{[^}]*\}", body)
    body = re.sub(r"\s*\\tag\{[^}]*\}", "", body).strip()
    if top_level_newline(body):
        body = "\\begin{gathered}\n" + body + "\n\\end{gathered}"
    tail = "".join(tags) + (rf"\label{{{label}}}" if label else "")
    if len(tags) > 1 or (label and not tags):
        raise SystemExit(f"error: display {body[:60]!r} has tags {tags} and label {label!r}")
    return "\\begin{equation*}\n" + body + ("\n" + tail if tail else "") + "\n\\end{equation*}\n"


# ---- コード ---------------------------------------------------------------------------------------

def wrap_line(line: str, width: int = CODE_COLUMNS) -> list[str]:
    """コードの 1 行を width 桁で折り返す (できれば空白の後で)。続きの行は元の字下げ + 印。"""
    if columns(line) <= width:
        return [line]
    indent = len(line) - len(line.lstrip(" "))
    pieces, rest, first = [], line, True
    while columns(rest) > (width if first else width - indent - 2):
        limit = width if first else width - indent - 2
        cut, used = 0, 0
        for index, ch in enumerate(rest):
            used += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
            if used > limit:
                break
            cut = index + 1
        space = rest.rfind(" ", 0, cut)
        if space > len(rest[:cut]) - len(rest[:cut].lstrip(" ")) and space > cut // 2:
            cut = space + 1
        pieces.append(rest[:cut].rstrip(" ") if first or pieces else rest[:cut])
        rest, first = rest[cut:], False
    pieces.append(rest)
    return [pieces[0]] + [" " * indent + "\x00" + piece for piece in pieces[1:]]


def verbatim_escape(text: str) -> str:
    r"""Verbatim (commandchars=\\\{\}) の中の \ { } をエスケープする。"""
    text = (text.replace("\\", "\x01").replace("{", r"\{").replace("}", r"\}")
            .replace("\x01", r"\textbackslash{}").replace("\x00", r"\contmark{}"))
    return fallback(text) or " "  # 空の行も枠の線が切れないように


def code_block(node: Tag) -> str:
    """コードブロック (Python のソース、実行した使用例の出力)。長い行は折り返す。"""
    pre = node.find("pre")
    text = (pre or node).get_text().rstrip("\n")
    lines = [wrapped for line in text.split("\n") for wrapped in wrap_line(line.rstrip())]
    return "\\begin{Verbatim}\n" + "\n".join(verbatim_escape(line) for line in lines) + "\n\\end{Verbatim}\n"


# ---- 表 ---------------------------------------------------------------------------------------------

LINE_COLUMNS = 90.0  # 本文の幅 (10 pt の欧文の平均的な字幅で、半角の桁)
CELL_PADDING = 2.4  # 列の両側の \tabcolsep (桁)


def cell_width(cell: Tag) -> tuple[float, float]:
    """セルの幅の見積もり (半角の桁): 1 行に収めた幅と、折り返せない最長の語の幅。"""
    text = cell.get_text(" ").strip()
    text = re.sub(r"\\[()]", "", text)  # 数式の区切り
    text = re.sub(r"\\[A-Za-z]+", "x", text)  # 数式の命令はおよそ 1 文字
    text = re.sub(r"[{}^_]", "", text)
    words = re.findall(r"[!-~]+", text)  # 欧文の語 (和文はどこでも折り返せる)
    return float(columns(text)), float(min(max((len(word) for word in words), default=2), 24))


def column_widths(natural: list[float], minimum: list[float]) -> list[float]:
    """列の幅 (本文の幅に対する割合)。収まれば中身の幅、収まらなければ最長の語の幅を保って残りを分ける。"""
    n = len(natural)
    room = LINE_COLUMNS - CELL_PADDING * n
    natural = [min(max(wide, narrow), 70.0) + 1.0 for wide, narrow in zip(natural, minimum)]
    minimum = [narrow + 1.0 for narrow in minimum]
    if sum(natural) <= room:
        widths = natural
    elif sum(minimum) >= room:
        widths = [narrow * room / sum(minimum) for narrow in minimum]
    else:
        spare = room - sum(minimum)
        extra = [wide - narrow for wide, narrow in zip(natural, minimum)]
        widths = [narrow + spare * more / sum(extra) for narrow, more in zip(minimum, extra)]
    return [width / LINE_COLUMNS for width in widths]


# ---- ページの変換 ---------------------------------------------------------------------------------

BLOCK_TAGS = {"p", "div", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "hr",
              "dl"}


class PageConverter:
    """1 ページの <article> を LaTeX にする。labels は (URL, id) → LaTeX のラベル (全ページ分)。"""

    def __init__(self, page: Page, labels: dict[tuple[str, str], str], figures: set[str],
                 headings: list[list[str]], levels: dict[str, str]):
        self.page = page
        self.labels = labels
        self.figures = figures
        self.headings = headings  # 変換した見出しの文字 (テストが PDF の中の順序を確かめる)
        self.levels = levels  # "h1" → "section" など
        self.pending_label: str | None = None

    # -- 入口
    def convert(self, article: Tag) -> str:
        for junk in article.select("a.headerlink, p.equation-tests, div.verification-table, "
                                   f"div.admonition.{MARKER_CLASS}"):
            junk.decompose()
        return self.blocks(article)

    def blocks(self, node: Tag) -> str:
        """子を順に変換する。ブロックの間の文字や inline の要素は段落にまとめる。"""
        out, run = [], []

        def flush():
            text = "".join(run).strip()
            if text:
                out.append(text + "\n")
            run.clear()

        for child in node.children:
            if isinstance(child, Tag) and child.name in BLOCK_TAGS:
                flush()
                converted = self.block(child)
                if converted:
                    out.append(converted)
            else:
                run.append(self.inline(child))
        flush()
        return "\n".join(out)

    def block(self, node: Tag) -> str:
        name, cls = node.name, classes(node)
        if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            return self.heading(node)
        if name == "p":
            return self.paragraph(node)
        if name in ("ul", "ol"):
            return self.listing(node)
        if name == "table":
            return self.table(node)
        if name == "pre":
            return code_block(node)
        if name == "div":
            if "equation-anchor" in cls:
                self.pending_label = node["id"].replace("eq-", "eq:", 1)
                return ""
            if "arithmatex" in cls:
                label, self.pending_label = self.pending_label, None
                return display_math(node, label)
            if "highlight" in cls:
                return code_block(node)
            if "admonition" in cls:
                return self.admonition(node)
            return self.blocks(node)
        raise SystemExit(f"error: {self.page.src}: no LaTeX for <{name} class={cls}>")

    # -- ブロック
    def heading(self, node: Tag) -> str:
        command = self.levels.get(node.name)
        if command is None:
            raise SystemExit(f"error: {self.page.src}: heading <{node.name}> is deeper than the PDF allows")
        title = self.inline_children(node, in_heading=True).strip()
        self.headings.append(heading_words(node))
        key = (self.page.url, node.get("id", "")) if node.name != "h1" else (self.page.url, "")
        label = self.labels.get(key)
        text = f"\\{command}{{{title}}}"
        if command == "chapter*":
            text += f"\n\\addcontentsline{{toc}}{{{command.rstrip('*')}}}{{{title}}}"
        if node.name == "h1" and node.get("id"):  # ページの題の id へのリンクも同じ所へ
            self.labels.setdefault((self.page.url, node["id"]), label)
        return text + (f"\\label{{{label}}}" if label else "") + "\n"

    def paragraph(self, node: Tag) -> str:
        figures = node.select("a.glightbox")
        if figures and not node.get_text(strip=True):
            return "".join(self.figure(a.find("img")) for a in figures)
        return self.inline_children(node).strip() + "\n"

    def figure(self, img: Tag) -> str:
        src = urlparse(img["src"]).path
        name = posixpath.basename(src)
        if not (name.endswith(".svg") and f"/{FIGURE_DIR}/" in "/" + posixpath.normpath(
                posixpath.join(posixpath.dirname(self.page.url), src))):
            raise SystemExit(f"error: {self.page.src}: image {src!r} is not a build figure (figures/*.svg)")
        stem = name.removesuffix(".svg")
        self.figures.add(stem)
        caption = escape(img.get("alt", "").strip())
        return f"\\coursefigure{{{FIGURE_DIR}/{stem}.pdf}}{{{caption}}}\n"

    def listing(self, node: Tag) -> str:
        env = "enumerate" if node.name == "ol" else "itemize"
        items = []
        for li in node.find_all("li", recursive=False):
            items.append("\\item " + self.blocks(li).strip())
        return f"\\begin{{{env}}}\n" + "\n".join(items) + f"\n\\end{{{env}}}\n"

    def admonition(self, node: Tag) -> str:
        title_node = node.find("p", class_="admonition-title")
        title = self.inline_children(title_node).strip() if title_node else ""
        if title_node:
            title_node.decompose()
        return f"\\begin{{admonition}}{{{title}}}\n" + self.blocks(node).strip() + "\n\\end{admonition}\n"

    def table(self, node: Tag) -> str:
        """表: 列の幅は中身の長さで分ける (longtable で、ページをまたげる)。"""
        head = [row.find_all(["th", "td"]) for row in node.select("thead tr")]
        body = [row.find_all(["th", "td"]) for row in node.select("tbody tr")]
        rows = head + body
        n = max(len(row) for row in rows)
        natural, minimum = [1.0] * n, [1.0] * n
        for row in rows:
            for index, cell in enumerate(row):
                wide, narrow = cell_width(cell)
                natural[index] = max(natural[index], wide)
                minimum[index] = max(minimum[index], narrow)
        spec = "".join(f">{{\\raggedright\\arraybackslash}}p{{{width:.3f}\\linewidth}}"
                       for width in column_widths(natural, minimum))

        def line(row, bold=False):
            cells = [self.inline_children(cell, in_table=True).strip() for cell in row]
            cells += [""] * (n - len(cells))
            if bold:
                cells = [f"\\textbf{{{cell}}}" if cell else cell for cell in cells]
            return " & ".join(cells) + r" \\"

        out = [f"\\begin{{longtable}}{{{spec}}}", r"\hline"]
        if head:
            out += [line(row, bold=True) for row in head] + [r"\hline", r"\endhead", r"\hline", r"\endfoot"]
        out += [line(row) for row in body] + [r"\hline", r"\end{longtable}"]
        return "\n".join(out) + "\n"

    # -- inline
    def inline_children(self, node: Tag, in_heading: bool = False, in_table: bool = False) -> str:
        return "".join(self.inline(child, in_heading, in_table) for child in node.children)

    def inline(self, node, in_heading: bool = False, in_table: bool = False) -> str:
        if isinstance(node, NavigableString):
            if type(node).__name__ in ("Comment", "Doctype", "Declaration", "ProcessingInstruction"):
                return ""
            return escape(str(node))
        name, cls = node.name, classes(node)
        if name == "span" and "arithmatex" in cls:
            return inline_math(node, in_heading)
        if name == "span" and "reference" in cls:
            return f"\\phantomsection\\label{{{self.labels[(self.page.url, node['id'])]}}}"
        if name == "code":
            return f"\\code{{{breakable(node.get_text())}}}"
        if name == "strong":
            return f"\\textbf{{{self.inline_children(node, in_heading, in_table)}}}"
        if name == "em":
            return f"\\emph{{{self.inline_children(node, in_heading, in_table)}}}"
        if name == "br":
            return r"\newline{}" if in_table else r"\\"
        if name == "a":
            return self.anchor(node, in_heading, in_table)
        if name == "img":
            return self.figure(node)
        if name in ("span", "abbr", "sup", "sub", "small"):
            inner = self.inline_children(node, in_heading, in_table)
            return {"sup": f"\\textsuperscript{{{inner}}}", "sub": f"\\textsubscript{{{inner}}}"}.get(name, inner)
        if name in BLOCK_TAGS:  # 表のセルやリストの中の段落
            return self.blocks(node).strip() + ("" if in_table else "\n\n")
        raise SystemExit(f"error: {self.page.src}: no LaTeX for inline <{name} class={cls}>")

    def anchor(self, node: Tag, in_heading: bool, in_table: bool) -> str:
        """リンク: 式の参照 → \\eqref、引用・ページへのリンク → \\hyperref、外のサイト → \\href。"""
        cls = classes(node)
        text = self.inline_children(node, in_heading, in_table)
        href = node.get("href", "")
        if "equation-ref" in cls:
            target = urlparse(href).fragment
            return f"\\eqref{{{target.replace('eq-', 'eq:', 1)}}}"
        if href.startswith(("http://", "https://")):
            shown = breakable(node.get_text()) if " " not in node.get_text() else text
            url = href.replace("\\", "%5C").replace("%", r"\%").replace("#", r"\#")
            return f"\\href{{{url}}}{{{shown}}}"
        target = urlparse(urljoin(BASE + self.page.url, href))
        path = unquote(target.path)[len(urlparse(BASE).path):]
        label = self.labels.get((path, unquote(target.fragment))) or self.labels.get((path, ""))
        if label is None:  # PDF にないページ (ノートブック・検証表・テストのソース・references.bib)
            return text
        return f"\\hyperref[{label}]{{{text}}}"


# ---- 全体 ---------------------------------------------------------------------------------------

def article(site: Path, page: Page) -> Tag:
    path = site / page.url / "index.html"
    if not path.is_file():
        raise SystemExit(f"error: built page {path} not found (is {site} a built site?)")
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    found = soup.find("article")
    if found is None:
        raise SystemExit(f"error: {path} has no <article>")
    return found


def heading_words(node: Tag) -> list[str]:
    """見出しの文字のうち数式の外の部分 (テストが pdftotext の出力で順に探す)。"""
    words, current = [], []
    for piece in node.descendants:
        if isinstance(piece, Tag) and "arithmatex" in classes(piece):
            words.append("".join(current))
            current = []
        elif isinstance(piece, NavigableString) and not any(
                "arithmatex" in classes(parent) for parent in piece.parents if isinstance(parent, Tag)):
            current.append(str(piece))
    words.append("".join(current))
    return [word.strip() for word in words if word.strip()]


def short_label(url: str, fragment: str) -> str:
    """ページ・見出しのラベル (ASCII で決定的)。"""
    return "p:" + hashlib.sha1(f"{url}#{fragment}".encode()).hexdigest()[:12]


def collect_labels(pages: list[Page], articles: dict[str, Tag]) -> dict[tuple[str, str], str]:
    """PDF に入るページの見出し・文献の id に LaTeX のラベルを割り当てる。"""
    labels = {}
    for page in pages:
        labels[(page.url, "")] = short_label(page.url, "")
        for node in articles[page.src].find_all(["h2", "h3", "h4"], id=True):
            labels[(page.url, node["id"])] = short_label(page.url, node["id"])
        for node in articles[page.src].select("span.reference[id]"):
            labels[(page.url, node["id"])] = "ref:" + node["id"].removeprefix("ref-")
    return labels


def to_latex(site: Path, config: dict) -> tuple[str, set[str], list[list[str]], list[str]]:
    """サイトの HTML から course.tex の中身を作る。戻り値: (tex, 図の名前, 見出しの順, 入れなかったページ)。"""
    home, chapters, appendix, left_out = layout(config["nav"])
    pages = [home] + [page for chapter in chapters for page in chapter.pages] + appendix
    articles = {page.src: article(site, page) for page in pages}
    labels = collect_labels(pages, articles)
    figures: set[str] = set()
    headings: list[list[str]] = []
    title = escape(config.get("site_name", "講義ノート"))
    parts = [PREAMBLE % {"title": title}]

    def add(page, levels):
        parts.append(f"%% ---- {page.src}\n")
        parts.append(PageConverter(page, labels, figures, headings, levels).convert(articles[page.src]))

    add(home, {"h1": "chapter*", "h2": "section*", "h3": "subsection*"})
    for chapter in chapters:
        parts.append(f"\\chapter{{{escape(chapter.title)}}}\n")
        headings.append([chapter.title])
        for page in chapter.pages:
            add(page, {"h1": "section", "h2": "subsection", "h3": "subsubsection", "h4": "paragraph"})
    parts.append("\\appendix\n")
    for page in appendix:
        add(page, {"h1": "chapter", "h2": "section", "h3": "subsection"})
    parts.append("\\end{document}\n")
    tex = "\n".join(parts)
    # PDF の /ID を中身から決める (既定は出力先のパスと時刻から作られ、同じソースでも PDF のバイト列が変わる)
    trailer = hashlib.sha256(tex.encode()).hexdigest()[:32].upper()
    tex = tex.replace("\\begin{document}", f"\\pdfvariable trailerid {{[<{trailer}> <{trailer}>]}}\n"
                      "\\begin{document}", 1)
    return tex, figures, headings, left_out


# ---- 図 -----------------------------------------------------------------------------------------

def render_figure_pdf(name: str) -> tuple[bytes, list[str]]:
    """登録された図の関数で描き、決定的な PDF (日付なし) にする。描画中に計算した結果の名前も返す。"""
    import io
    import warnings

    from gen_lib.core.cache import computed_names
    from gen_lib.core.plotting import enforce_min_font_size
    from gen_lib.figures import all_figures

    function = all_figures()[f"{name}.svg"]
    before = len(computed_names())
    fig = function(seed=0)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r"Glyph .* missing from font")
        enforce_min_font_size(fig)  # サイトの図と同じ大きさの文字
        fig.savefig(buffer, format="pdf", metadata={"CreationDate": None, "ModDate": None,
                                                    "Producer": None, "Creator": None})
    return buffer.getvalue(), computed_names()[before:]


def figure_digests(names: set[str]) -> dict[str, str]:
    """図ごとの鍵: 図のモジュールの import の閉包のソースとライブラリの版 (サイトの図のキャッシュと同じ)。"""
    from gen_lib.core.cache import source_digest as module_digest
    from gen_lib.figures import all_figures

    registry = all_figures()
    missing = sorted(name for name in names if f"{name}.svg" not in registry)
    if missing:
        raise SystemExit(f"error: figures {missing} are on the pages but not registered in gen_lib.figures")
    converter = hashlib.sha256(inspect.getsource(render_figure_pdf).encode()).hexdigest()  # 描き方
    return {name: hashlib.sha256((module_digest([registry[f"{name}.svg"].__module__]) + converter).encode())
            .hexdigest()[:20] for name in names}


def _initialize_worker() -> None:
    from hooks import build_workers

    build_workers.initialize()


def render_figures(names: set[str], out: Path, cache: Path) -> None:
    """図を out/figures/<名前>.pdf に置く。鍵の同じ PDF がキャッシュにあれば描かない。"""
    os.environ.setdefault("GEN_LIB_MODEL_CACHE", str(ROOT / ".cache" / "models"))
    os.environ.setdefault("MPLBACKEND", "Agg")
    digests = figure_digests(names)
    cache.mkdir(parents=True, exist_ok=True)
    missing = sorted(name for name in names if not (cache / f"{name}-{digests[name]}.pdf").exists())
    if missing:
        start = time.perf_counter()
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(cores, len(missing)), mp_context=context,
                                 initializer=_initialize_worker) as pool:
            for name, (pdf, computed) in zip(missing, pool.map(render_figure_pdf, missing)):
                if computed:
                    print(f"warning: figure {name} computed {sorted(set(computed))} while rendering "
                          "(build the site first so the experiments are cached)", file=sys.stderr)
                for stale in cache.glob(f"{name}-{'[0-9a-f]' * 20}.pdf"):
                    stale.unlink()
                (cache / f"{name}-{digests[name]}.pdf").write_bytes(pdf)
        print(f"figures: {len(missing)} rendered as PDF, {len(names) - len(missing)} from cache "
              f"({time.perf_counter() - start:.1f} s)")
    target = out / FIGURE_DIR
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in sorted(names):
        shutil.copyfile(cache / f"{name}-{digests[name]}.pdf", target / f"{name}.pdf")


# ---- LaTeX を走らせる -------------------------------------------------------------------------------

def compile_pdf(out: Path) -> float:
    """latexmk -lualatex で course.pdf を作り、秒数を返す。失敗したらログの末尾を出して止める。"""
    if shutil.which("latexmk") is None or shutil.which("lualatex") is None:
        raise SystemExit("error: latexmk/lualatex not found; install texlive-luatex texlive-lang-japanese "
                         "texlive-latex-recommended latexmk (scripts/setup.sh --test does)")
    start = time.perf_counter()
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")  # PDF の日付を固定する (同じバイト列)
    result = subprocess.run(["latexmk", "-lualatex", "-interaction=nonstopmode", "-halt-on-error",
                             TEX_NAME], cwd=out, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        log = (out / TEX_NAME).with_suffix(".log")
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:] if log.exists() else result.stdout[-3000:]
        raise SystemExit(f"error: latexmk failed (exit {result.returncode}) on {out / TEX_NAME}:\n{tail}")
    return time.perf_counter() - start


def page_count(pdf: Path) -> int | None:
    if shutil.which("pdfinfo") is None:
        return None
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    match = re.search(r"^Pages:\s+(\d+)", info, re.M)
    return int(match[1]) if match else None


def build_site(site: Path) -> None:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    print(f"==> mkdocs build --strict -d {site}")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-d", str(site)],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: mkdocs build --strict failed:\n{(result.stdout + result.stderr)[-5000:]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--site", type=Path, help="use this already built site (skip mkdocs build)")
    parser.add_argument("--out", type=Path, default=output_dir(ROOT),
                        help="output directory (default: $GEN_LIB_PDF_DIR or build/latex)")
    parser.add_argument("--figure-cache", type=Path, help="figure PDF cache (default: <out>/.figure-cache)")
    parser.add_argument("--tex-only", action="store_true", help="write course.tex and figures, no LaTeX run")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    digest = source_digest(ROOT)  # 作り始めたときのソース (途中で変われば、サイトは古い PDF として扱う)
    (out / STAMP_NAME).unlink(missing_ok=True)
    site = args.site
    if site is None:
        site = out / "site"
        build_site(site)
    config = read_config(ROOT / "mkdocs.yml")
    tex, figures, headings, left_out = to_latex(site.resolve(), config)
    (out / TEX_NAME).write_text(tex, encoding="utf-8")
    (out / "headings.json").write_text(json.dumps(headings, ensure_ascii=False, indent=1) + "\n",
                                       encoding="utf-8")
    print(f"==> {out / TEX_NAME}: {len(headings)} headings, {len(figures)} figures "
          f"(left out: {', '.join(left_out)})")
    render_figures(figures, out, args.figure_cache or out / ".figure-cache")
    if args.tex_only:
        return
    seconds = compile_pdf(out)
    pages = page_count(out / PDF_NAME)
    (out / STAMP_NAME).write_text(json.dumps({"digest": digest, "pages": pages}) + "\n", encoding="utf-8")
    print(f"==> {out / PDF_NAME}: {pages} pages (LaTeX {seconds:.0f} s, total {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
