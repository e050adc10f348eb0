"""hooks/search_ja.py が索引に加える語の作り方。"""

import importlib.util

from conftest import ROOT

spec = importlib.util.spec_from_file_location("search_ja", ROOT / "hooks" / "search_ja.py")
search_ja = importlib.util.module_from_spec(spec)
spec.loader.exec_module(search_ja)


def test_kanji_substrings_and_katakana_suffixes():
    terms = search_ja.search_terms("<p>分配関数とノイズスケジュール</p>")
    assert terms == ["分配", "分配関", "分配関数", "配関", "配関数", "関数",
                     "ノイズスケジュール", "イズスケジュール", "ズスケジュール", "スケジュール",
                     "ケジュール", "ジュール", "ュール", "ール"]


def test_tags_hiragana_and_single_characters_give_no_terms():
    assert search_ja.search_terms("<code>x</code> の と 字") == []
