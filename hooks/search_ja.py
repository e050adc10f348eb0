"""MkDocs フック: 日本語の複合語を区切りなしで検索できるようにする。

Material の検索 (lunr) はクエリの各語に末尾 ``*`` を付けて前方一致で探す。
そこで各ページの漢字列・カタカナ列の「すべての接尾辞」を隠しフィールド ``kw`` として
索引に加える。これで「分配関数」「スケジュール」(ノイズスケジュールの一部) のような
語の途中から始まるクエリも見つかる。mkdocs.yml の search.fields で kw を宣言している。
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mkdocs.plugins import event_priority

_RUN = re.compile(r"[\u4e00-\u9fff々〆ヵヶ]{2,}|[\u30a0-\u30ffー]{2,}")
_TAG = re.compile(r"<[^>]+>")


def suffix_terms(text: str) -> list[str]:
    """漢字列・カタカナ列 (2 文字以上) のすべての接尾辞 (2 文字以上) を重複なく返す。"""
    terms: dict[str, None] = {}
    for run in _RUN.findall(_TAG.sub(" ", text)):
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
        doc["kw"] = " ".join(suffix_terms(doc.get("title", "") + " " + doc.get("text", "")))
    index_path.write_text(json.dumps(index, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
