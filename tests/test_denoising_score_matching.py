"""gen_lib.score_based.denoising_score_matching: 「デノイジングスコアマッチング」のページの式を数値で確かめる。

- 損失は ½‖s_θ(x̃) + (x̃ − x)/σ²‖² の平均 (同じ乱数を再現して手で計算した値と一致)
- Vincent (2011): DSM − ESM(p_σ) = C_σ = ½(d/σ² − E_{p_σ}‖∇log p_σ‖²) が θ によらない
  (ガウス分布 + 線形モデルの閉形式と、ガウス混合 + MLP のモンテカルロ)
- Tweedie の公式 x̃ + σ² ∇log p_σ(x̃) = 厳密な事後平均 E[x | x̃] (ガウス混合の閉形式と数値積分)
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

from gen_lib.score_based.denoising_score_matching import (denoising_score_matching_loss, mixture_posterior_mean,
                                              tweedie_denoise)
from gen_lib.core.grid import make_grid
from gen_lib.distributions.gaussian_mixture import GaussianMixture, asymmetric_mixture, ring_of_gaussians
from gen_lib.core.nn import make_mlp, single_thread
from gen_lib.score_based.score_matching import explicit_score_matching_loss


@pytest.fixture(autouse=True)
def one_thread():
    with single_thread():
        yield


def noised(mixture: GaussianMixture, sigma: float) -> GaussianMixture:
    """p_σ: 共分散に σ² I を足したガウス混合 (テストの中で独立に作る)。"""
    return GaussianMixture(mixture.weights, mixture.means, mixture.covariances + sigma**2 * np.eye(mixture.dim))


def same_noise(shape, seed):
    """損失の中で引かれる ε を同じシードから再現する。"""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()


def scaled_mlp(d, hidden, scale, seed):
    mlp = make_mlp(d, d, hidden=hidden, seed=seed)
    return lambda x: scale * mlp(x)


def models(d=2, seed=0):
    rng = np.random.default_rng(seed)
    result = [scaled_mlp(d, h, s, seed + k) for k, (h, s) in enumerate([(8, 1.0), (16, 4.0), (32, 6.0), (16, 0.3)])]
    for _ in range(2):
        a, b = torch.as_tensor(rng.normal(scale=1.5, size=(d, d))), torch.as_tensor(rng.normal(size=d))
        result.append(lambda x, a=a, b=b: x @ a.T + b)
    return result


# ---- 損失そのもの -----------------------------------------------------------------------------------

@pytest.mark.equation("eq:conditional-score", "eq:dsm")
def test_loss_is_half_squared_error_to_the_conditional_score():
    model = scaled_mlp(3, 8, 2.0, seed=1)
    x = np.random.default_rng(0).normal(size=(50, 3))
    sigma = 0.7
    eps = same_noise(x.shape, 11)
    x_noisy = x + sigma * eps
    with torch.no_grad():
        s = model(torch.as_tensor(x_noisy)).numpy()
    expected = np.mean(0.5 * np.sum((s + (x_noisy - x) / sigma**2) ** 2, axis=1))  # ∇ log N = -(x̃ - x)/σ²
    assert denoising_score_matching_loss(model, x, sigma, generator=11).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.equation("eq:ncsn-weighted-term")
def test_sigma_squared_weighting_is_left_to_the_caller():
    """σ² ℓ_DSM = ½‖σ s_θ(x̃) + ε‖² の平均 (NCSN の λ(σ) = σ²)。"""
    model = scaled_mlp(2, 8, 1.0, seed=2)
    x = np.random.default_rng(1).normal(size=(40, 2))
    sigma = 0.3
    eps = same_noise(x.shape, 5)
    with torch.no_grad():
        s = model(torch.as_tensor(x + sigma * eps)).numpy()
    weighted = sigma**2 * denoising_score_matching_loss(model, x, sigma, generator=5).item()
    assert weighted == pytest.approx(np.mean(0.5 * np.sum((sigma * s + eps) ** 2, axis=1)), rel=1e-12)


def test_signature_used_by_ncsn():
    parameters = inspect.signature(denoising_score_matching_loss).parameters
    assert list(parameters) == ["score_fn", "x", "sigma", "generator"]
    assert parameters["generator"].kind is inspect.Parameter.KEYWORD_ONLY


def test_loss_is_deterministic_given_the_seed_and_differentiable():
    model = make_mlp(2, 2, hidden=8, seed=0)
    x = torch.randn(30, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    first = denoising_score_matching_loss(model, x, 0.5, generator=7)
    assert torch.equal(first, denoising_score_matching_loss(model, x, 0.5, generator=7))
    assert not torch.equal(first, denoising_score_matching_loss(model, x, 0.5, generator=8))
    generator = torch.Generator().manual_seed(3)
    assert not torch.equal(denoising_score_matching_loss(model, x, 0.5, generator=generator),
                           denoising_score_matching_loss(model, x, 0.5, generator=generator))
    first.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


# ---- 閉形式: ガウス分布と線形モデル -----------------------------------------------------------------------

MU = np.array([0.5, -1.0, 2.0])
SIGMA = np.array([[1.0, 0.3, -0.2], [0.3, 0.5, 0.1], [-0.2, 0.1, 2.0]])


def closed_form_dsm(a, b, sigma):
    """x̃ = x + σε より A x̃ + b + ε/σ = A x + b + (σA + I/σ) ε。E‖·‖² を足し合わせる。"""
    d = len(MU)
    return 0.5 * (np.trace(a @ SIGMA @ a.T) + np.sum((a @ MU + b) ** 2) + np.sum((sigma * a + np.eye(d) / sigma) ** 2))


def closed_form_esm_noisy(a, b, sigma):
    """p_σ = N(μ, Σ + σ² I) に対する ESM。"""
    cov = SIGMA + sigma**2 * np.eye(len(MU))
    precision = np.linalg.inv(cov)
    m, c = a + precision, b - precision @ MU
    return 0.5 * (np.trace(m @ cov @ m.T) + np.sum((m @ MU + c) ** 2))


@pytest.mark.parametrize("sigma", [0.1, 0.5, 2.0])
@pytest.mark.equation("eq:dsm-identity")
def test_closed_form_gap_is_the_same_constant_for_every_linear_model(sigma):
    rng = np.random.default_rng(0)
    d = len(MU)
    constant = 0.5 * (d / sigma**2 - np.trace(np.linalg.inv(SIGMA + sigma**2 * np.eye(d))))
    gaps = [closed_form_dsm(a, b, sigma) - closed_form_esm_noisy(a, b, sigma)
            for a, b in ((rng.normal(scale=2, size=(d, d)), rng.normal(size=d)) for _ in range(5))]
    np.testing.assert_allclose(gaps, constant, rtol=1e-10)


@pytest.mark.equation("eq:dsm")
def test_monte_carlo_loss_matches_gaussian_closed_form():
    rng = np.random.default_rng(2)
    x = rng.multivariate_normal(MU, SIGMA, size=100_000)
    sigma = 0.6
    for k in range(3):
        a, b = rng.normal(size=(3, 3)), rng.normal(size=3)
        model = lambda z, a=torch.as_tensor(a), b=torch.as_tensor(b): z @ a.T + b  # noqa: E731
        loss = denoising_score_matching_loss(model, x, sigma, generator=k).item()
        eps = same_noise(x.shape, k)
        per_point = 0.5 * np.sum(((x + sigma * eps) @ a.T + b + eps / sigma) ** 2, axis=1)
        assert loss == pytest.approx(per_point.mean(), rel=1e-10)
        assert abs(loss - closed_form_dsm(a, b, sigma)) < 5 * per_point.std() / math.sqrt(len(x))


# ---- ガウス混合 + MLP: DSM − ESM(p_σ) はモンテカルロ誤差の範囲で一定 ---------------------------------------

def fisher_term(mixture: GaussianMixture, box=6.0, n=121) -> float:
    """E_p‖∇log p‖² (格子上の台形則)。"""
    grid = make_grid([-box, -box], [box, box], n)
    w = np.exp(mixture.log_prob(grid.points) + grid.log_weights)
    return float(w @ np.sum(mixture.score(grid.points) ** 2, axis=1))


def paired_z_scores(outputs, target, exact):
    """モデル k と 0 の「損失 − ESM」の差を、その標準誤差で割った値 (同じサンプルで対にする)。

    損失 ½‖s − target‖² の平均から ESM ½‖s − ∇log p_σ‖² の平均を引いた差の、モデル間の差は
    (s_k − s_0)·(∇log p_σ − target) の平均。target が正しければ期待値 0 である。
    """
    z = []
    for s in outputs[1:]:
        paired = np.sum((s - outputs[0]) * (exact - target), axis=1)
        z.append(abs(paired.mean()) / (paired.std() / math.sqrt(len(paired))))
    return np.array(z)


@pytest.mark.equation("eq:esm-noisy", "eq:dsm-identity")
def test_dsm_minus_noisy_esm_is_the_same_constant_for_every_model():
    mixture, sigma, seed = asymmetric_mixture(), 0.4, 21
    noisy = noised(mixture, sigma)
    constant = 0.5 * (mixture.dim / sigma**2 - fisher_term(noisy))
    x = mixture.sample(40_000, seed=3)
    eps = same_noise(x.shape, seed)
    x_noisy = x + sigma * eps
    exact = noisy.score(x_noisy)  # 厳密な ∇ log p_σ(x̃)
    outputs = []
    for model in models():
        dsm = denoising_score_matching_loss(model, x, sigma, generator=seed).item()  # 同じ ε, 同じ x̃
        esm = explicit_score_matching_loss(model, x_noisy, exact).item()
        with torch.no_grad():
            s = model(torch.as_tensor(x_noisy)).numpy()
        per_point = 0.5 * np.sum((s + eps / sigma) ** 2, axis=1) - 0.5 * np.sum((s - exact) ** 2, axis=1)
        assert dsm - esm == pytest.approx(per_point.mean(), rel=1e-9)
        assert abs(dsm - esm - constant) < 5 * per_point.std() / math.sqrt(len(x))
        outputs.append(s)
    assert paired_z_scores(outputs, -eps / sigma, exact).max() < 5  # 正しい目標 -(x̃ - x)/σ²
    # 目標の σ の冪を間違える (-(x̃ - x)/σ) と、差はモデルによってはっきり変わる: 検査はそれを見逃さない
    assert paired_z_scores(outputs, -eps, exact).max() > 20


# ---- Tweedie の公式 -------------------------------------------------------------------------------

@pytest.mark.parametrize("mixture", [asymmetric_mixture(), ring_of_gaussians()], ids=["asymmetric", "ring"])
@pytest.mark.parametrize("sigma", [0.05, 0.5, 2.0])
@pytest.mark.equation("eq:tweedie", "eq:mixture-posterior-mean")
def test_tweedie_with_exact_score_equals_exact_posterior_mean(mixture, sigma):
    rng = np.random.default_rng(4)
    x_noisy = mixture.sample(500, seed=rng) + sigma * rng.standard_normal((500, 2))
    tweedie = tweedie_denoise(x_noisy, noised(mixture, sigma).score(x_noisy), sigma)
    np.testing.assert_allclose(tweedie, mixture_posterior_mean(mixture, x_noisy, sigma), rtol=0, atol=1e-12)


@pytest.mark.equation("eq:mixture-posterior-mean")
def test_posterior_mean_matches_brute_force_quadrature():
    """E[x | x̃] = ∫ x p(x) N(x̃; x, σ²I) dx / ∫ p(x) N(x̃; x, σ²I) dx を格子上で直接計算する。"""
    mixture, sigma = asymmetric_mixture(), 0.5
    grid = make_grid([-6.0, -6.0], [6.0, 6.0], 241)
    x_noisy = np.array([[0.0, 0.0], [-1.0, 0.5], [2.5, -1.0], [0.3, -2.2], [4.0, 4.0]])
    log_prior = mixture.log_prob(grid.points) + grid.log_weights
    expected = []
    for point in x_noisy:
        log_w = log_prior - 0.5 * np.sum((grid.points - point) ** 2, axis=1) / sigma**2
        w = np.exp(log_w - log_w.max())
        expected.append(w @ grid.points / w.sum())
    np.testing.assert_allclose(mixture_posterior_mean(mixture, x_noisy, sigma), expected, atol=1e-8)


@pytest.mark.equation("eq:tweedie")
def test_tweedie_denoiser_has_lower_error_than_the_noisy_points():
    """事後平均は2 乗誤差を最小にする推定: ノイズ入りの点そのものより、縮めた点より誤差が小さい。"""
    mixture, sigma = ring_of_gaussians(), 0.5
    rng = np.random.default_rng(5)
    x = mixture.sample(20_000, seed=rng)
    x_noisy = x + sigma * rng.standard_normal(x.shape)
    tweedie = tweedie_denoise(x_noisy, noised(mixture, sigma).score(x_noisy), sigma)
    error = np.mean(np.sum((tweedie - x) ** 2, axis=1))
    assert error < np.mean(np.sum((x_noisy - x) ** 2, axis=1))
    assert error < np.mean(np.sum((0.8 * x_noisy - x) ** 2, axis=1))


# ---- 悪い入力 --------------------------------------------------------------------------------------

IDENTITY = lambda x: -x  # noqa: E731
GOOD_X = np.zeros((4, 2))


@pytest.mark.parametrize("sigma", [0.0, -0.5, float("nan"), float("inf"), "0.5", None, True])
def test_sigma_must_be_positive_and_finite(sigma):
    with pytest.raises(ValueError, match="sigma must be a positive finite number"):
        denoising_score_matching_loss(IDENTITY, GOOD_X, sigma, generator=0)
    with pytest.raises(ValueError, match="sigma must be a positive finite number"):
        tweedie_denoise(GOOD_X, GOOD_X, sigma)
    with pytest.raises(ValueError, match="sigma must be a positive finite number"):
        mixture_posterior_mean(asymmetric_mixture(), GOOD_X, sigma)


@pytest.mark.parametrize("x, match", [
    (np.zeros(4), "shape"),
    (np.zeros((0, 2)), "at least one point|N >= 1"),
    (np.array([[np.nan, 0.0]]), "finite"),
    (torch.tensor([[0.0, np.inf]], dtype=torch.float64), "finite"),
], ids=["1d", "empty", "nan", "inf-tensor"])
def test_bad_points_are_rejected(x, match):
    with pytest.raises(ValueError, match=match):
        denoising_score_matching_loss(IDENTITY, x, 0.5, generator=0)


@pytest.mark.parametrize("score_fn, match", [
    (lambda x: x[:, :1], "shape"),
    (lambda x: x.detach().numpy(), "tensor of shape"),
    (lambda x: x * float("inf"), "non-finite"),
    (42, "callable"),
], ids=["narrow", "numpy", "inf", "not-callable"])
def test_bad_score_functions_are_rejected(score_fn, match):
    with pytest.raises(ValueError, match=match):
        denoising_score_matching_loss(score_fn, GOOD_X + 1.0, 0.5, generator=0)


@pytest.mark.parametrize("generator", [-3, 0.5, None])
def test_generator_must_be_a_seed_or_torch_generator(generator):
    with pytest.raises(ValueError, match=r"generator must be an integer in \[0, 2\*\*64\) or a numpy.random.Generator "
                                         r"or a torch.Generator"):
        denoising_score_matching_loss(IDENTITY, GOOD_X, 0.5, generator=generator)


def test_generator_is_required():
    with pytest.raises(TypeError):
        denoising_score_matching_loss(IDENTITY, GOOD_X, 0.5)  # 乱数の出どころを必ず指定する


def test_tweedie_and_posterior_mean_reject_bad_shapes():
    with pytest.raises(ValueError, match="noisy_score must have the shape of x_noisy"):
        tweedie_denoise(GOOD_X, np.zeros((4, 3)), 0.5)
    with pytest.raises(ValueError, match="noisy_score must be finite"):
        tweedie_denoise(GOOD_X, np.full((4, 2), np.nan), 0.5)
    with pytest.raises(ValueError, match=r"x_noisy must have shape \(N, 2\)"):
        mixture_posterior_mean(asymmetric_mixture(), np.zeros((4, 3)), 0.5)
    with pytest.raises(ValueError, match="mixture must be a GaussianMixture"):
        mixture_posterior_mean("mixture", GOOD_X, 0.5)
