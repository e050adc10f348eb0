"""第 1・2 章のページの数値は実験の結果からビルドが書き込む (hooks/page_values.py)。

ページの Jinja を、ビルドと同じ ``result``・``fmt``・``machine`` で描画し、参照する実験と結果の
キーが存在して数値に書式を付けられることを確かめる (キーの名前を変えたり結果の形を変えたりすると
失敗する)。描画した本文に、式の外で Jinja の書き残しがないことも確かめる。
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jinja2
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "hooks"))
import page_values  # noqa: E402

PAGES = sorted(p for p in [*ROOT.glob("docs/ch1/*.md"), *ROOT.glob("docs/ch2/*.md")]
               if p.name != "overview.md")
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def macro_pages() -> list[Path]:
    return [p for p in PAGES if (m := FRONT_MATTER.match(p.read_text(encoding="utf-8")))
            and "render_macros: true" in m.group(1)]


def render(page: Path) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.globals.update(result=page_values.result, machine=page_values.machine)
    env.filters["fmt"] = page_values.fmt
    return env.from_string(FRONT_MATTER.sub("", page.read_text(encoding="utf-8"))).render()


def test_pages_with_numbers_use_the_macros():
    assert len(macro_pages()) >= 5


@pytest.mark.parametrize("page", macro_pages(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_page_numbers_render_from_experiment_results(page):
    text = render(page)
    assert "{{" not in text and "{%" not in text
    assert 'result("' in page.read_text(encoding="utf-8")


def test_a_missing_result_key_fails_the_render(tmp_path):
    page = tmp_path / "bad.md"
    page.write_text('---\nrender_macros: true\n---\n{{ result("ch1_ebm.partition_errors")["no_such_key"] }}\n',
                    encoding="utf-8")
    with pytest.raises((KeyError, jinja2.UndefinedError)):
        render(page)
