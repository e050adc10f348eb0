"""ページのソースそのものの検査 (ビルドしない): 制御文字がないこと、用語の表記が 1 つにそろっていること。"""

from __future__ import annotations

import importlib.util
import re

import pytest

from conftest import DOCS, ROOT, page_sources

_spec = importlib.util.spec_from_file_location("search_ja", ROOT / "hooks" / "search_ja.py")
search_ja = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(search_ja)
GLOSSARY = search_ja.glossary_rows(DOCS / "glossary.md")
# 用語集そのものと、正誤表 (原稿の表記を「原稿」の列に引く) は表記の検査から除く。
TERM_CHECKED = [p for p in page_sources() if p not in ("glossary.md", "errata.md")]

# タブ・改行以外の制御文字 (例えば "\theta" の "\t" がタブになった事故)。タブも本文には要らない。
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


@pytest.mark.parametrize("source", page_sources())
def test_no_control_characters(source):
    text = (DOCS / source).read_text(encoding="utf-8")
    bad = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if CONTROL.search(line)]
    assert bad == [], f"{source}: control characters on lines {[n for n, _ in bad]}: {bad[0][1][:80]!r}"


def test_control_character_check_can_fail():
    assert CONTROL.search("q_\theta") and not CONTROL.search(r"q_\theta")


def prose(text: str) -> str:
    """ページのソースから、コード (インラインの `…` と snippet の行) と式のラベルを除いた文。"""
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"\\label\{[^}]*\}|#eq:[a-z0-9-]+", " ", text)
    return "\n".join(line for line in text.splitlines() if "--8<--" not in line)


@pytest.mark.parametrize("source", TERM_CHECKED)
def test_pages_use_one_form_per_term(source):
    text = prose((DOCS / source).read_text(encoding="utf-8"))
    found = [(row["term"], form) for row in GLOSSARY for form in row["avoid"] if form in text]
    assert found == [], f"{source}: use the glossary's form instead of {found}"


def test_glossary_rows_are_complete():
    """用語集の各行に英語と定義のページがあり、定義のページは存在し、使わない表記は用語そのものと違う。"""
    assert len(GLOSSARY) >= 40
    for row in GLOSSARY:
        assert row["english"], row["term"]
        assert (DOCS / row["page"]).exists(), f"{row['term']}: {row['page']} does not exist"
        assert row["term"] not in row["avoid"], row["term"]
    terms = [row["term"] for row in GLOSSARY]
    assert len(terms) == len(set(terms)), "a term is listed twice"
