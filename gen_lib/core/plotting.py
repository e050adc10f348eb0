"""図の共通スタイルと、ビルドごとに同一バイトになる SVG 出力。

図を描く関数は ``new_figure`` で Figure を作り、``figure_to_svg`` でバイト列にする。
pyplot は使わない (グローバル状態を持たないため、ビルド中に何度呼んでも同じ結果になる)。
"""

from __future__ import annotations

import io
import warnings

import matplotlib
import numpy as np
import matplotlib_fontja  # noqa: F401  (日本語フォント IPAexGothic を登録する)
from matplotlib.figure import Figure
from matplotlib.text import Text

from gen_lib.core.validation import InputError

__all__ = ["new_figure", "draw_score_panel", "min_font_size", "enforce_min_font_size", "smallest_font_size",
           "figure_to_svg"]

# 日本語フォントを既定にする。スタイルを後からリセットするとこの設定が消えるので、
# rcParams.update はここ 1 か所だけで行う。
matplotlib.rcParams.update(
    {
        "font.family": "IPAexGothic",
        "axes.unicode_minus": False,
        "svg.hashsalt": "gen_lib",  # SVG 内の id をビルドごとに固定する
        "svg.fonttype": "path",  # 文字をパスで描く (閲覧側にフォント不要)
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "figure.dpi": 100,
    }
)

# 読める大きさ: 1280 px の窓で本文の列は 688 CSS px。SVG の幅 w pt は w × 4/3 px で表示され、列より広ければ
# 列の幅に縮む。どの文字も表示で 11 px 以上になるよう、figure_to_svg が小さすぎる文字を大きくする。
CONTENT_WIDTH_PX = 688.0
MIN_TEXT_PX = 11.0

DATA_COLOR = "#1f77b4"
MODEL_COLOR = "#d62728"
ACCENT_COLOR = "#2ca02c"


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float = 6.4, height: float = 4.0,
               **subplot_kw) -> tuple[Figure, object]:
    """``nrows × ncols`` の Axes を持つ Figure を作る (pyplot を使わない)。"""
    if nrows < 1 or ncols < 1:
        raise InputError(f"nrows and ncols must be >= 1, got nrows={nrows}, ncols={ncols}")
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, subplot_kw=subplot_kw or None)
    return fig, axes


def draw_score_panel(ax, arrows_at: np.ndarray, arrows: np.ndarray, *, lim: float, fine: np.ndarray,
                     log_p: np.ndarray, density_fractions, error: np.ndarray | None = None,
                     cap: float = 4.0, title: str = "", xlabel: str = "$x_1$"):
    """スコア場の 1 パネル: 誤差の地図 (log10、あれば)、密度の等高線、長さを cap で切った矢印。

    log_p は ``plane_points(fine)`` 上の対数密度を (n, n) にしたもの。等高線は最大値の
    density_fractions 倍の高さに引く。戻り値は誤差の画像 (カラーバー用、誤差がなければ None)。
    """
    extent = (-lim, lim, -lim, lim)
    image = None
    if error is not None:
        image = ax.imshow(np.log10(np.maximum(error, 1e-3)), origin="lower", extent=extent, cmap="Oranges",
                          vmin=-2, vmax=1.5, interpolation="none", alpha=0.6)
    ax.contour(fine, fine, log_p, levels=np.log(np.sort(np.asarray(density_fractions))) + log_p.max(),
               colors=DATA_COLOR, linewidths=1.0, linestyles="solid")
    norm = np.linalg.norm(arrows, axis=1, keepdims=True)
    capped = arrows * np.minimum(1.0, cap / np.maximum(norm, 1e-12))  # 向きは保ち、長さだけ切る
    ax.quiver(arrows_at[:, 0], arrows_at[:, 1], capped[:, 0], capped[:, 1], angles="xy", scale_units="xy",
              scale=cap / 0.4, width=0.004, color="0.15")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel=xlabel, title=title)
    ax.title.set_fontsize(9.5)
    ax.grid(False)
    return image


def min_font_size(fig: Figure) -> float:
    """この図の文字が表示で ``MIN_TEXT_PX`` 以上になる最小の文字の大きさ (pt)。

    幅 w pt の SVG は min(4w/3, ``CONTENT_WIDTH_PX``) px で表示されるので、1 pt は その幅 / w px になる。
    """
    width_pt = fig.get_figwidth() * 72.0
    shown_px = min(width_pt * 4.0 / 3.0, CONTENT_WIDTH_PX)
    return MIN_TEXT_PX * width_pt / shown_px


def enforce_min_font_size(fig: Figure) -> None:
    """図の中の文字 (目盛り・凡例・題・注記) のうち ``min_font_size(fig)`` より小さいものを大きくする。

    数式の添字は基の文字に比例して小さく描かれる (ここでは基の大きさだけをそろえる)。
    """
    smallest = min_font_size(fig)
    fig.draw_without_rendering()  # 目盛りの文字を作らせる
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for which in ("major", "minor"):
                ticks = axis.get_major_ticks() if which == "major" else axis.get_minor_ticks()
                if ticks and ticks[0].label1.get_fontsize() < smallest:
                    axis.set_tick_params(which=which, labelsize=smallest)
    for text in fig.findobj(Text):
        if text.get_fontsize() < smallest:
            text.set_fontsize(smallest)


def smallest_font_size(fig: Figure) -> float:
    """図に描かれる文字 (空でなく見えるもの) のうち最小の大きさ (pt)。"""
    fig.draw_without_rendering()
    sizes = [text.get_fontsize() for text in fig.findobj(Text) if text.get_visible() and text.get_text()]
    return min(sizes, default=float("inf"))


def figure_to_svg(fig: Figure) -> bytes:
    """Figure を決定的な SVG バイト列にする。

    日付のメタデータを入れず、``svg.hashsalt`` で id を固定するので、同じ図は同じバイト列になる。
    小さすぎる文字は ``enforce_min_font_size`` で大きくする (表示で 11 px 以上)。
    日本語の字形がフォントにない (豆腐になる) ときは ``ValueError`` を送出する。
    """
    if not isinstance(fig, Figure):
        raise InputError(f"expected a matplotlib Figure, got {type(fig).__name__}")
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r"Glyph .* missing from font")
        try:
            enforce_min_font_size(fig)
            # 最小の文字の大きさを SVG に書いておく (ブラウザのテストが表示の大きさを確かめる)
            fig.savefig(buffer, format="svg",
                        metadata={"Date": None, "Description": f"min-font-pt={smallest_font_size(fig):.2f}"})
        except UserWarning as warning:
            raise InputError(f"figure uses a character the font cannot draw: {warning}") from None
    return buffer.getvalue()
