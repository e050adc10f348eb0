"""第 1 章「エネルギーベースモデルと分配関数」の図。

計算は ``gen_lib.experiments.ch1_ebm`` が行い、ここでは結果を描くだけである。
"""

from __future__ import annotations

import numpy as np

from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch1_ebm import (PartitionSettings, ProductOfExpertsSettings, partition_errors,
                                         product_of_experts_example)
from gen_lib.figures import figure


@figure("ch1-ebm-partition.svg")
def partition_function_figure(seed: int = 0):
    """左: 9 点の台形則で γ(x) を積分する様子。右: 格子点数と log Z の誤差。"""
    del seed  # 乱数を使わない
    settings = PartitionSettings()
    result = partition_errors(settings)
    fig, (ax_left, ax_right) = new_figure(1, 2, width=10.0, height=3.8)

    ax_left.plot(result["x"], result["gamma"], color=MODEL_COLOR, label=r"$\gamma(x) = e^{-f(x)}$")
    ax_left.stem(result["shown_points"], result["shown_gamma"], linefmt="C0-", markerfmt="C0o",
                 basefmt=" ", label=f"台形則の格子点 ({settings.shown_points} 点)")
    ax_left.set_xlabel("$x$")
    ax_left.set_title(r"$Z=\int e^{-f(x)}dx$ を格子上の和で近似する")
    ax_left.legend(loc="upper left", fontsize=8)

    floor = 1e-17  # 誤差 0 を対数軸に描くための下限
    for dim, color, label in [(1, DATA_COLOR, "1 次元"), (2, MODEL_COLOR, "2 次元 (相関あり)")]:
        ax_right.semilogy(result["n_points"], np.maximum(result["errors"][dim], floor), "o-", ms=3,
                          color=color, label=label)
    ax_right.axhline(np.finfo(float).eps, color=ACCENT_COLOR, ls="--", lw=1, label="倍精度の丸め誤差")
    ax_right.set_xlabel(rf"1 軸あたりの格子点数 $n$ (範囲 $[-{settings.box:g}, {settings.box:g}]^d$)")
    ax_right.set_ylabel(r"$|\log Z_{\mathrm{grid}} - \log Z_{\mathrm{exact}}|$")
    ax_right.set_title("ガウス型エネルギーの分配関数: 数値積分と厳密値")
    ax_right.set_ylim(floor / 2, 10)
    ax_right.legend(fontsize=8)
    return fig


@figure("ch1-ebm-poe.svg")
def product_of_experts_figure(seed: int = 0):
    """専門家の積: エネルギーの和 f_1 + f_2 の密度は q_1 q_2 を正規化したものに一致する。"""
    del seed  # 乱数を使わない
    result = product_of_experts_example(ProductOfExpertsSettings())
    axis = result["axis"]
    fig, axes = new_figure(1, 3, width=11.0, height=3.9)
    panels = [(result["q1"], r"$q_1 \propto e^{-f_1}$ (二重井戸)"),
              (result["q2"], r"$q_2 \propto e^{-f_2}$ (ガウス)"),
              (result["q_sum"], r"$q \propto e^{-(f_1+f_2)}$ と $q_1 q_2$ (破線)")]
    for ax, (q, title) in zip(axes, panels):
        ax.contourf(axis, axis, q, levels=12, cmap="Blues")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("$x_1$")
        ax.set_aspect("equal")
        ax.grid(False)
    axes[0].set_ylabel("$x_2$")
    axes[2].contour(axis, axis, result["q_prod"], levels=6, colors=MODEL_COLOR, linestyles="--",
                    linewidths=1.0)
    fig.suptitle(f"エネルギーを足すと密度は掛け算になる "
                 f"(2 通りに正規化した密度の差の最大値 {result['gap']:.1e})", fontsize=11)
    return fig
