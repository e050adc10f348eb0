"""ランジュバン・モンテカルロ法 (docs/ch2/langevin.md): ガウス分布での定常分布、決定性、悪い入力、失敗する設定。"""

from __future__ import annotations

import numpy as np
import pytest

from gen_lib.distributions.gaussian_mixture import GaussianMixture
from gen_lib.score_based.langevin import (LangevinSetting, langevin_failure_setting, langevin_sample,
                              separated_modes_mixture, ula_gaussian_stationary_covariance, uniform_box)


def gaussian_score(mean, covariance):
    """$s(x) = -\\Sigma^{-1}(x - \\mu)$。"""
    mean = np.asarray(mean, dtype=float)
    precision = np.linalg.inv(np.asarray(covariance, dtype=float))
    return lambda x: -(x - mean) @ precision.T


@pytest.mark.equation("eq:langevin-stationary-covariance")
def test_stationary_covariance_solves_the_discrete_lyapunov_equation():
    # 独立な計算: C = A C A^T + εI を vec で解く (I - A⊗A) vec C = ε vec I
    cov = np.array([[1.0, 0.6], [0.6, 0.5]])
    for eps in (0.01, 0.1, 0.3):
        a = np.eye(2) - 0.5 * eps * np.linalg.inv(cov)
        vec_c = np.linalg.solve(np.eye(4) - np.kron(a, a), eps * np.eye(2).ravel())
        np.testing.assert_allclose(ula_gaussian_stationary_covariance(cov, eps), vec_c.reshape(2, 2),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.equation("eq:langevin-stationary-variance", "eq:langevin-stationary-covariance")
def test_stationary_variance_one_dimensional_closed_form_and_small_step_limit():
    # 1 次元: σ² / (1 - ε / 4σ²)、ε → 0 で σ² に近づく
    for sigma2, eps in [(1.0, 0.4), (2.5, 0.1), (0.0225, 0.05)]:
        v = ula_gaussian_stationary_covariance([[sigma2]], eps)[0, 0]
        assert v == pytest.approx(sigma2 / (1 - eps / (4 * sigma2)), rel=1e-12)
    cov = np.array([[1.0, 0.6], [0.6, 0.5]])
    np.testing.assert_allclose(ula_gaussian_stationary_covariance(cov, 1e-9), cov, rtol=1e-7)


@pytest.mark.equation("eq:langevin-update", "eq:langevin-stationary-variance")
def test_one_dimensional_chain_reaches_the_biased_stationary_variance():
    # 目標 N(1, 1)、ε = 0.4: 定常分散は 1 / (1 - 0.1) = 1.111... (σ² = 1 ではない)。平均は偏らない
    n = 20000
    x = langevin_sample(gaussian_score([1.0], [[1.0]]), np.ones((n, 1)), 0.4, 100, seed=0)
    predicted = 1.0 / (1.0 - 0.4 / 4.0)
    standard_error = predicted * np.sqrt(2.0 / n)  # 分散の推定の標準誤差
    assert x.mean() == pytest.approx(1.0, abs=4 * np.sqrt(predicted / n))
    assert x.var() == pytest.approx(predicted, abs=4 * standard_error)
    assert abs(x.var() - 1.0) > 6 * standard_error  # 偏りは誤差よりずっと大きい: 検定は鋭い


@pytest.mark.equation("eq:langevin-update", "eq:langevin-stationary-covariance")
def test_two_dimensional_chain_with_small_step_matches_target_mean_and_covariance():
    mean = np.array([1.0, -2.0])
    cov = np.array([[1.0, 0.6], [0.6, 0.5]])
    n = 20000
    x0 = np.zeros((n, 2))
    x = langevin_sample(gaussian_score(mean, cov), x0, 0.05, 400, seed=1)
    np.testing.assert_allclose(x.mean(axis=0), mean, atol=0.03)
    predicted = ula_gaussian_stationary_covariance(cov, 0.05)
    np.testing.assert_allclose(np.cov(x.T), predicted, atol=0.03)
    np.testing.assert_allclose(predicted, cov, atol=0.03)  # 小さい ε では目標の共分散に近い


def test_determinism_and_seed():
    score = gaussian_score([0.0, 0.0], np.eye(2))
    x0 = uniform_box(50, -3.0, 3.0, seed=0)
    a = langevin_sample(score, x0, 0.1, 20, seed=7)
    b = langevin_sample(score, x0, 0.1, 20, seed=7)
    c = langevin_sample(score, x0, 0.1, 20, seed=8)
    d = langevin_sample(score, x0, 0.1, 20, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, d)
    assert not np.allclose(a, c)
    np.testing.assert_array_equal(x0, uniform_box(50, -3.0, 3.0, seed=0))  # 初期値は書き換えない


@pytest.mark.equation("eq:langevin-update")
def test_one_step_is_the_update_formula():
    # x_1 = x_0 + (ε/2) s(x_0) + √ε z_0 を、同じ乱数で手計算と比べる
    score = gaussian_score([0.5], [[2.0]])
    x0 = np.array([[1.0], [-3.0], [0.2]])
    eps = 0.3
    z = np.random.default_rng(5).standard_normal(x0.shape)
    expected = x0 + 0.5 * eps * score(x0) + np.sqrt(eps) * z
    np.testing.assert_allclose(langevin_sample(score, x0, eps, 1, seed=5), expected, rtol=1e-15)


def test_record_every_returns_snapshots():
    score = gaussian_score([0.0], [[1.0]])
    x0 = np.zeros((5, 1))
    final = langevin_sample(score, x0, 0.1, 25, seed=3)
    steps, snaps = langevin_sample(score, x0, 0.1, 25, seed=3, record_every=10)
    np.testing.assert_array_equal(steps, [0, 10, 20, 25])
    assert snaps.shape == (4, 5, 1)
    np.testing.assert_array_equal(snaps[0], x0)
    np.testing.assert_array_equal(snaps[-1], final)


def test_bad_inputs():
    score = gaussian_score([0.0, 0.0], np.eye(2))
    x0 = np.zeros((4, 2))
    with pytest.raises(ValueError, match="score_fn must be callable"):
        langevin_sample(None, x0, 0.1, 10)
    with pytest.raises(ValueError, match="x0 must have 2 dimension"):
        langevin_sample(score, np.zeros(2), 0.1, 10)
    with pytest.raises(ValueError, match="x0 must be finite"):
        langevin_sample(score, [[0.0, np.inf]], 0.1, 10)
    for bad in (0.0, -0.1, np.nan, np.inf, True, "0.1"):
        with pytest.raises(ValueError, match="step_size must be a positive"):
            langevin_sample(score, x0, bad, 10)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="n_steps must be an integer"):
            langevin_sample(score, x0, 0.1, bad)
    with pytest.raises(ValueError, match="record_every must be an integer"):
        langevin_sample(score, x0, 0.1, 10, record_every=0)
    with pytest.raises(ValueError, match="seed must be"):
        langevin_sample(score, x0, 0.1, 10, seed=-1)
    with pytest.raises(ValueError, match="same shape"):
        langevin_sample(lambda x: x[:, :1], x0, 0.1, 10)
    with pytest.raises(ValueError, match="non-finite values at step 0"):
        langevin_sample(lambda x: np.full_like(x, np.nan), x0, 0.1, 10)


