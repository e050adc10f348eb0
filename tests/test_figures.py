"""図: 登録された全図が決定的に描けること、フックのキャッシュと失敗時の振る舞い。"""

from __future__ import annotations

import importlib.util
import re

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from conftest import ROOT
from gen_lib.core.plotting import figure_to_svg, new_figure
from gen_lib.figures import all_figures, figure

spec = importlib.util.spec_from_file_location("build_workers", ROOT / "hooks" / "build_workers.py")
build_workers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_workers)


def test_every_figure_is_identical_to_the_built_one(site):
    """二度目の描画 (このプロセス) がビルドの図とバイト単位で一致する = ビルドごとに同じ図。"""
    figures = all_figures()
    assert figures, "no figure is registered"
    for name, function in figures.items():
        fig = function(seed=0)
        assert isinstance(fig, Figure), name
        assert figure_to_svg(fig) == (site.dir / "figures" / name).read_bytes(), f"{name} differs between builds"


def test_every_page_figure_is_registered():
    names = set(all_figures())
    for page in (ROOT / "docs").rglob("*.md"):
        for name in __import__("re").findall(r"figures/([a-z0-9\-]+\.svg)", page.read_text(encoding="utf-8")):
            assert name in names, f"{page.name} shows {name}, which no gen_lib function draws"


def test_missing_glyph_is_an_error():
    fig, ax = new_figure()
    ax.set_title("絵文字 \U0001F9EA は IPAexGothic にない")
    with pytest.raises(ValueError, match="cannot draw"):
        figure_to_svg(fig)


def test_japanese_text_renders():
    fig, ax = new_figure()
    ax.set_title("分配関数 $Z(\\theta)$ と拡散モデル")
    assert figure_to_svg(fig).startswith(b"<?xml")


@pytest.mark.parametrize("width", [4.0, 6.4, 12.0])
def test_small_text_is_enlarged_to_eleven_css_pixels(width):
    """どの文字も表示で 11 px 以上: 幅 w pt の SVG は min(4w/3, 688) px で表示される。"""
    fig, ax = new_figure(width=width, height=3.0)
    ax.plot([0, 1], [0, 1], label="a")
    ax.set_title("小さな題", fontsize=5)
    ax.legend(fontsize=4)
    ax.annotate("注", (0.5, 0.5), fontsize=3)
    ax.tick_params(labelsize=4)
    svg = figure_to_svg(fig).decode()
    width_pt = float(re.search(r'<svg[^>]*width="([0-9.]+)pt"', svg).group(1))
    smallest_pt = float(re.search(r"min-font-pt=([0-9.]+)", svg).group(1))
    shown_px = min(width_pt * 4 / 3, 688.0)
    assert smallest_pt * shown_px / width_pt >= 11.0 - 0.01
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    assert {"小さな題", "注", "a"} <= {t.get_text() for t in texts}
    assert min(t.get_fontsize() for t in texts) == pytest.approx(smallest_pt, abs=0.01)


def test_large_text_is_left_alone():
    fig, ax = new_figure(width=6.4, height=3.0)
    ax.set_title("大きな題", fontsize=20)
    figure_to_svg(fig)
    assert ax.title.get_fontsize() == 20


def test_figure_to_svg_rejects_non_figures():
    with pytest.raises(ValueError, match="matplotlib Figure"):
        figure_to_svg("not a figure")


def test_figure_names_are_checked():
    with pytest.raises(ValueError, match="lower-case-words.svg"):
        figure("Bad Name.png")


def _broken_figure(seed=0):
    raise KeyError("boom")


def test_worker_returns_the_error_type_and_message():
    """ワーカーの失敗は型とメッセージを持つ RuntimeError で親に届く (親が図の名前を付けて止める)。"""
    with pytest.raises(RuntimeError, match=r"^KeyError: 'boom'$"):
        build_workers.render_figure(__name__, "_broken_figure")
