"""第 1 章「記号一覧」の図: 後の章でも使うおもちゃの 2 次元分布。"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from gen_lib.figures import figure
from gen_lib.distributions.gaussian_mixture import asymmetric_mixture, ring_of_gaussians
from gen_lib.core.plotting import new_figure
from gen_lib.core.grid import plane_points


def grid_log_prob(mixture, lim: float, n: int = 301):
    """正方形 [-lim, lim]^2 の n×n 格子で log p(x) を計算する。(xs, log_p) を返す。"""
    xs = np.linspace(-lim, lim, n)
    grid = plane_points(xs)  # (n*n, 2): 行が点
    return xs, mixture.log_prob(grid).reshape(n, n)


@figure("ch1-notation-toy.svg")
def toy_distributions(seed: int = 0) -> Figure:
    """円周上の 8 峰の混合と非対称な 3 成分の混合: 厳密な log p(x) の等高線と標本。"""
    cases = [("円周上に並んだ 8 個のガウス分布", ring_of_gaussians(), 3.0),
             ("重みと形の違う 3 成分の混合", asymmetric_mixture(), 4.5)]
    fig, axes = new_figure(1, 2, width=9.0, height=4.5)
    for i, (ax, (title, mixture, lim)) in enumerate(zip(axes, cases)):
        xs, log_p = grid_log_prob(mixture, lim)
        h = xs[1] - xs[0]
        total = np.exp(log_p).sum() * h * h  # ∫ p(x) dx のリーマン和 (格子の外の確率は無視できる)
        top = np.ceil(log_p.max())
        levels = np.arange(top - 12.0, top + 0.5)  # log p が最大値から 12 下まで (それより下は同じ色)
        filled = ax.contourf(xs, xs, np.maximum(log_p, levels[0]), levels=levels, cmap="viridis")
        filled.set_rasterized(True)  # 塗りつぶしは画像として埋め込む (SVG を軽くする)
        x = mixture.sample(400, seed=seed + i)
        ax.scatter(x[:, 0], x[:, 1], s=4, c="white", edgecolors="black", linewidths=0.3, label="標本 $x^n$")
        ax.set(title=f"{title}\n" + r"格子上の数値積分 $\int p(x)\,dx \approx$" + f" {total:.4f}",
               xlabel="$x_1$", ylabel="$x_2$", xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
        ax.grid(False)
        ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
        fig.colorbar(filled, ax=ax, shrink=0.85, label=r"$\log p(x)$", ticks=levels[::2])
    return fig