def test_too_large_step_size_diverges_with_a_clear_error():
    # ガウス分布 N(0, 1) で ε = 10 > 4σ²: x_{k+1} ≈ -4 x_k で発散する
    with pytest.raises(ValueError, match="diverged"):
        langevin_sample(gaussian_score([0.0], [[1.0]]), np.ones((3, 1)), 10.0, 2000, seed=0)


def test_stationary_covariance_bad_inputs():
    with pytest.raises(ValueError, match="step_size must be < 4"):
        ula_gaussian_stationary_covariance([[1.0]], 4.0)
    with pytest.raises(ValueError, match="symmetric square"):
        ula_gaussian_stationary_covariance([[1.0, 0.5], [0.0, 1.0]], 0.1)
    with pytest.raises(ValueError, match="symmetric square"):
        ula_gaussian_stationary_covariance(np.eye(3)[:2], 0.1)
    with pytest.raises(ValueError, match="positive definite"):
        ula_gaussian_stationary_covariance([[1.0, 0.0], [0.0, -1.0]], 0.1)
    with pytest.raises(ValueError, match="step_size must be a positive"):
        ula_gaussian_stationary_covariance(np.eye(2), 0.0)


def test_uniform_box():
    x = uniform_box(1000, -8.0, 8.0, dim=3, seed=2)
    assert x.shape == (1000, 3) and x.min() >= -8.0 and x.max() <= 8.0
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=0.6)
    with pytest.raises(ValueError, match="high must exceed low"):
        uniform_box(10, 1.0, 1.0)
    with pytest.raises(ValueError, match="n must be an integer"):
        uniform_box(0, -1.0, 1.0)
    with pytest.raises(ValueError, match="dim must be an integer"):
        uniform_box(10, -1.0, 1.0, dim=0)


