"""第 1 章「尤度ベースモデル」の図: エネルギーベースモデルの最尤推定。

計算 (学習) は ``gen_lib.experiments.ch1_likelihood`` が行い、ここでは結果を描くだけである。
"""

from __future__ import annotations

import numpy as np

from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch1_likelihood import EbmFitSettings, ebm_fit
from gen_lib.figures import figure


@figure("ch1-likelihood-training.svg")
def likelihood_training_figure(seed: int = 0):
    """真の密度、学習した EBM の密度、学習中の対数尤度 L(θ)。"""
    r = ebm_fit(EbmFitSettings(seed=seed))
    data, axis, history, true_l = r["data"], r["axis"], r["history"], r["true_log_likelihood"]

    fig, axes = new_figure(1, 3, width=12.0, height=4.0)
    levels = np.linspace(0, max(r["p_true"].max(), r["q_model"].max()), 12)
    for ax, density, cmap, title in [(axes[0], r["p_true"], "Blues", "データ分布 $p(x)$ とデータ"),
                                     (axes[1], r["q_model"], "Reds", r"学習した $q_\theta(x)$ とデータ")]:
        ax.contourf(axis, axis, density, levels=levels, cmap=cmap)
        ax.scatter(data[:, 0], data[:, 1], s=2, color="k", alpha=0.5, label=f"データ ({len(data)} 点)")
        ax.set_xlim(-3.5, 3.5)
        ax.set_ylim(-3.5, 3.5)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.grid(False)
    axes[0].legend(loc="lower right", fontsize=8)

    ax = axes[2]
    steps = np.arange(len(history))
    ax.semilogx(steps[1:], history[1:], color=MODEL_COLOR, label=r"学習中の $L(\theta)$")
    ax.axhline(true_l, color=DATA_COLOR, ls="--", label=r"真の密度 $p$ での値")
    ax.axhline(history[0], color=ACCENT_COLOR, ls=":", label=r"初期値 ($\theta=0$, 一様分布)")
    ax.set_xlabel("反復回数 (対数軸)")
    ax.set_ylim(history[0] - 0.1, max(true_l, history[-1]) + 0.15)
    ax.set_ylabel(r"平均対数尤度 $L(\theta)$")
    ax.set_title("勾配上昇法 (Adam) による最尤推定", fontsize=10)
    ax.legend(fontsize=8, loc="center right")
    fig.suptitle(f"学習後 $L(\\theta)$ = {history[-1]:.3f}, "
                 f"真の密度の平均対数尤度 = {true_l:.3f} (同じ {len(data)} 点で計算)", fontsize=11)
    return fig
