r"""エネルギーベースモデルと分配関数。

$$
q_\theta(x) = \frac{\gamma_\theta(x)}{Z(\theta)}, \qquad
\gamma_\theta(x) = \exp(-f_\theta(x)), \qquad
Z(\theta) = \int_{\mathcal{X}} \exp(-f_\theta(x))\, dx
$$

低次元 (1 次元・2 次元) では $Z(\theta)$ を格子上の数値積分 (台形則) で計算できる。
桁あふれを避けるため、$Z$ ではなく $\log Z$ を log-sum-exp で計算する。
エネルギー関数は「形 (N, d) の点 → 形 (N,) のエネルギー」という関数で表す。
"""

from __future__ import annotations

# --8<-- [start:imports]
import math
from dataclasses import dataclass

import numpy as np

from gen_lib.core.grid import Grid
from gen_lib.core.numerics import logsumexp
from gen_lib.core.types import Energy
from gen_lib.core.validation import (InputError, as_array, as_points, check_callable, check_count,
                                     check_finite_result, check_positive)

# --8<-- [end:imports]

__all__ = ["quadratic_energy", "double_well_energy", "energy_on_grid", "log_partition_on_grid",
           "gaussian_log_partition", "log_density_on_grid", "product_of_experts", "normalize_on_grid",
           "gaussian_product", "PolynomialEnergy"]


# --8<-- [start:check_precision]
def _check_precision(precision, dim: int | None = None, name: str = "precision") -> np.ndarray:
    """精度行列 Λ が対称正定値であることを確かめる。"""
    lam = as_array(precision, name=name, ndim=2)
    square = lam.shape[0] == lam.shape[1]
    if not square or (dim is not None and lam.shape != (dim, dim)):
        expected = ("a square matrix" if dim is None
                    else f"shape ({dim}, {dim})")
        raise InputError(f"{name} must be {expected}, "
                         f"got shape {lam.shape}")
    if not np.allclose(lam, lam.T):
        raise InputError(f"{name} must be symmetric positive definite, "
                         "got a non-symmetric matrix")
    eigenvalues = np.linalg.eigvalsh(lam)
    if eigenvalues.min() <= 0:
        raise InputError(f"{name} must be symmetric positive definite, "
                         f"got smallest eigenvalue {eigenvalues.min():.3g}")
    return lam
# --8<-- [end:check_precision]


# --8<-- [start:energies]
def quadratic_energy(x, mean, precision) -> np.ndarray:
    r"""ガウス分布のエネルギー $f(x) = \tfrac12 (x-\mu)^\top \Lambda (x-\mu)$。

    形 (N,)。
    """
    mu = as_array(mean, name="mean", ndim=1)
    if mu.size < 1:
        raise InputError(f"mean must hold at least one coordinate, got shape {mu.shape}")
    lam = _check_precision(precision, dim=mu.size)
    x = as_points(x, dim=mu.size)
    diff = x - mu
    with np.errstate(over="ignore", invalid="ignore"):
        return check_finite_result(0.5 * np.einsum("ni,ij,nj->n", diff, lam, diff), name="x", source=x)


def double_well_energy(x, height: float = 2.0,
                       center: float = 1.0) -> np.ndarray:
    r"""二重井戸 $f(x) = \kappa\,((x_1/\xi)^2 - 1)^2 + \tfrac12 \sum_{i \ge 2} x_i^2$。

    障壁の高さ $\kappa$ = height、谷の位置 $\xi$ = center。

    $x_1 = \pm \xi$ でエネルギーが最小 (確率が最大) になり、1 次元ならモードが 2 つの分布になる。
    """
    height = check_positive(height, name="height")
    center = check_positive(center, name="center")
    x = as_points(x)
    with np.errstate(over="ignore"):
        well = height * ((x[:, 0] / center) ** 2 - 1.0) ** 2
        return check_finite_result(well + 0.5 * np.sum(x[:, 1:] ** 2, axis=1), name="x", source=x)
# --8<-- [end:energies]


# --8<-- [start:log_partition]
def energy_on_grid(energy: Energy, grid: Grid) -> np.ndarray:
    """格子点上のエネルギー $f(x_j)$ を計算し、形と有限性を確かめる。形 (M,)。"""
    if not isinstance(grid, Grid):
        raise InputError(f"grid must be a Grid (use make_grid), "
                         f"got {type(grid).__name__}")
    check_callable(energy, name="energy", signature="(x)")
    values = np.asarray(energy(grid.points), dtype=np.float64)
    m = grid.points.shape[0]
    if values.shape != (m,):
        raise InputError(f"energy must map (M, d) points to shape (M,), "
                         f"got {values.shape} for M={m}")
    if not np.all(np.isfinite(values)):
        raise InputError(f"energy must be finite on the grid, got "
                         f"{np.count_nonzero(~np.isfinite(values))} "
                         f"non-finite value(s)")
    return values


def log_partition_on_grid(energy: Energy, grid: Grid) -> float:
    r"""$\log Z = \log \int e^{-f(x)} dx \approx \log \sum_j w_j e^{-f(x_j)}$。

    log-sum-exp で計算する。
    """
    return logsumexp(-energy_on_grid(energy, grid) + grid.log_weights)


def gaussian_log_partition(precision) -> float:
    r"""二次エネルギーの厳密な $\log Z$。

    $\log Z = \tfrac d2 \log 2\pi - \tfrac12 \log\det\Lambda$。
    """
    lam = _check_precision(precision)
    d = lam.shape[0]
    _, log_det = np.linalg.slogdet(lam)
    return 0.5 * d * math.log(2 * math.pi) - 0.5 * log_det


