"""第1章「エネルギーベースモデルと分配関数」の図。"""

from __future__ import annotations

from functools import partial

import numpy as np

from gen_lib.generative.energy_model import double_well_energy, gaussian_log_partition, log_density_on_grid, log_partition_on_grid, normalize_on_grid, product_of_experts, quadratic_energy
from gen_lib.core.grid import make_grid
from gen_lib.figures import figure
from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure

# 1 次元と 2 次元のガウス型エネルギー f(x) = ½ (x-μ)^T Λ (x-μ)
MEAN_1D = np.array([0.5])
PRECISION_1D = np.array([[1 / 0.8**2]])
MEAN_2D = np.array([0.5, -0.3])
PRECISION_2D = np.linalg.inv(np.array([[0.8, 0.4], [0.4, 0.6]]))
BOX = 8.0  # 積分範囲 [-8, 8]^d (質量のほぼすべてを含む)


def partition_errors(n_points_list, dim: int) -> np.ndarray:
    """格子点数ごとの |log Z (台形則) - log Z (厳密)|。"""
    mean, precision = (MEAN_1D, PRECISION_1D) if dim == 1 else (MEAN_2D, PRECISION_2D)
    energy = partial(quadratic_energy, mean=mean, precision=precision)
    exact = gaussian_log_partition(precision)
    errors = []
    for n in n_points_list:
        grid = make_grid([-BOX] * dim, [BOX] * dim, int(n))
        errors.append(abs(log_partition_on_grid(energy, grid) - exact))
    return np.array(errors)


@figure("ch1-ebm-partition.svg")
def partition_function_figure(seed: int = 0):
    """左: 9 点の台形則で γ(x) を積分する様子。右: 格子点数と log Z の誤差。"""
    fig, (ax_left, ax_right) = new_figure(1, 2, width=10.0, height=3.8)

    energy = partial(quadratic_energy, mean=MEAN_1D, precision=PRECISION_1D)
    x = np.linspace(-4, 4, 400)[:, None]
    ax_left.plot(x[:, 0], np.exp(-energy(x)), color=MODEL_COLOR, label=r"$\gamma(x) = e^{-f(x)}$")
    coarse = make_grid([-4.0], [4.0], 9)
    ax_left.stem(coarse.points[:, 0], np.exp(-energy(coarse.points)), linefmt="C0-", markerfmt="C0o",
                 basefmt=" ", label="台形則の格子点 (9 点)")
    ax_left.set_xlabel("$x$")
    ax_left.set_title(r"$Z=\int e^{-f(x)}dx$ を格子上の和で近似する")
    ax_left.legend(loc="upper left", fontsize=8)

    ns = np.arange(3, 61)
    floor = 1e-17  # 誤差 0 を対数軸に描くための下限
    for dim, color, label in [(1, DATA_COLOR, "1 次元"), (2, MODEL_COLOR, "2 次元 (相関あり)")]:
        ax_right.semilogy(ns, np.maximum(partition_errors(ns, dim), floor), "o-", ms=3,
                          color=color, label=label)
    ax_right.axhline(np.finfo(float).eps, color=ACCENT_COLOR, ls="--", lw=1, label="倍精度の丸め誤差")
    ax_right.set_xlabel(r"1 軸あたりの格子点数 $n$ (範囲 $[-8, 8]^d$)")
    ax_right.set_ylabel(r"$|\log Z_{\mathrm{grid}} - \log Z_{\mathrm{exact}}|$")
    ax_right.set_title("ガウス型エネルギーの分配関数: 数値積分と厳密値")
    ax_right.set_ylim(floor / 2, 10)
    ax_right.legend(fontsize=8)
    return fig


# 専門家の積: 二重井戸 (x_1 = ±1 に山) と、右上に中心を持つガウス型エネルギー
POE_GAUSSIAN_MEAN = np.array([0.7, 0.6])
POE_GAUSSIAN_PRECISION = np.diag([1 / 1.0**2, 1 / 0.7**2])


def product_of_experts_example(n_points: int = 121):
    """格子と 3 つの密度 q_1, q_2, q (f_1 + f_2 から) と、q_1 q_2 を正規化したもの。"""
    grid = make_grid([-3.0, -3.0], [3.0, 3.0], n_points)
    f1 = partial(double_well_energy, height=2.0, center=1.0)
    f2 = partial(quadratic_energy, mean=POE_GAUSSIAN_MEAN, precision=POE_GAUSSIAN_PRECISION)
    q1 = np.exp(log_density_on_grid(f1, grid))
    q2 = np.exp(log_density_on_grid(f2, grid))
    q_sum = np.exp(log_density_on_grid(product_of_experts(f1, f2), grid))  # exp(-f1-f2) を正規化
    q_prod = normalize_on_grid(np.log(q1) + np.log(q2), grid)  # q1 q2 を正規化
    return grid, q1, q2, q_sum, q_prod


@figure("ch1-ebm-poe.svg")
def product_of_experts_figure(seed: int = 0):
    """専門家の積: エネルギーの和 f_1 + f_2 の密度は q_1 q_2 を正規化したものに一致する。"""
    grid, q1, q2, q_sum, q_prod = product_of_experts_example()
    shape = grid.shape
    x1, x2 = np.meshgrid(*grid.axes, indexing="ij")
    fig, axes = new_figure(1, 3, width=11.0, height=3.9)
    panels = [(q1, r"$q_1 \propto e^{-f_1}$ (二重井戸)"),
              (q2, r"$q_2 \propto e^{-f_2}$ (ガウス)"),
              (q_sum, r"$q \propto e^{-(f_1+f_2)}$ と $q_1 q_2$ (破線)")]
    for ax, (q, title) in zip(axes, panels):
        ax.contourf(x1, x2, q.reshape(shape), levels=12, cmap="Blues")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("$x_1$")
        ax.set_aspect("equal")
        ax.grid(False)
    axes[0].set_ylabel("$x_2$")
    axes[2].contour(x1, x2, q_prod.reshape(shape), levels=6, colors=MODEL_COLOR, linestyles="--",
                    linewidths=1.0)
    gap = np.max(np.abs(q_sum - q_prod))
    fig.suptitle(f"エネルギーを足すと密度は掛け算になる "
                 f"(2 通りに正規化した密度の差の最大値 {gap:.1e})", fontsize=11)
    return fig
