"""第 2 章「スコア関数」の図: 1 次元のスコアと Z によらないこと、2 次元のスコアの場 (学習なし)。"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch2_score import score_by_normalizer, score_fields
from gen_lib.figures import figure


@figure("ch2-score-1d.svg")
def score_one_dimensional(seed: int = 0) -> Figure:
    """非正規化密度 γ = Z·p を Z = 0.5, 1, 2 で描き、そのスコア (自動微分) が 1 本に重なることを示す。"""
    result = score_by_normalizer()
    x, p = result["x"], result["density"]
    fig, (ax_p, ax_s) = new_figure(2, 1, width=6.4, height=5.0, sharex=True)
    styles = zip((DATA_COLOR, "0.2", MODEL_COLOR), ("-", "--", ":"))
    for (z, s), (color, ls) in zip(result["scores"].items(), styles):
        ax_p.plot(x, z * p, color=color, ls=ls, label=f"$\\gamma(x) = {z:g}\\,p(x)$")
        ax_s.plot(x, s, color=color, ls=ls, lw=2.2 if z == 0.5 else 1.5,
                  label=f"$-\\nabla_x f(x)$ ($Z = {z:g}$)")
    for z0 in result["zeros"]:
        ax_p.axvline(z0, color=ACCENT_COLOR, lw=0.8)
        ax_s.axvline(z0, color=ACCENT_COLOR, lw=0.8)
    ax_s.axhline(0.0, color="0.5", lw=0.8)
    ax_p.set(ylabel="非正規化密度", title="$Z$ を変えると密度の高さは変わる")
    ax_s.set(xlabel="$x$", ylabel="スコア $s(x)$", ylim=(-6, 6),
             title="スコアは同じ (緑の縦線: $s(x) = 0$、モードと谷底)")
    ax_p.legend(fontsize=8, loc="upper left")
    ax_s.legend(fontsize=8, loc="upper right")
    return fig


def _field_panel(ax, axis, arrows_at, field, title: str):
    lim = axis[-1]
    ax.contourf(axis, axis, field["density"], levels=12, cmap="Greys", alpha=0.6)
    s = field["score"]
    norm = np.linalg.norm(s, axis=1)
    unit = s / np.maximum(norm, 1e-12)[:, None]
    # 矢印の向きは s(x)、色は大きさ ‖s(x)‖ (対数目盛)。長さはそろえて向きを見やすくする。
    q = ax.quiver(arrows_at[:, 0], arrows_at[:, 1], unit[:, 0], unit[:, 1], norm, cmap="viridis",
                  norm=LogNorm(vmin=0.1, vmax=100.0), angles="xy", scale_units="xy", scale=3.2,
                  width=0.006)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel="$x_1$", ylabel="$x_2$", title=title)
    return q


@figure("ch2-score-field.svg")
def score_field(seed: int = 0) -> Figure:
    """円周上の 8 個のモードの混合と非対称な 3 つのモードの混合のスコアの場を、密度 (灰色の濃淡) に重ねる。"""
    result = score_fields()
    fig, axes = new_figure(1, 2, width=10.0, height=4.8)
    titles = {"ring": "円周上の 8 つのガウス分布", "asymmetric": "重みの違う 3 つのガウス分布"}
    for ax, (name, title) in zip(axes, titles.items()):
        q = _field_panel(ax, result["axis"], result["arrows_at"], result["fields"][name], title)
    fig.colorbar(q, ax=axes, label=r"スコアの大きさ $\|s(x)\|$", shrink=0.85)
    fig.suptitle(r"スコア $s(x) = \nabla_x \log p(x)$ の向き (矢印) と大きさ (色)", fontsize=11)
    return fig
