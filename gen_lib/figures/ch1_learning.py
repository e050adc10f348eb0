"""第 1 章「学習手法」の図: 密度を評価できるモデルと、サンプラーしかないモデル。

計算は ``gen_lib.experiments.ch1_learning`` が行い、ここでは結果を描くだけである。
"""

from __future__ import annotations

from gen_lib.core.plotting import DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch1_learning import TwoFamiliesSettings, two_families
from gen_lib.figures import figure


@figure("ch1-learning-two-families.svg")
def two_families_figure(seed: int = 0):
    """左: 尤度ベース (log q(x) を評価できる)。右: 暗黙的 (サンプルは作れるが q(x) は評価できない)。"""
    settings = TwoFamiliesSettings(seed=seed)
    r = two_families(settings)
    fig, (ax_left, ax_right) = new_figure(1, 2, width=10.0, height=4.4)

    ax_left.contourf(r["axis"], r["axis"], r["density"], levels=12, cmap="Blues")
    alignments = ["left", "left", "right"]
    for point, value, ha in zip(r["queries"], r["query_log_prob"], alignments):
        ax_left.plot(*point, "o", color=MODEL_COLOR, ms=5)
        ax_left.annotate(rf"$\log q_\theta(x) = {value:.2f}$", point, textcoords="offset points",
                         xytext=(6 if ha == "left" else -6, 5), ha=ha, fontsize=9, color=MODEL_COLOR)
    ax_left.set_title(f"尤度ベース (ガウス混合): 任意の $x$ で $\\log q_\\theta(x)$ を計算できる\n"
                      f"(データ {r['n_data']} 点の平均対数尤度 $L$ = {r['log_likelihood']:.3f})", fontsize=10)

    samples = r["samples"]
    ax_right.scatter(samples[:, 0], samples[:, 1], s=2, color=DATA_COLOR, alpha=0.4)
    ax_right.set_title("暗黙的: サンプル $x = g_\\theta(z)$ は作れるが\n"
                       "$q_\\theta(x)$ の値も $L$ も計算できない", fontsize=10)
    for ax in (ax_left, ax_right):
        ax.set_xlim(-settings.lim, settings.lim)
        ax.set_ylim(-settings.lim, settings.lim)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.grid(False)
    return fig