def log_density_on_grid(energy: Energy, grid: Grid) -> np.ndarray:
    r"""正規化した対数密度 $\log q(x_j) = -f(x_j) - \log Z$。形 (M,)。"""
    f = energy_on_grid(energy, grid)
    return -f - logsumexp(-f + grid.log_weights)
# --8<-- [end:log_partition]


# --8<-- [start:product_of_experts]
def product_of_experts(*energies: Energy) -> Energy:
    r"""エネルギーの和 $f(x) = \sum_k f_k(x)$。

    密度は積になる: $q(x) \propto \prod_k q_k(x)$。
    """
    if len(energies) < 1 or not all(callable(f) for f in energies):
        raise InputError(f"product_of_experts needs at least one callable "
                         f"energy, got {energies!r}")

    def energy(x):
        return sum(np.asarray(f(x), dtype=np.float64) for f in energies)

    return energy


def normalize_on_grid(log_gamma, grid: Grid) -> np.ndarray:
    r"""格子上の非正規化対数密度 $\log\gamma(x_j)$ から密度 $\gamma(x_j)/Z$ を作る。

    形 (M,)。
    """
    if not isinstance(grid, Grid):
        raise InputError(f"grid must be a Grid (use make_grid), "
                         f"got {type(grid).__name__}")
    log_gamma = as_array(log_gamma, name="log_gamma", ndim=1)
    if log_gamma.shape != grid.log_weights.shape:
        raise InputError(f"log_gamma must have shape "
                         f"{grid.log_weights.shape}, got {log_gamma.shape}")
    return np.exp(log_gamma - logsumexp(log_gamma + grid.log_weights))


def gaussian_product(mean1, precision1, mean2,
                     precision2) -> tuple[np.ndarray, np.ndarray]:
    r"""ガウス分布 2 つの積の平均と精度: $\Lambda = \Lambda_1 + \Lambda_2$,
    $\mu = \Lambda^{-1}(\Lambda_1 \mu_1 + \Lambda_2 \mu_2)$。"""
    mu1 = as_array(mean1, name="mean1", ndim=1)
    mu2 = as_array(mean2, name="mean2", ndim=1)
    if mu1.shape != mu2.shape:
        raise InputError(f"mean1 and mean2 must have the same shape, "
                         f"got {mu1.shape} and {mu2.shape}")
    lam1 = _check_precision(precision1, dim=mu1.size, name="precision1")
    lam2 = _check_precision(precision2, dim=mu1.size, name="precision2")
    lam = lam1 + lam2
    return np.linalg.solve(lam, lam1 @ mu1 + lam2 @ mu2), lam
# --8<-- [end:product_of_experts]


# --8<-- [start:polynomial_energy]
@dataclass(frozen=True)
class PolynomialEnergy:
    r"""特徴量について線形なエネルギー $f_\theta(x) = \theta^\top \phi(x)$。

    $\phi(x)$ は $u = x / s$ の単項式 $u_1^{a} u_2^{b}$ ($1 \le a + b \le$ degree)。
    $\partial f_\theta / \partial \theta = \phi(x)$ なので、対数尤度の勾配が見やすい。
    モデルのデータ空間は有界な箱 (Grid) とし、どんな $\theta$ でも $Z(\theta)$ は有限である。
    """

    dim: int = 2
    degree: int = 4
    scale: float = 1.0  # s: 単項式の値が大きくなりすぎないように座標を割る

    def __post_init__(self):
        check_count(self.dim, name="dim")
        check_count(self.degree, name="degree")
        check_positive(self.scale, name="scale")

    @property
    def exponents(self) -> np.ndarray:
        """各特徴の指数 (K, d)。

        定数項 (指数がすべて 0) は $Z$ で打ち消されるので除く。
        """
        orders = [np.arange(self.degree + 1)] * self.dim
        grids = np.meshgrid(*orders, indexing="ij")
        e = np.stack([g.ravel() for g in grids], axis=1)
        total = e.sum(axis=1)
        e = e[(total >= 1) & (total <= self.degree)]
        return e[np.lexsort((-e[:, 0], e.sum(axis=1)))]  # 次数の低い順

    @property
    def n_features(self) -> int:
        return self.exponents.shape[0]

    def features(self, x) -> np.ndarray:
        r"""$\phi(x)$。形 (N, K)。"""
        u = as_points(x, dim=self.dim) / self.scale
        with np.errstate(over="ignore", invalid="ignore"):
            # (N, d, degree+1): u_i^k
            powers = u[:, :, None] ** np.arange(self.degree + 1)
            # 特徴 k は Π_i u_i^{e_ki}
            axes = np.arange(self.dim)[None, :]
            return check_finite_result(np.prod(powers[:, axes, self.exponents], axis=2), name="x", source=u)

    def energy(self, x, theta) -> np.ndarray:
        r"""$f_\theta(x) = \theta^\top \phi(x)$。形 (N,)。"""
        theta = as_array(theta, name="theta", ndim=1)
        if theta.shape != (self.n_features,):
            raise InputError(f"theta must have shape ({self.n_features},), "
                             f"got {theta.shape}")
        with np.errstate(over="ignore", invalid="ignore"):
            return check_finite_result(self.features(x) @ theta, name="x or theta")
# --8<-- [end:polynomial_energy]
