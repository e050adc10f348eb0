"""図: 登録された全図が決定的に描けること、フックのキャッシュと失敗時の振る舞い。"""

from __future__ import annotations

import importlib.util

import pytest
from matplotlib.figure import Figure

from conftest import ROOT
from gen_lib.figures import all_figures, figure
from gen_lib.core.plotting import figure_to_svg, new_figure

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
