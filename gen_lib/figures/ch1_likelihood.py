"""第1章「学習手法」「尤度ベースモデル」の図。"""

from __future__ import annotations

import numpy as np

from gen_lib.figures import figure
from gen_lib.generative.maximum_likelihood import (average_log_likelihood, fit_ebm, model_weights, three_mode_mixture,
                                        training_setup)
from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure

@figure("ch1-likelihood-training.svg")
def likelihood_training_figure(seed: int = 0):
    """真の密度、学習した EBM の密度、学習中の対数尤度 L(θ)。"""
    data, grid, model = training_setup(seed)
    result = fit_ebm(model, data, grid, steps=2000, learning_rate=0.3)
    true_l = average_log_likelihood(three_mode_mixture().log_prob, data)

    x1, x2 = np.meshgrid(*grid.axes, indexing="ij")
    p_true = np.exp(three_mode_mixture().log_prob(grid.points)).reshape(grid.shape)
    q_model = (model_weights(model, result.theta, grid) / np.exp(grid.log_weights)).reshape(grid.shape)

    fig, axes = new_figure(1, 3, width=12.0, height=4.0)
    levels = np.linspace(0, max(p_true.max(), q_model.max()), 12)
    for ax, density, title in [(axes[0], p_true, "データ分布 $p(x)$ とデータ"),
                               (axes[1], q_model, r"学習した $q_\theta(x)$ とデータ")]:
        ax.contourf(x1, x2, density, levels=levels, cmap="Reds" if density is q_model else "Blues")
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
    steps = np.arange(len(result.history))
    ax.semilogx(steps[1:], result.history[1:], color=MODEL_COLOR, label=r"学習中の $L(\theta)$")
    ax.axhline(true_l, color=DATA_COLOR, ls="--", label=r"真の密度 $p$ での値")
    ax.axhline(result.history[0], color=ACCENT_COLOR, ls=":", label=r"初期値 ($\theta=0$, 一様分布)")
    ax.set_xlabel("反復回数 (対数軸)")
    ax.set_ylim(result.history[0] - 0.1, max(true_l, result.history[-1]) + 0.15)
    ax.set_ylabel(r"平均対数尤度 $L(\theta)$")
    ax.set_title("勾配上昇法 (Adam) による最尤推定", fontsize=10)
    ax.legend(fontsize=8, loc="center right")
    fig.suptitle(f"学習後 $L(\\theta)$ = {result.history[-1]:.3f}, "
                 f"真の密度の平均対数尤度 = {true_l:.3f} (同じ {len(data)} 点で計算)", fontsize=11)
    return fig
