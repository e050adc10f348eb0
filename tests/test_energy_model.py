"""エネルギーベースモデルと分配関数 (docs/ch1/ebm.md) の式を数値で確かめる。"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest

from gen_lib.generative.energy_model import PolynomialEnergy, double_well_energy, energy_on_grid, gaussian_log_partition, gaussian_product, log_density_on_grid, log_partition_on_grid, normalize_on_grid, product_of_experts, quadratic_energy
from gen_lib.core.grid import Grid, make_grid

MU_1D, SIGMA_1D = np.array([0.5]), 0.8
LAM_1D = np.array([[1 / SIGMA_1D**2]])
MU_2D = np.array([0.5, -0.3])
COV_2D = np.array([[0.8, 0.4], [0.4, 0.6]])
LAM_2D = np.linalg.inv(COV_2D)


def gaussian_1d(n_points, low=-10.0, high=10.0):
    grid = make_grid([low], [high], n_points)
    return log_partition_on_grid(partial(quadratic_energy, mean=MU_1D, precision=LAM_1D), grid)


# ---- 分配関数: 数値積分と厳密値 ------------------------------------------------------------

@pytest.mark.equation("eq:gaussian-partition")
def test_gaussian_log_partition_closed_form_matches_textbook_values():
    # 1 次元: Z = sqrt(2π) σ。2 次元: Z = 2π sqrt(det Σ)。
    assert gaussian_log_partition(LAM_1D) == pytest.approx(math.log(math.sqrt(2 * math.pi) * SIGMA_1D), abs=1e-14)
    assert gaussian_log_partition(LAM_2D) == pytest.approx(
        math.log(2 * math.pi * math.sqrt(np.linalg.det(COV_2D))), abs=1e-14)


@pytest.mark.equation("eq:partition-quadrature", "eq:gaussian-partition")
def test_log_partition_1d_quadrature_matches_closed_form():
    # 箱 [-10, 10] は平均から 11.9σ 以上: 箱の外の質量は 1e-32 程度。
    # 台形則の誤差はポアソンの和公式から 2 exp(-2π²σ²/h²)、h = 0.1 では exp(-1263) で 0。
    # 残るのは浮動小数点の丸めだけなので 1e-12 で比べられる。
    assert gaussian_1d(201) == pytest.approx(gaussian_log_partition(LAM_1D), abs=1e-12)


@pytest.mark.equation("eq:partition-quadrature")
def test_trapezoid_error_follows_poisson_summation():
    # 間隔 h の台形則でガウス関数を(実質無限の範囲で)積分すると、ポアソンの和公式より
    # Σ_j h γ(x_j) = Z [1 + 2 Σ_k exp(-2π²k²σ²/h²) cos(2πk(μ - x_0)/h)]。粗い格子で確かめる。
    low, high, n = -10.0, 10.0, 13
    h = (high - low) / (n - 1)
    k = np.arange(1, 6)
    factor = 1 + 2 * np.sum(np.exp(-2 * np.pi**2 * k**2 * SIGMA_1D**2 / h**2)
                            * np.cos(2 * np.pi * k * (MU_1D[0] - low) / h))
    error = gaussian_1d(n) - gaussian_log_partition(LAM_1D)
    assert abs(error) > 1e-3  # 粗い格子では本当に誤差がある
    assert error == pytest.approx(math.log(factor), rel=1e-6)


@pytest.mark.equation("eq:partition-quadrature", "eq:gaussian-partition")
def test_log_partition_2d_quadrature_matches_closed_form():
    # 範囲 [-8, 8]^2 は各軸で 8σ 以上 (箱の外の質量 < 1e-14)、h = 0.1 で台形則の誤差は無視できる。
    grid = make_grid([-8.0, -8.0], [8.0, 8.0], 161)
    energy = partial(quadratic_energy, mean=MU_2D, precision=LAM_2D)
    assert log_partition_on_grid(energy, grid) == pytest.approx(gaussian_log_partition(LAM_2D), abs=1e-10)


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.equation("eq:partition-quadrature")
def test_quadrature_error_decreases_with_grid_size(dim):
    mean, lam = (MU_1D, LAM_1D) if dim == 1 else (MU_2D, LAM_2D)
    energy = partial(quadratic_energy, mean=mean, precision=lam)
    exact = gaussian_log_partition(lam)
    errors = [abs(log_partition_on_grid(energy, make_grid([-8.0] * dim, [8.0] * dim, n)) - exact)
              for n in (5, 11, 21, 41)]  # 間隔 h を約半分ずつにする
    assert errors[0] > 1e-2
    for coarse, fine in zip(errors, errors[1:]):
        assert fine < coarse / 10 or fine < 1e-13
    assert errors[-1] < 1e-12


@pytest.mark.equation("eq:partition-quadrature")
def test_log_partition_is_stable_for_large_energies():
    # exp(-f) が倍精度でアンダーフローする (f ~ 1e4) ような定数を足しても log Z はずれない。
    grid = make_grid([-8.0], [8.0], 201)
    f = partial(quadratic_energy, mean=MU_1D, precision=LAM_1D)
    shifted = log_partition_on_grid(lambda x: f(x) + 1e4, grid)
    assert np.isfinite(shifted)
    assert shifted == pytest.approx(log_partition_on_grid(f, grid) - 1e4, abs=1e-9)


# ---- 正規化した密度 --------------------------------------------------------------------------

@pytest.mark.equation("eq:partition-function")
def test_normalized_density_integrates_to_one_with_an_independent_rule():
    # 台形則の格子で log Z を求め、密度 exp(-f - log Z) を別の規則 (細かい中点則) で積分する。
    f = partial(double_well_energy, height=2.0, center=1.0)
    log_z = log_partition_on_grid(f, make_grid([-4.0], [4.0], 401))
    h = 8.0 / 20000
    midpoints = (-4.0 + h * (np.arange(20000) + 0.5))[:, None]
    assert np.sum(np.exp(-f(midpoints) - log_z)) * h == pytest.approx(1.0, abs=1e-8)


@pytest.mark.equation("eq:partition-function")
def test_normalized_density_can_exceed_one():
    # 分配関数は積分を 1 にするのであって、密度の値を [0, 1] に収めるのではない。
    grid = make_grid([-1.0], [1.0], 401)
    q = np.exp(log_density_on_grid(partial(quadratic_energy, mean=[0.0], precision=[[100.0]]), grid))
    assert q.max() == pytest.approx(1 / (0.1 * math.sqrt(2 * math.pi)), rel=1e-6)  # 3.989...
    assert q.max() > 1
    assert np.sum(q * np.exp(grid.log_weights)) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.equation("eq:ebm")
def test_low_energy_means_high_probability():
    grid = make_grid([-3.0], [3.0], 301)
    f = partial(double_well_energy, height=2.0, center=1.0)
    energies = energy_on_grid(f, grid)
    log_q = log_density_on_grid(f, grid)
    assert np.all(np.diff(log_q[np.argsort(energies)]) <= 1e-12)  # エネルギーが小さいほど密度が大きい


# ---- 専門家の積 -----------------------------------------------------------------------------

@pytest.mark.equation("eq:product-of-experts", "eq:poe-normalizer")
def test_product_of_experts_sum_of_energies_equals_normalized_product():
    grid = make_grid([-3.0, -3.0], [3.0, 3.0], 81)
    f1 = partial(double_well_energy, height=2.0, center=1.0)
    f2 = partial(quadratic_energy, mean=[0.7, 0.6], precision=np.diag([1.0, 2.0]))
    q_sum = np.exp(log_density_on_grid(product_of_experts(f1, f2), grid))
    q1 = np.exp(log_density_on_grid(f1, grid))
    q2 = np.exp(log_density_on_grid(f2, grid))
    np.testing.assert_allclose(q_sum, normalize_on_grid(np.log(q1 * q2), grid), rtol=1e-10, atol=1e-14)
    # 等号ではなく比例: q1 q2 そのものは正規化されていない (Z_12 = Z_1 Z_2 ∫ q_1 q_2)
    integral = np.sum(q1 * q2 * np.exp(grid.log_weights))
    assert abs(integral - 1) > 0.1
    assert log_partition_on_grid(product_of_experts(f1, f2), grid) == pytest.approx(
        log_partition_on_grid(f1, grid) + log_partition_on_grid(f2, grid) + math.log(integral), abs=1e-12)


@pytest.mark.equation("eq:gaussian-product")
def test_gaussian_times_gaussian_has_added_precisions():
    mu1, lam1 = np.array([0.5, -0.3]), LAM_2D
    mu2, lam2 = np.array([-0.4, 0.6]), np.array([[2.0, -0.5], [-0.5, 1.5]])
    mean, lam = gaussian_product(mu1, lam1, mu2, lam2)
    np.testing.assert_allclose(lam, lam1 + lam2)
    grid = make_grid([-6.0, -6.0], [6.0, 6.0], 121)
    f = product_of_experts(partial(quadratic_energy, mean=mu1, precision=lam1),
                           partial(quadratic_energy, mean=mu2, precision=lam2))
    log_q = log_density_on_grid(f, grid)
    log_gauss = -quadratic_energy(grid.points, mean, lam) - gaussian_log_partition(lam)
    np.testing.assert_allclose(log_q, log_gauss, atol=1e-9)
    # 分配関数も閉じた形: f_1 + f_2 = ½(x-μ)^T Λ (x-μ) + ½(μ_1-μ_2)^T (Σ_1+Σ_2)^{-1} (μ_1-μ_2)
    d = mu1 - mu2
    c = 0.5 * d @ np.linalg.solve(np.linalg.inv(lam1) + np.linalg.inv(lam2), d)
    assert log_partition_on_grid(f, grid) == pytest.approx(gaussian_log_partition(lam) - c, abs=1e-9)


# ---- 分配関数の微分: ∂ log Z / ∂θ = -E_q[∂f/∂θ] ------------------------------------------

@pytest.mark.equation("eq:log-partition-gradient")
def test_log_partition_derivative_is_minus_expected_energy_derivative():
    # θ = λ (1 次元の精度)。f = ½ λ (x-μ)^2、∂f/∂λ = ½ (x-μ)^2、厳密には ∂ log Z/∂λ = -1/(2λ)。
    grid = make_grid([-10.0], [10.0], 401)
    lam, eps = 1.7, 1e-5

    def log_z(lam_):
        return log_partition_on_grid(partial(quadratic_energy, mean=MU_1D, precision=[[lam_]]), grid)

    q = np.exp(log_density_on_grid(partial(quadratic_energy, mean=MU_1D, precision=[[lam]]), grid))
    expected = -np.sum(np.exp(grid.log_weights) * q * 0.5 * (grid.points[:, 0] - MU_1D[0]) ** 2)
    finite_difference = (log_z(lam + eps) - log_z(lam - eps)) / (2 * eps)
    assert expected == pytest.approx(-1 / (2 * lam), abs=1e-10)
    assert finite_difference == pytest.approx(expected, abs=1e-8)


# ---- 多項式エネルギー ------------------------------------------------------------------------

@pytest.mark.equation("eq:linear-energy")
def test_polynomial_features_are_monomials():
    model = PolynomialEnergy(dim=2, degree=3, scale=2.0)
    assert model.n_features == 9  # 次数 1, 2, 3 の単項式 2 + 3 + 4 個
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    phi = model.features(x)
    u = x / 2.0
    for k, (a, b) in enumerate(model.exponents):
        np.testing.assert_allclose(phi[:, k], u[:, 0] ** a * u[:, 1] ** b)
    theta = np.linspace(-1, 1, 9)
    np.testing.assert_allclose(model.energy(x, theta), phi @ theta)


# ---- 決定性と入力検査 ------------------------------------------------------------------------

def test_functions_are_deterministic():
    grid = make_grid([-3.0, -3.0], [3.0, 3.0], 41)
    f = partial(double_well_energy, height=2.0)
    assert log_partition_on_grid(f, grid) == log_partition_on_grid(f, grid)
    np.testing.assert_array_equal(log_density_on_grid(f, grid), log_density_on_grid(f, grid))


def test_grid_layout():
    grid = make_grid([-1.0, 0.0], [1.0, 2.0], 5)
    assert isinstance(grid, Grid) and grid.shape == (5, 5) and grid.dim == 2
    assert grid.points.shape == (25, 2)
    assert np.sum(np.exp(grid.log_weights)) == pytest.approx(4.0)  # 箱の面積


@pytest.mark.parametrize("low, high, n, match", [
    ([0.0], [1.0], 2, "n_points"),
    ([0.0], [1.0], 2.5, "n_points"),
    ([1.0], [1.0], 10, "high must exceed low"),
    ([0.0, 2.0], [1.0, 1.0], 10, "high must exceed low"),
    ([0.0], [1.0, 2.0], 10, "same length"),
    ([np.nan], [1.0], 10, "finite"),
])
def test_make_grid_rejects_bad_input(low, high, n, match):
    with pytest.raises(ValueError, match=match):
        make_grid(low, high, n)


def test_energies_reject_bad_input():
    with pytest.raises(ValueError, match="positive definite"):
        quadratic_energy([[0.0]], [0.0], [[-1.0]])
    with pytest.raises(ValueError, match="positive definite"):
        quadratic_energy([[0.0, 0.0]], [0.0, 0.0], [[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="precision must be shape"):
        quadratic_energy([[0.0, 0.0]], [0.0, 0.0], [[1.0]])
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        quadratic_energy([[0.0]], [0.0, 0.0], np.eye(2))
    with pytest.raises(ValueError, match="finite"):
        quadratic_energy([[np.inf]], [0.0], [[1.0]])
    with pytest.raises(ValueError, match="height"):
        double_well_energy([[0.0]], height=-1.0)
    with pytest.raises(ValueError, match="positive definite"):
        gaussian_log_partition([[0.0]])


def test_grid_functions_reject_bad_energies():
    grid = make_grid([-1.0], [1.0], 11)
    with pytest.raises(ValueError, match="non-finite"):
        log_partition_on_grid(lambda x: np.where(x[:, 0] > 0, np.inf, 0.0), grid)
    with pytest.raises(ValueError, match="non-finite"):
        log_density_on_grid(lambda x: np.full(len(x), np.nan), grid)
    with pytest.raises(ValueError, match=r"shape \(M,\)"):
        log_partition_on_grid(lambda x: x, make_grid([-1.0, -1.0], [1.0, 1.0], 5))
    with pytest.raises(ValueError, match="Grid"):
        log_partition_on_grid(lambda x: x[:, 0], np.zeros((3, 1)))
    with pytest.raises(ValueError, match="log_gamma must have shape"):
        normalize_on_grid(np.zeros(5), grid)
    with pytest.raises(ValueError, match="callable"):
        product_of_experts()
    with pytest.raises(ValueError, match="same shape"):
        gaussian_product([0.0], [[1.0]], [0.0, 0.0], np.eye(2))


def test_polynomial_energy_rejects_bad_input():
    with pytest.raises(ValueError, match="degree"):
        PolynomialEnergy(dim=2, degree=0)
    with pytest.raises(ValueError, match="scale"):
        PolynomialEnergy(dim=2, degree=2, scale=0.0)
    with pytest.raises(ValueError, match="theta must have shape"):
        PolynomialEnergy(dim=2, degree=2).energy([[0.0, 0.0]], np.zeros(3))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        PolynomialEnergy(dim=2, degree=2).features([[0.0, 0.0, 0.0]])
