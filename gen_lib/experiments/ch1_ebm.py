r"""第 1 章「エネルギーベースモデルと分配関数」の実験: 分配関数の数値積分の誤差と、専門家の積。

どちらも格子上の計算だけで、乱数も学習も使わない。
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from gen_lib.core.experiment import experiment
from gen_lib.core.grid import make_grid
from gen_lib.core.validation import InputError
from gen_lib.generative.energy_model import (double_well_energy, gaussian_log_partition, log_density_on_grid,
                                             log_partition_on_grid, normalize_on_grid, product_of_experts,
                                             quadratic_energy)

__all__ = ["PartitionSettings", "partition_errors", "ProductOfExpertsSettings", "product_of_experts_example"]


@dataclass(frozen=True)
class PartitionSettings:
    r"""ガウス型エネルギー $f(x) = \tfrac12 (x-\mu)^\top \Lambda (x-\mu)$ の $\log Z$ を台形則で求め、厳密値と比べる。"""

    mean_1d: float = 0.5  # μ, 1 次元の平均
    std_1d: float = 0.8  # σ, 1 次元の標準偏差 (Λ = 1/σ²)
    mean_2d: tuple[float, ...] = (0.5, -0.3)  # μ, 2 次元の平均
    covariance_2d: tuple[tuple[float, ...], ...] = ((0.8, 0.4), (0.4, 0.6))  # Σ = Λ^{-1}, 2 次元 (相関あり)
    box: float = 8.0  # 積分範囲 [-box, box]^d (質量のほぼすべてを含む)
    n_min: int = 3  # 1 軸あたりの格子点数 n の最小
    n_max: int = 60  # n の最大
    round_off: float = 1e-14  # これ未満の誤差を倍精度の丸め誤差の程度とみなす
    shown_box: float = 4.0  # 左の図で台形則の様子を描く範囲 [-shown_box, shown_box] (1 次元)
    shown_points: int = 9  # 左の図の格子点数


@experiment(PartitionSettings)
def partition_errors(settings: PartitionSettings) -> dict:
    r"""格子点数 $n$ ごとの $|\log Z_{\mathrm{grid}} - \log Z_{\mathrm{exact}}|$ (1 次元と 2 次元)。

    戻り値: ``n_points`` (n の列)、``errors`` ({1: (len,), 2: (len,)})、誤差が丸め誤差の程度
    (``round_off`` 未満) にとどまる最小の n ``n_round_off`` ({1: int, 2: int})、左の図のための
    ``x`` と $\gamma(x) = e^{-f(x)}$ (``gamma``)、粗い格子の点 ``shown_points`` とその値 ``shown_gamma``。
    """
    precisions = {1: np.array([[1.0 / settings.std_1d**2]]),
                  2: np.linalg.inv(np.array(settings.covariance_2d))}  # Λ
    means = {1: np.array([settings.mean_1d]), 2: np.array(settings.mean_2d)}
    n_points = np.arange(settings.n_min, settings.n_max + 1)
    errors = {}
    for dim in (1, 2):
        energy = partial(quadratic_energy, mean=means[dim], precision=precisions[dim])
        exact = gaussian_log_partition(precisions[dim])
        low, high = [-settings.box] * dim, [settings.box] * dim
        errors[dim] = np.array([abs(log_partition_on_grid(energy, make_grid(low, high, int(n))) - exact)
                                for n in n_points])
    energy_1d = partial(quadratic_energy, mean=means[1], precision=precisions[1])
    x = np.linspace(-settings.shown_box, settings.shown_box, 400)
    coarse = make_grid([-settings.shown_box], [settings.shown_box], settings.shown_points).points
    # それ以降のすべての n で誤差が round_off 未満になる最小の n
    first = {dim: int(np.max(np.flatnonzero(errors[dim] >= settings.round_off), initial=-1)) + 1
             for dim in (1, 2)}
    if max(first.values()) >= len(n_points):
        raise InputError(f"settings.n_max = {settings.n_max} is too small: the error does not fall below "
                         f"settings.round_off = {settings.round_off} by n = n_max")
    n_round_off = {dim: int(n_points[first[dim]]) for dim in (1, 2)}
    return {"n_points": n_points, "errors": errors, "n_round_off": n_round_off, "x": x, "gamma": np.exp(-energy_1d(x[:, None])),
            "shown_points": coarse[:, 0], "shown_gamma": np.exp(-energy_1d(coarse))}


@dataclass(frozen=True)
class ProductOfExpertsSettings:
    r"""専門家の積: 二重井戸 $f_1$ (x_1 = ±ξ にモード) と、右上に中心を持つガウス型エネルギー $f_2$。"""

    box: float = 3.0  # 格子の範囲 [-box, box]^2
    n_points: int = 121  # 格子の 1 軸あたりの点数
    well_height: float = 2.0  # κ, 二重井戸 f_1 の障壁の高さ
    well_center: float = 1.0  # ξ, 二重井戸 f_1 の谷の位置 x_1 = ±ξ
    gaussian_mean: tuple[float, ...] = (0.7, 0.6)  # μ, ガウス型エネルギー f_2 の平均
    gaussian_std: tuple[float, ...] = (1.0, 0.7)  # f_2 の軸ごとの標準偏差 (Λ = diag(1/std²))


@experiment(ProductOfExpertsSettings)
def product_of_experts_example(settings: ProductOfExpertsSettings) -> dict:
    r"""$q_1 \propto e^{-f_1}$, $q_2 \propto e^{-f_2}$, $q \propto e^{-(f_1 + f_2)}$ と、$q_1 q_2$ を正規化したもの。

    戻り値: ``axis`` (各軸の格子点)、``q1``, ``q2``, ``q_sum``, ``q_prod`` (どれも (n, n)、行が $x_2$)、
    2 通りに正規化した密度の差の最大値 ``gap`` $= \max_j |q(x_j) - \overline{q_1 q_2}(x_j)|$。
    """
    grid = make_grid([-settings.box] * 2, [settings.box] * 2, settings.n_points)
    f1 = partial(double_well_energy, height=settings.well_height, center=settings.well_center)
    f2 = partial(quadratic_energy, mean=np.array(settings.gaussian_mean),
                 precision=np.diag(1.0 / np.array(settings.gaussian_std) ** 2))
    log_q1, log_q2 = log_density_on_grid(f1, grid), log_density_on_grid(f2, grid)
    q_sum = np.exp(log_density_on_grid(product_of_experts(f1, f2), grid))  # exp(-f1-f2) を正規化
    q_prod = normalize_on_grid(log_q1 + log_q2, grid)  # q1 q2 を正規化

    def image(values):  # 格子の並び (x_1, x_2) を、行が x_2 の画像にする
        return values.reshape(grid.shape).T

    return {"axis": grid.axes[0], "q1": image(np.exp(log_q1)), "q2": image(np.exp(log_q2)),
            "q_sum": image(q_sum), "q_prod": image(q_prod), "gap": float(np.max(np.abs(q_sum - q_prod)))}
