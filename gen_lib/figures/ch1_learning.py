"""第1章「学習手法」の図: 密度を評価できるモデルと、サンプラーしかないモデル。"""

from __future__ import annotations

import numpy as np

from gen_lib.figures import figure
from gen_lib.generative.maximum_likelihood import three_mode_mixture
from gen_lib.generative.maximum_likelihood import average_log_likelihood
from gen_lib.core.plotting import DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.core.validation import make_rng


def curve_sampler(n: int, seed=0) -> np.ndarray:
    r"""1 次元の潜在変数から 2 次元の点を作るサンプラー (暗黙的生成モデルの例)。

    $z \sim \mathcal{N}(0, 1)$, $x = g(z) = (2 \sin 1.2z,\ 1.5 \sin 2.4z)$。
    点は曲線の上にしか乗らないので、2 次元の密度 $q(x)$ は存在しない。
    """
    z = make_rng(seed).standard_normal(n)
    return np.stack([2.0 * np.sin(1.2 * z), 1.5 * np.sin(2.4 * z)], axis=1)


@figure("ch1-learning-two-families.svg")
def two_families_figure(seed: int = 0):
    """左: 尤度ベース (log q(x) を評価できる)。右: 暗黙的 (サンプルは作れるが q(x) は評価できない)。"""
    mixture = three_mode_mixture()
    data = mixture.sample(500, seed=seed)
    fig, (ax_left, ax_right) = new_figure(1, 2, width=10.0, height=4.4)

    axis = np.linspace(-3.5, 3.5, 141)
    x1, x2 = np.meshgrid(axis, axis, indexing="ij")
    density = np.exp(mixture.log_prob(np.stack([x1.ravel(), x2.ravel()], axis=1))).reshape(x1.shape)
    ax_left.contourf(x1, x2, density, levels=12, cmap="Blues")
    queries = np.array([[0.0, 1.5], [0.0, -0.3], [2.5, 2.6]])
    alignments = ["left", "left", "right"]
    for point, value, ha in zip(queries, mixture.log_prob(queries), alignments):
        ax_left.plot(*point, "o", color=MODEL_COLOR, ms=5)
        ax_left.annotate(rf"$\log q_\theta(x) = {value:.2f}$", point, textcoords="offset points",
                         xytext=(6 if ha == "left" else -6, 5), ha=ha, fontsize=9, color=MODEL_COLOR)
    l_value = average_log_likelihood(mixture.log_prob, data)
    ax_left.set_title(f"尤度ベース (ガウス混合): 任意の $x$ で $\\log q_\\theta(x)$ を計算できる\n"
                      f"(データ 500 点の平均対数尤度 $L$ = {l_value:.3f})", fontsize=10)

    samples = curve_sampler(2000, seed=seed)
    ax_right.scatter(samples[:, 0], samples[:, 1], s=2, color=DATA_COLOR, alpha=0.4)
    ax_right.set_title("暗黙的: サンプル $x = g_\\theta(z)$ は作れるが\n"
                       "$q_\\theta(x)$ の値も $L$ も計算できない", fontsize=10)
    for ax in (ax_left, ax_right):
        ax.set_xlim(-3.5, 3.5)
        ax.set_ylim(-3.5, 3.5)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.grid(False)
    return fig