@pytest.mark.equation("eq:separated-modes")
def test_failure_setting_is_fixed_and_reproducible():
    mixture = separated_modes_mixture()
    assert isinstance(mixture, GaussianMixture)
    np.testing.assert_array_equal(mixture.weights, [0.2, 0.8])
    np.testing.assert_array_equal(mixture.means, [[-5.0, -5.0], [5.0, 5.0]])
    np.testing.assert_array_equal(mixture.covariances, [np.eye(2), np.eye(2)])
    s = langevin_failure_setting()
    t = langevin_failure_setting()
    assert isinstance(s, LangevinSetting)
    assert s.x0.shape == (1000, 2) and np.all(np.abs(s.x0) <= 8.0)
    assert (s.step_size, s.n_steps) == (0.1, 1000)
    np.testing.assert_array_equal(s.x0, t.x0)
    np.testing.assert_array_equal(s.reference_samples(), t.reference_samples())
    assert s.reference_samples().shape == (1000, 2)
    assert langevin_failure_setting(n_chains=10, seed=3).x0.shape == (10, 2)
    with pytest.raises(ValueError, match="n_chains must be an integer"):
        langevin_failure_setting(n_chains=0)
    with pytest.raises(ValueError, match="seed must be an integer"):
        langevin_failure_setting(seed=-1)


@pytest.mark.equation("eq:fokker-planck")
def test_fokker_planck_right_side_vanishes_at_p_and_not_elsewhere():
    r"""$-\nabla \cdot (\rho \nabla \log p) + \Delta \rho$ を自動微分で計算し、$\rho = p$ で 0、ほかの密度で 0 でないことを見る。

    スコアは式 (eq:mixture-score) の閉じた形 $-\sum_k r_k \Sigma_k^{-1}(x - \mu_k)$ を torch で書いたもの
    (``GaussianMixture.score`` と一致することも確かめる)、密度とその 2 階微分は ``log_prob_torch`` の自動微分で求める。
    """
    import torch

    p = GaussianMixture(np.array([0.3, 0.7]), np.array([[-1.0, 0.5], [1.2, -0.3]]),
                        np.array([[[0.6, 0.2], [0.2, 0.4]], [[0.5, -0.1], [-0.1, 0.8]]]))
    other = GaussianMixture(np.array([0.5, 0.5]), p.means, p.covariances)
    x0 = np.random.default_rng(0).normal(size=(50, 2))

    means, precisions = torch.tensor(p.means), torch.linalg.inv(torch.tensor(p.covariances))

    def score(x):  # -Σ_k r_k(x) Σ_k^{-1} (x - μ_k)、r_k は成分の対数密度の softmax
        diff = x[:, None, :] - means[None]
        pulls = -torch.einsum("kij,nkj->nki", precisions, diff)
        log_parts = torch.log(torch.tensor(p.weights)) + 0.5 * torch.einsum("nki,nki->nk", diff, pulls) \
            + 0.5 * torch.logdet(precisions)
        return (torch.softmax(log_parts, dim=1)[:, :, None] * pulls).sum(dim=1)

    np.testing.assert_allclose(score(torch.as_tensor(x0)).numpy(), p.score(x0), rtol=1e-10, atol=1e-12)

    def right_side(rho: GaussianMixture) -> np.ndarray:
        x = torch.tensor(x0, requires_grad=True)
        density = torch.exp(rho.log_prob_torch(x))
        flux = density[:, None] * score(x)  # ρ ∇log p
        grad_rho = torch.autograd.grad(density.sum(), x, create_graph=True)[0]
        total = torch.zeros(len(x0), dtype=x.dtype)
        for i in range(2):  # -∂_i (ρ s_i) + ∂_i ∂_i ρ
            div_i = torch.autograd.grad(flux[:, i].sum(), x, retain_graph=True)[0][:, i]
            lap_i = torch.autograd.grad(grad_rho[:, i].sum(), x, retain_graph=True)[0][:, i]
            total = total - div_i + lap_i
        return total.detach().numpy(), density.detach().numpy()

    at_p, density = right_side(p)
    np.testing.assert_allclose(at_p, 0.0, atol=1e-12 * density.max() + 1e-14)
    at_other, density = right_side(other)
    assert np.abs(at_other).max() > 1e-2 * density.max()


def test_midpoint_density_relative_to_the_peaks():
    """ページの値: 中点の密度は大きいモードの頂上の約 1.7e-11 倍、小さいモードの約 6.9e-11 倍 ($e^{-25}/\\pi_k$)。"""
    mixture = separated_modes_mixture()
    log_mid = mixture.log_prob(np.zeros((1, 2)))[0]
    log_large, log_small = mixture.log_prob(np.array([[5.0, 5.0], [-5.0, -5.0]]))
    assert np.exp(log_mid - log_large) == pytest.approx(np.exp(-25) / 0.8, rel=1e-9)
    assert np.exp(log_mid - log_small) == pytest.approx(np.exp(-25) / 0.2, rel=1e-9)
    assert np.exp(log_mid - log_large) == pytest.approx(1.7e-11, rel=0.03)
    assert np.exp(log_mid - log_small) == pytest.approx(6.9e-11, rel=0.01)
