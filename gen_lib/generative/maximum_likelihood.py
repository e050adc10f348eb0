r"""最尤推定: 対数尤度とその勾配、エネルギーベースモデルの学習。

$$
L(\theta) = \frac1N \sum_{n=1}^N \log q_\theta(x^n)
           = -\frac1N \sum_{n=1}^N f_\theta(x^n) - \log Z(\theta)
$$

$$
\nabla_\theta L(\theta) = -\mathbb{E}_{\text{data}}[\nabla_\theta f_\theta(x)]
                           + \mathbb{E}_{q_\theta}[\nabla_\theta f_\theta(x)]
$$

2 次元までなら $Z(\theta)$ とモデル期待値 $\mathbb{E}_{q_\theta}$ を格子上で厳密に
(台形則の和として) 計算できる。高次元ではここがサンプリング (MCMC) による近似になる。
"""

from __future__ import annotations

# --8<-- [start:imports]
from dataclasses import dataclass

import numpy as np
import torch

from gen_lib.core.grid import Grid, make_grid
from gen_lib.core.nn import train
from gen_lib.core.numerics import logsumexp
from gen_lib.core.validation import (InputError, as_array, as_points, check_callable, check_count,
                                     check_positive)
from gen_lib.distributions.gaussian_mixture import isotropic_mixture
from gen_lib.generative.energy_model import PolynomialEnergy

# --8<-- [end:imports]

__all__ = ["average_log_likelihood", "ebm_log_likelihood", "model_weights", "log_likelihood_gradient",
           "FitResult", "fit_ebm", "three_mode_mixture", "training_setup"]


# --8<-- [start:average_log_likelihood]
def average_log_likelihood(log_prob, data) -> float:
    r"""$L(\theta) = \frac1N \sum_n \log q_\theta(x^n)$。

    log_prob は (N, d) → (N,) の関数。
    """
    check_callable(log_prob, name="log_prob", signature="(x)")
    data = as_points(data, name="data")
    values = np.asarray(log_prob(data), dtype=np.float64)
    if values.shape != (data.shape[0],):
        raise InputError(f"log_prob must return shape ({data.shape[0]},), "
                         f"got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise InputError("log_prob returned non-finite values "
                         "(a point outside the model's support?)")
    return float(values.mean())
# --8<-- [end:average_log_likelihood]


# --8<-- [start:check_inputs]
def _check_model(model, theta, grid):  # theta が None なら theta は確かめない
    if not isinstance(model, PolynomialEnergy):
        raise InputError(f"model must be a PolynomialEnergy, "
                         f"got {type(model).__name__}")
    if not isinstance(grid, Grid):
        raise InputError(f"grid must be a Grid (use make_grid), "
                         f"got {type(grid).__name__}")
    if grid.dim != model.dim:
        raise InputError(f"grid has dimension {grid.dim} but the model has "
                         f"dimension {model.dim}")
    if theta is not None:
        theta = as_array(theta, name="theta", ndim=1)
        if theta.shape != (model.n_features,):
            raise InputError(f"theta must have shape ({model.n_features},), "
                             f"got {theta.shape}")
    return theta


def _check_inputs(model, theta, data, grid):
    theta = _check_model(model, theta, grid)
    data = as_points(data, name="data", dim=model.dim)
    low = np.array([a[0] for a in grid.axes])
    high = np.array([a[-1] for a in grid.axes])
    if np.any(data < low) or np.any(data > high):
        raise InputError(f"every data point must lie inside the grid box "
                         f"[{low.tolist()}, {high.tolist()}] "
                         f"(the model's data space)")
    return theta, data
# --8<-- [end:check_inputs]


# --8<-- [start:ebm_log_likelihood]
def ebm_log_likelihood(model: PolynomialEnergy, theta, data,
                       grid: Grid) -> float:
    r"""$L(\theta) = -\frac1N \sum_n f_\theta(x^n) - \log Z(\theta)$。

    $\log Z(\theta) \approx \log \sum_j w_j e^{-f_\theta(x_j)}$ (格子の和)。
    """
    theta, data = _check_inputs(model, theta, data, grid)
    data_term = model.energy(data, theta).mean()
    # log Z(θ)
    log_z = logsumexp(-model.energy(grid.points, theta) + grid.log_weights)
    return float(-data_term - log_z)


