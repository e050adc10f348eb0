"""MkDocs フック: 日本語の複合語を区切りなしで検索できるようにする。

Material の検索 (lunr) はクエリの各語に末尾 ``*`` を付けて前方一致で探す。
そこで各ページのカタカナ列の「すべての接尾辞」を隠しフィールド ``kw`` として索引に加える。
これで「スケジュール」(ノイズスケジュールの一部) のような語の途中から始まるクエリも見つかる。

漢字列はすべての部分文字列 (2 文字以上) を加える。Material はクエリの漢字列を、索引にある語の
うち「クエリより短い」ものへ分割してから探す (「分配関数」は索引に「分配関」があれば「分配関*」に
なり、なければ「分*」のような短すぎる語に崩れる)。部分文字列をすべて入れておけば、分割は
クエリから最後の 1 文字を除いた長い語になり、元の語をきちんと前方一致で見つける。
mkdocs.yml の search.fields で kw を宣言している。
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mkdocs.plugins import event_priority

_KANJI_RUN = re.compile(r"[\u4e00-\u9fff々〆ヵヶ]{2,}")
_KATAKANA_RUN = re.compile(r"[\u30a0-\u30ffー]{2,}")
_TAG = re.compile(r"<[^>]+>")


def search_terms(text: str) -> list[str]:
    """漢字列の部分文字列とカタカナ列の接尾辞 (どちらも 2 文字以上) を重複なく返す。"""
    text = _TAG.sub(" ", text)
    terms: dict[str, None] = {}
    for run in _KANJI_RUN.findall(text):
        for start in range(len(run) - 1):
            for end in range(start + 2, len(run) + 1):
                terms[run[start:end]] = None
    for run in _KATAKANA_RUN.findall(text):
        for start in range(len(run) - 1):
            terms[run[start:]] = None
    return list(terms)


@event_priority(-100)  # search プラグインが索引を書いた後に動く
def on_post_build(config):
    index_path = Path(config["site_dir"]) / "search" / "search_index.json"
    if not index_path.exists():
        return
    index = json.loads(index_path.read_text(encoding="utf-8"))
    for doc in index["docs"]:
        doc["kw"] = " ".join(search_terms(doc.get("title", "") + " " + doc.get("text", "")))
    index_path.write_text(json.dumps(index, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
