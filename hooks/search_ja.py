"""MkDocs フック: 日本語の複合語を区切りなしで検索できるようにする。

Material の検索 (lunr) はクエリの各語に末尾 ``*`` を付けて前方一致で探す。
そこで各ページのカタカナ列の「すべての接尾辞」を隠しフィールド ``kw`` として索引に加える。
これで「スケジュール」(ノイズスケジュールの一部) のような語の途中から始まるクエリも見つかる。

漢字列はすべての部分文字列 (2 文字以上) を加える。Material はクエリの漢字列を、索引にある語の
うち「クエリより短い」ものへ分割してから探す (「分配関数」は索引に「分配関」があれば「分配関*」に
なり、なければ「分*」のような短すぎる語に崩れる)。部分文字列をすべて入れておけば、分割は
クエリから最後の 1 文字を除いた長い語になり、元の語をきちんと前方一致で見つける。
mkdocs.yml の search.fields で kw を宣言している。

用語集 (docs/glossary.md) の表の各行について、用語・英語・別の表記を、その行の「定義」のページの
フィールド ``glossary`` に入れる (mkdocs.yml で重みを大きくしてある)。読者が別の表記 (トゥイーディー、
Hyvarinen など) を入力しても、定義のページが上位に来る。
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mkdocs.plugins import event_priority

_KANJI_RUN = re.compile(r"[\u4e00-\u9fff々〆ヵヶ]{2,}")
_KATAKANA_RUN = re.compile(r"[\u30a0-\u30ffー]{2,}")
_TAG = re.compile(r"<[^>]+>")
_LINK = re.compile(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)")
GLOSSARY = "glossary.md"


def glossary_rows(path: Path) -> list[dict]:
    """用語集の表の行: ``term``, ``english``, ``forms`` (検索できる別の表記), ``avoid`` (ページで使わない表記),
    ``page`` (定義のページのソース、docs からの相対パス)。"""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or len(cells) != 5 or cells[0] in ("用語", "---"):
            continue
        link = _LINK.search(cells[4])
        if link is None:
            raise ValueError(f"{path.name}: the row for {cells[0]!r} has no link to its defining page")
        split = lambda cell: [form.strip() for form in re.split(r"、|, ", cell) if form.strip()]  # noqa: E731
        rows.append({"term": cells[0], "english": split(cells[1]), "forms": split(cells[2]),
                     "avoid": split(cells[3]), "page": link.group(1)})
    return rows


def page_location(source: str) -> str:
    """ページのソース (``ch2/score.md``) から検索の索引の location (``ch2/score/``) を作る。"""
    stem = source[: -len(".md")]
    return "" if stem == "index" else (stem[: -len("index")] if stem.endswith("/index") else stem + "/")


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
    extra: dict[str, list[str]] = {}  # 定義のページの location → 用語集の表記
    glossary = Path(config["docs_dir"]) / GLOSSARY
    if glossary.exists():
        for row in glossary_rows(glossary):
            extra.setdefault(page_location(row["page"]), []).extend([row["term"], *row["english"], *row["forms"]])
    for doc in index["docs"]:
        doc["kw"] = " ".join(search_terms(doc.get("title", "") + " " + doc.get("text", "")))
        forms = " ".join(extra.get(doc.get("location"), []))
        doc["glossary"] = " ".join([forms, *search_terms(forms)]) if forms else ""
    index_path.write_text(json.dumps(index, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