def model_weights(model: PolynomialEnergy, theta, grid: Grid) -> np.ndarray:
    r"""格子点 $x_j$ のモデル確率。

    $\bar q_j = w_j e^{-f_\theta(x_j)} / \sum_k w_k e^{-f_\theta(x_k)}$。
    """
    theta = _check_model(model, theta, grid)
    # log(w_j e^{-f_θ(x_j)})
    a = -model.energy(grid.points, theta) + grid.log_weights
    return np.exp(a - logsumexp(a))


def log_likelihood_gradient(model: PolynomialEnergy, theta, data,
                            grid: Grid) -> np.ndarray:
    r"""$\nabla_\theta L = -\mathbb{E}_{\text{data}}[\phi(x)]
    + \mathbb{E}_{q_\theta}[\phi(x)]$ ($\nabla_\theta f_\theta = \phi$)。

    モデル期待値は格子上の厳密な和。
    """
    theta, data = _check_inputs(model, theta, data, grid)
    data_mean = model.features(data).mean(axis=0)  # E_data[∇_θ f_θ]
    # E_q[∇_θ f_θ]
    weights = model_weights(model, theta, grid)
    model_mean = weights @ model.features(grid.points)
    return -data_mean + model_mean
# --8<-- [end:ebm_log_likelihood]


# --8<-- [start:fit]
@dataclass(frozen=True)
class FitResult:
    theta: np.ndarray  # 学習後のパラメータ
    # 各反復の L(θ) (steps + 1,)。先頭は初期値 θ = 0 (箱上の一様分布)
    history: np.ndarray


def fit_ebm(model: PolynomialEnergy, data, grid: Grid, *, steps: int = 2000,
            learning_rate: float = 0.3) -> FitResult:
    r"""$L(\theta)$ を Adam で最大化する。

    損失 $-L(\theta)$ を講義の学習ループ ``train`` で下げる。
    $-L(\theta) = \frac1N \sum_n \theta^\top \phi(x^n)
    + \log \sum_j w_j e^{-\theta^\top \phi(x_j)}$ を torch で書けば、
    自動微分の勾配は $-\nabla_\theta L = \mathbb{E}_{\text{data}}[\phi]
    - \mathbb{E}_{q_\theta}[\phi]$ (上の恒等式) そのものになる。
    $\theta = 0$ から始め、全データを使うので乱数を使わない。
    """
    steps = check_count(steps, name="steps")
    learning_rate = check_positive(learning_rate, name="learning_rate")
    _, data = _check_inputs(model, None, data, grid)
    # E_data[φ] は θ に依らない。φ(x_j) (M, K) も一度だけ計算する
    data_mean = torch.from_numpy(model.features(data).mean(axis=0))
    phi_grid = torch.from_numpy(model.features(grid.points))
    log_weights = torch.from_numpy(grid.log_weights)
    # θ = 0: 箱の上の一様分布
    theta = torch.nn.Parameter(
        torch.zeros(model.n_features, dtype=torch.float64))

    def negative_log_likelihood(step: int) -> torch.Tensor:
        # log Z(θ)
        log_z = torch.logsumexp(-(phi_grid @ theta) + log_weights, dim=0)
        return data_mean @ theta + log_z  # -L(θ)

    losses = train(torch.nn.ParameterList([theta]), negative_log_likelihood,
                   steps=steps, lr=learning_rate)
    with torch.no_grad():
        final = negative_log_likelihood(steps).item()  # 最後の更新の後の -L(θ)
    history = -np.array([*losses["loss"], final])
    return FitResult(theta.detach().numpy().copy(), history)
# --8<-- [end:fit]


# ページの例の設定 (図・ノートブック・テストが同じ設定を使う)
BOX = 4.0


def three_mode_mixture():
    """3 つのモードを持つ 2 次元ガウス混合 (データ分布 p(x))。"""
    return isotropic_mixture([[-1.5, -0.8], [1.5, -0.8], [0.0, 1.5]], std=0.55)


def training_setup(seed: int = 0, n_data: int = 500, n_points: int = 61):
    """データ D (N=n_data)、箱 [-4, 4]^2 の格子、4 次多項式エネルギー。"""
    n_data = check_count(n_data, name="n_data")
    data = three_mode_mixture().sample(n_data, seed=seed)
    data = data[np.all(np.abs(data) <= BOX, axis=1)]  # モデルのデータ空間 (箱) の外の点は除く
    grid = make_grid([-BOX, -BOX], [BOX, BOX], n_points)
    model = PolynomialEnergy(dim=2, degree=4, scale=BOX)
    return data, grid, model
