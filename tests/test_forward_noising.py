"""gen_lib.diffusion.forward_noising: 「拡散モデルの概要」の前向き過程の式を数値で確かめる。"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gen_lib.diffusion.forward_noising import (alpha_bar_at, alpha_bar_from_betas, cosine_alpha_bar,
                                               cosine_beta_schedule, linear_beta_schedule, noise_data,
                                               run_forward_chain)
from gen_lib.distributions.gaussian_mixture import (GaussianMixture, asymmetric_mixture, isotropic_mixture,
                                                    ring_of_gaussians)


def assert_moments_close(x, mean, cov, n_se=5.0):
    """サンプル平均・サンプル共分散が (mean, cov) から標準誤差の n_se 倍以内にあること。"""
    n = x.shape[0]
    m = x.mean(axis=0)
    np.testing.assert_array_less(np.abs(m - mean), n_se * np.sqrt(np.diag(cov) / n))
    centred = x - m
    products = np.einsum("ni,nj->nij", centred, centred)
    np.testing.assert_array_less(np.abs(products.mean(axis=0) - cov),
                                 n_se * products.std(axis=0) / math.sqrt(n) + 1e-12)


def marginal(mixture: GaussianMixture, alpha_bar_t: float) -> GaussianMixture:
    """DDPM の周辺分布 q(x_t) = mixture.noised(√ᾱ_t, √(1 - ᾱ_t))。"""
    return mixture.noised(math.sqrt(alpha_bar_t), math.sqrt(1 - alpha_bar_t))


def mixture_moments(mixture: GaussianMixture):
    mean = mixture.weights @ mixture.means
    second = np.einsum("k,kij->ij", mixture.weights,
                       mixture.covariances + np.einsum("ki,kj->kij", mixture.means, mixture.means))
    return mean, second - np.outer(mean, mean)


# ---- スケジュール ---------------------------------------------------------------------------------

@pytest.mark.equation("eq:linear-schedule")
def test_linear_schedule_matches_ho_et_al_defaults():
    betas = linear_beta_schedule()
    assert betas.shape == (1000,)
    assert betas[0] == 1e-4 and math.isclose(betas[-1], 0.02)
    np.testing.assert_allclose(np.diff(betas), (0.02 - 1e-4) / 999)
    np.testing.assert_array_equal(linear_beta_schedule(1, 0.3, 0.5), [0.3])


def test_alpha_bar_is_the_running_product():
    betas = np.array([0.1, 0.2, 0.5, 0.05])
    expected, running = [], 1.0
    for b in betas:
        running *= 1.0 - b
        expected.append(running)
    np.testing.assert_allclose(alpha_bar_from_betas(betas), expected, rtol=1e-15)


@pytest.mark.parametrize("betas", [linear_beta_schedule(1000), cosine_beta_schedule(1000),
                                   linear_beta_schedule(10, 0.1, 0.3), cosine_beta_schedule(1)],
                         ids=["linear", "cosine", "linear-short", "cosine-T1"])
def test_alpha_bar_is_decreasing_inside_unit_interval(betas):
    a = alpha_bar_from_betas(betas)
    assert np.all(a > 0) and np.all(a < 1)
    assert np.all(np.diff(a) < 0)


@pytest.mark.equation("eq:cosine-schedule")
def test_cosine_alpha_bar_matches_nichol_dhariwal_formula():
    T, s = 1000, 0.008
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    a = cosine_alpha_bar(T, s)
    for t in (1, 10, 250, 500, 999, 1000):
        assert math.isclose(a[t - 1], f(t) / f(0), rel_tol=1e-12, abs_tol=1e-30)
    assert math.isclose(a[499], 0.49384359044063775, rel_tol=1e-9)  # ᾱ_{T/2} はほぼ 1/2


@pytest.mark.equation("eq:cosine-schedule")
def test_cosine_betas_reproduce_alpha_bar_except_where_clipped():
    betas = cosine_beta_schedule(1000, max_beta=0.999)
    clipped = betas >= 0.999
    assert clipped.sum() == 1 and clipped[-1]  # 既定値では t = T の 1 ステップだけ切られる
    np.testing.assert_allclose(alpha_bar_from_betas(betas)[:-1], cosine_alpha_bar(1000)[:-1], rtol=1e-9)
    assert np.all(cosine_beta_schedule(50, max_beta=0.2) <= 0.2)


@pytest.mark.parametrize("betas", [linear_beta_schedule(), cosine_beta_schedule()], ids=["linear", "cosine"])
def test_default_schedules_end_close_to_pure_noise(betas):
    # ページの主張: 既定のスケジュールでは ᾱ_T < 1e-4 (x_T はほぼ x_0 に依存しない)
    assert alpha_bar_from_betas(betas)[-1] < 1e-4


def test_linear_schedule_is_nearly_pure_noise_long_before_T():
    # ページの主張: 線形スケジュールでは t = 700 で ᾱ_t < 0.01、コサインではまだ情報が残る
    assert alpha_bar_from_betas(linear_beta_schedule())[699] < 0.01
    assert alpha_bar_from_betas(cosine_beta_schedule())[699] > 0.1


def test_alpha_bar_at_handles_t_zero_and_t_equal_T():
    a = alpha_bar_from_betas(linear_beta_schedule(10, 0.1, 0.2))
    assert alpha_bar_at(a, 0) == 1.0
    assert alpha_bar_at(a, 1) == a[0] and alpha_bar_at(a, 10) == a[-1]
    assert alpha_bar_at(a, np.int64(3)) == a[2]


# ---- 閉じた形 = マルコフ連鎖 ----------------------------------------------------------------------

@pytest.mark.equation("eq:forward-step", "eq:forward-marginal")
def test_closed_form_equals_chain_for_gaussian_data_exactly():
    # x_0 ~ N(m, s²) (1 次元) を 1 ステップずつ送ると平均 m_t = sqrt(1-β_t) m_{t-1}、
    # 分散 v_t = (1-β_t) v_{t-1} + β_t。これが閉じた形 sqrt(ᾱ_t) m, ᾱ_t s² + 1 - ᾱ_t と一致する。
    betas = linear_beta_schedule(1000)
    m, v = 1.7, 0.3**2
    means, variances = [], []
    for b in betas:
        m, v = math.sqrt(1 - b) * m, (1 - b) * v + b
        means.append(m)
        variances.append(v)
    a = alpha_bar_from_betas(betas)
    np.testing.assert_allclose(means, np.sqrt(a) * 1.7, rtol=1e-10)
    np.testing.assert_allclose(variances, a * 0.09 + 1 - a, rtol=1e-10)


@pytest.mark.equation("eq:forward-step", "eq:forward-marginal")
def test_chain_and_closed_form_have_the_same_moments_monte_carlo():
    betas = linear_beta_schedule(100, 1e-3, 0.05)
    a = alpha_bar_from_betas(betas)
    x0 = np.tile([[1.5, -0.5]], (20_000, 1))  # 同じ点から出発: q(x_t | x_0) を見る
    path = run_forward_chain(x0, betas, seed=11, return_path=True)
    for t in (1, 10, 40, 100):
        expected_mean = np.sqrt(a[t - 1]) * x0[0]
        expected_cov = (1 - a[t - 1]) * np.eye(2)
        assert_moments_close(path[t], expected_mean, expected_cov)
        assert_moments_close(noise_data(x0, a[t - 1], seed=12 + t), expected_mean, expected_cov)


def test_default_schedule_sends_ring_data_to_standard_normal():
    data = ring_of_gaussians()
    x0 = data.sample(20_000, seed=13)
    x_T = run_forward_chain(x0, linear_beta_schedule(), seed=14)
    assert_moments_close(x_T, np.zeros(2), np.eye(2))
    # 厳密な周辺分布 q(x_T) も N(0, I) とほとんど区別できない
    a_T = alpha_bar_from_betas(linear_beta_schedule())[-1]
    grid = np.stack(np.meshgrid(np.linspace(-3, 3, 31), np.linspace(-3, 3, 31)), axis=-1).reshape(-1, 2)
    log_normal = -math.log(2 * math.pi) - 0.5 * np.sum(grid**2, axis=1)
    np.testing.assert_allclose(marginal(data, a_T).log_prob(grid), log_normal, atol=1e-3)


@pytest.mark.equation("eq:forward-sample")
def test_noise_data_formula_and_returned_noise():
    x0 = asymmetric_mixture().sample(5000, seed=15)
    a = np.random.default_rng(16).uniform(0, 1, size=5000)  # 点ごとに違う ᾱ_t
    x_t, eps = noise_data(x0, a, seed=17, return_noise=True)
    np.testing.assert_allclose(x_t, np.sqrt(a)[:, None] * x0 + np.sqrt(1 - a)[:, None] * eps, rtol=1e-14)
    assert_moments_close(eps, np.zeros(2), np.eye(2))
    np.testing.assert_array_equal(noise_data(x0, 1.0), x0)  # ᾱ_0 = 1 ならデータそのもの


def test_chain_path_starts_at_data_and_ends_at_default_output():
    x0 = ring_of_gaussians().sample(10, seed=18)
    betas = linear_beta_schedule(20, 0.01, 0.1)
    path = run_forward_chain(x0, betas, seed=19, return_path=True)
    assert path.shape == (21, 10, 2)
    np.testing.assert_array_equal(path[0], x0)
    np.testing.assert_array_equal(path[-1], run_forward_chain(x0, betas, seed=19))


# ---- ガウス混合の周辺分布 q(x_t) ------------------------------------------------------------------

@pytest.mark.parametrize("a", [0.9, 0.5, 0.05])
@pytest.mark.equation("eq:forward-noised-mixture")
def test_marginal_equals_numerical_convolution_in_1d(a):
    # q(x_t) = ∫ p(x_0) N(x_t; sqrt(ᾱ) x_0, 1 - ᾱ) dx_0 を x_0 の細かい格子で直接積分する。
    data = isotropic_mixture([[-2.0], [0.5], [2.5]], std=0.3, weights=[0.3, 0.5, 0.2])
    x0 = np.linspace(-6, 6, 6001)
    p0 = np.exp(data.log_prob(x0[:, None]))
    xt = np.linspace(-3, 3, 13)
    kernel = np.exp(-(xt[:, None] - math.sqrt(a) * x0[None]) ** 2 / (2 * (1 - a))) / math.sqrt(2 * math.pi * (1 - a))
    numeric = np.trapezoid(p0[None] * kernel, x0, axis=1)
    np.testing.assert_allclose(np.exp(marginal(data, a).log_prob(xt[:, None])), numeric, rtol=1e-8)


@pytest.mark.parametrize("a", [0.8, 0.2])
@pytest.mark.equation("eq:forward-noised-mixture")
def test_marginal_matches_moments_of_noised_samples(a):
    data = asymmetric_mixture()
    x_t = noise_data(data.sample(50_000, seed=20), a, seed=21)
    mean, cov = mixture_moments(marginal(data, a))
    assert_moments_close(x_t, mean, cov)


@pytest.mark.equation("eq:forward-noised-mixture")
def test_marginal_endpoints():
    data = asymmetric_mixture()
    same = marginal(data, 1.0)
    np.testing.assert_allclose(same.covariances, data.covariances)
    np.testing.assert_allclose(same.means, data.means)
    noise = marginal(data, 0.0)
    np.testing.assert_allclose(noise.means, 0.0)
    np.testing.assert_allclose(noise.covariances, np.broadcast_to(np.eye(2), (3, 2, 2)))


# ---- 決定性 ------------------------------------------------------------------------------------

def test_random_functions_are_deterministic_given_seed():
    x0 = ring_of_gaussians().sample(50, seed=22)
    betas = linear_beta_schedule(30, 0.01, 0.1)
    np.testing.assert_array_equal(noise_data(x0, 0.5, seed=1), noise_data(x0, 0.5, seed=1))
    assert not np.array_equal(noise_data(x0, 0.5, seed=1), noise_data(x0, 0.5, seed=2))
    np.testing.assert_array_equal(run_forward_chain(x0, betas, seed=3), run_forward_chain(x0, betas, seed=3))
    assert not np.array_equal(run_forward_chain(x0, betas, seed=3), run_forward_chain(x0, betas, seed=4))
    np.testing.assert_array_equal(run_forward_chain(x0, betas, seed=np.random.default_rng(5)),
                                  run_forward_chain(x0, betas, seed=np.random.default_rng(5)))


# ---- 不正な入力 -------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"T": 0}, "T must be an integer >= 1"),
    ({"T": 10.0}, "T must be an integer >= 1"),
    ({"T": True}, "T must be an integer >= 1"),
    ({"beta_start": 0.0}, r"beta_start must be a number in \(0, 1\)"),
    ({"beta_start": -0.1}, r"beta_start must be a number in \(0, 1\)"),
    ({"beta_end": 1.0}, r"beta_end must be a number in \(0, 1\)"),
    ({"beta_end": float("nan")}, r"beta_end must be a number in \(0, 1\)"),
    ({"beta_end": "0.02"}, r"beta_end must be a number in \(0, 1\)"),
])
def test_linear_schedule_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        linear_beta_schedule(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"T": 0}, "T must be an integer >= 1"),
    ({"s": -0.01}, "s must be a finite number >= 0"),
    ({"s": float("inf")}, "s must be a finite number >= 0"),
    ({"s": float("nan")}, "s must be a finite number >= 0"),
])
def test_cosine_alpha_bar_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cosine_alpha_bar(**kwargs)


@pytest.mark.parametrize("max_beta", [0.0, 1.0, 1.5, float("nan"), None])
def test_cosine_beta_schedule_rejects_bad_max_beta(max_beta):
    with pytest.raises(ValueError, match=r"max_beta must be a number in \(0, 1\)"):
        cosine_beta_schedule(10, max_beta=max_beta)


@pytest.mark.parametrize("betas, match", [
    ([0.1, 0.0], r"every value in \(0, 1\)"),
    ([0.1, 1.0], r"every value in \(0, 1\)"),
    ([-0.1], r"every value in \(0, 1\)"),
    ([], r"every value in \(0, 1\)"),
    ([0.1, np.nan], "betas must be finite"),
    ([[0.1, 0.2]], r"betas must have 1 dimension\(s\)"),
    (0.1, r"betas must have 1 dimension\(s\)"),
])
def test_betas_are_validated(betas, match):
    with pytest.raises(ValueError, match=match):
        alpha_bar_from_betas(betas)
    with pytest.raises(ValueError, match=match):
        run_forward_chain(np.zeros((2, 2)), betas)


@pytest.mark.parametrize("t", [-1, 11, 1.0, True, None])
def test_alpha_bar_at_rejects_t_out_of_range(t):
    with pytest.raises(ValueError, match=r"t must be an integer in \[0, T\] = \[0, 10\]"):
        alpha_bar_at(alpha_bar_from_betas(linear_beta_schedule(10)), t)


@pytest.mark.parametrize("alpha_bar, match", [
    ([0.5, 1.2], r"values in \[0, 1\]"),
    ([], r"values in \[0, 1\]"),
    ([0.5, np.nan], "alpha_bar must be finite"),
])
def test_alpha_bar_at_rejects_bad_alpha_bar(alpha_bar, match):
    with pytest.raises(ValueError, match=match):
        alpha_bar_at(alpha_bar, 1)


@pytest.mark.parametrize("x0, alpha_bar_t, match", [
    (np.zeros((3, 2)), 1.5, r"alpha_bar_t must lie in \[0, 1\]"),
    (np.zeros((3, 2)), -0.1, r"alpha_bar_t must lie in \[0, 1\]"),
    (np.zeros((3, 2)), float("nan"), "alpha_bar_t must be finite"),
    (np.zeros((3, 2)), [0.5, 0.5], r"alpha_bar_t must be a scalar or have shape \(3,\)"),
    (np.zeros((3, 2)), np.full((3, 1), 0.5), r"alpha_bar_t must be a scalar or have shape \(3,\)"),
    (np.zeros((3, 2)), "half", "alpha_bar_t must be numeric"),
    ([[0.0, np.nan]], 0.5, "x0 must be finite"),
    ([0.0, 1.0], 0.5, r"x0 must have 2 dimension\(s\)"),
    (np.zeros((0, 2)), 0.5, "x0 must hold at least one point"),
])
def test_noise_data_rejects_bad_input(x0, alpha_bar_t, match):
    with pytest.raises(ValueError, match=match):
        noise_data(x0, alpha_bar_t)


@pytest.mark.parametrize("x0, match", [
    ([[np.inf, 0.0]], "x0 must be finite"),
    ([1.0, 2.0], r"x0 must have 2 dimension\(s\)"),
])
def test_run_forward_chain_rejects_bad_data(x0, match):
    with pytest.raises(ValueError, match=match):
        run_forward_chain(x0, [0.1, 0.2])


@pytest.mark.parametrize("seed", [-1, 0.5, "0", None])
def test_random_functions_reject_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed must be"):
        noise_data(np.zeros((2, 2)), 0.5, seed=seed)
    with pytest.raises(ValueError, match="seed must be"):
        run_forward_chain(np.zeros((2, 2)), [0.1], seed=seed)
