"""gen_lib.distributions.gaussian_mixture: 記号一覧の「おもちゃの 2 次元分布」で述べた性質を数値で確かめる。"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gen_lib.distributions.gaussian_mixture import (GaussianMixture, asymmetric_mixture, isotropic_mixture,
                                      ring_of_gaussians)

MIXTURES = {"ring": ring_of_gaussians, "asymmetric": asymmetric_mixture}


def direct_log_prob(mixture: GaussianMixture, x: np.ndarray) -> np.ndarray:
    """N(x; μ, Σ) = (2π)^{-d/2} det(Σ)^{-1/2} exp(-½ (x-μ)^T Σ^{-1} (x-μ)) を inv と det でそのまま足し合わせる。"""
    d = x.shape[1]
    total = np.zeros(x.shape[0])
    for w, mu, cov in zip(mixture.weights, mixture.means, mixture.covariances):
        diff = x - mu
        quad = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
        total += w * np.exp(-0.5 * quad) / math.sqrt((2 * math.pi) ** d * np.linalg.det(cov))
    return np.log(total)


def mixture_moments(mixture: GaussianMixture):
    """E[x] = Σ π_k μ_k, Cov[x] = Σ π_k (Σ_k + μ_k μ_k^T) - E[x] E[x]^T。"""
    mean = mixture.weights @ mixture.means
    second = np.einsum("k,kij->ij", mixture.weights,
                       mixture.covariances + np.einsum("ki,kj->kij", mixture.means, mixture.means))
    return mean, second - np.outer(mean, mean)


# ---- 対数密度 ---------------------------------------------------------------------------

@pytest.mark.equation("eq:gaussian-density")
def test_single_isotropic_gaussian_matches_textbook_formula():
    mu, std, d = np.array([[0.5, -1.0, 2.0]]), 0.7, 3
    mixture = isotropic_mixture(mu, std)
    x = np.random.default_rng(0).normal(size=(50, d))
    expected = -0.5 * d * math.log(2 * math.pi * std**2) - np.sum((x - mu) ** 2, axis=1) / (2 * std**2)
    np.testing.assert_allclose(mixture.log_prob(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", MIXTURES)
@pytest.mark.equation("eq:gaussian-density", "eq:gaussian-mixture")
def test_log_prob_matches_direct_sum_of_densities(name):
    mixture = MIXTURES[name]()
    x = np.random.default_rng(1).uniform(-2.5, 2.5, size=(200, 2))
    np.testing.assert_allclose(mixture.log_prob(x), direct_log_prob(mixture, x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", MIXTURES)
def test_log_prob_torch_agrees_with_numpy(name):
    mixture = MIXTURES[name]()
    x = np.random.default_rng(2).normal(size=(100, 2)) * 2
    got = mixture.log_prob_torch(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(got, mixture.log_prob(x), rtol=1e-10, atol=1e-10)


@pytest.mark.equation("eq:mixture-logsumexp")
def test_log_prob_is_stable_far_from_every_mode():
    # 直接 exp を足すと 0 になる場所でも logsumexp なら有限で、最も近い成分の対数密度に一致する。
    mixture = isotropic_mixture([[0.0, 0.0], [1.0, 0.0]], std=0.1)
    x = np.array([[60.0, 0.0]])
    nearest = -math.log(2) - math.log(2 * math.pi * 0.01) - 59.0**2 / (2 * 0.01)
    np.testing.assert_allclose(mixture.log_prob(x), [nearest], rtol=1e-12)


@pytest.mark.parametrize("name, lim", [("ring", 3.5), ("asymmetric", 5.0)])
@pytest.mark.equation("eq:gaussian-mixture")
def test_density_integrates_to_one_on_a_grid(name, lim):
    mixture = MIXTURES[name]()
    xs = np.linspace(-lim, lim, 401)
    grid = np.stack(np.meshgrid(xs, xs), axis=-1).reshape(-1, 2)
    h = xs[1] - xs[0]
    total = np.exp(mixture.log_prob(grid)).sum() * h * h
    assert abs(total - 1.0) < 1e-6


# ---- スコアと事後確率 -------------------------------------------------------------------------

@pytest.mark.parametrize("name", MIXTURES)
@pytest.mark.equation("eq:mixture-score")
def test_score_equals_autograd_of_log_prob_torch(name):
    mixture = MIXTURES[name]()
    x = torch.as_tensor(np.random.default_rng(3).normal(size=(64, 2)) * 1.5, dtype=torch.float64)
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(mixture.log_prob_torch(x).sum(), x)
    np.testing.assert_allclose(mixture.score(x.detach().numpy()), grad.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.equation("eq:mixture-score")
def test_responsibilities_are_posterior_probabilities():
    mixture = asymmetric_mixture()
    x = np.random.default_rng(4).normal(size=(30, 2))
    r = mixture.responsibilities(x)
    np.testing.assert_allclose(r.sum(axis=1), 1.0, rtol=1e-12)
    expected = np.exp(mixture.component_log_prob(x) - direct_log_prob(mixture, x)[:, None])
    np.testing.assert_allclose(r, expected, rtol=1e-9, atol=1e-12)


# ---- サンプリング ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", MIXTURES)
@pytest.mark.equation("eq:gaussian-mixture")
def test_sample_moments_match_mixture_moments(name):
    mixture = MIXTURES[name]()
    n = 100_000
    x = mixture.sample(n, seed=5)
    assert x.shape == (n, 2) and x.dtype == np.float64
    mean, cov = mixture_moments(mixture)
    # 許容幅は標準誤差の 5 倍: 平均は sqrt(Var/n)、共分散の各成分は積 (x_i - m_i)(x_j - m_j) の標準偏差 / sqrt(n)。
    np.testing.assert_array_less(np.abs(x.mean(axis=0) - mean), 5 * np.sqrt(np.diag(cov) / n))
    centred = x - x.mean(axis=0)
    products = np.einsum("ni,nj->nij", centred, centred)
    stderr = products.std(axis=0) / math.sqrt(n)
    np.testing.assert_array_less(np.abs(products.mean(axis=0) - cov), 5 * stderr)


@pytest.mark.equation("eq:gaussian-mixture")
def test_sample_label_frequencies_match_weights():
    mixture = asymmetric_mixture()
    n = 50_000
    x, labels = mixture.sample(n, seed=6, return_labels=True)
    freq = np.bincount(labels, minlength=3) / n
    stderr = np.sqrt(mixture.weights * (1 - mixture.weights) / n)
    np.testing.assert_array_less(np.abs(freq - mixture.weights), 5 * stderr)
    # ラベル k の点は成分 k から出ている: 成分ごとのサンプル平均が μ_k に近い。
    for k in range(3):
        xk = x[labels == k]
        se = np.sqrt(np.diag(mixture.covariances[k]) / len(xk))
        np.testing.assert_array_less(np.abs(xk.mean(axis=0) - mixture.means[k]), 5 * se)


def test_sample_is_deterministic_given_seed():
    mixture = ring_of_gaussians()
    np.testing.assert_array_equal(mixture.sample(100, seed=7), mixture.sample(100, seed=7))
    assert not np.array_equal(mixture.sample(100, seed=7), mixture.sample(100, seed=8))
    a = mixture.sample(100, seed=np.random.default_rng(9))
    b = mixture.sample(100, seed=np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)


# ---- ファクトリ -------------------------------------------------------------------------------

def test_ring_of_gaussians_places_modes_on_the_circle():
    mixture = ring_of_gaussians(n_modes=6, radius=3.0, std=0.2)
    np.testing.assert_allclose(np.linalg.norm(mixture.means, axis=1), 3.0)
    np.testing.assert_allclose(mixture.weights, np.full(6, 1 / 6))
    np.testing.assert_allclose(mixture.covariances, np.broadcast_to(0.04 * np.eye(2), (6, 2, 2)))


def test_isotropic_mixture_keeps_given_weights():
    mixture = isotropic_mixture([[0.0], [1.0]], std=0.5, weights=[0.25, 0.75])
    np.testing.assert_allclose(mixture.weights, [0.25, 0.75])
    assert mixture.dim == 1


# ---- 不正な入力 -------------------------------------------------------------------------------

EYE2 = np.eye(2)


@pytest.mark.parametrize("weights, means, covariances, match", [
    ([0.5, 0.5], [[0, 0], [1, 1]], [EYE2, [[1, 2], [2, 1]]], "positive definite"),  # 固有値 -1
    ([0.5, 0.5], [[0, 0], [1, 1]], [EYE2, [[1, 0.5], [0, 1]]], "positive definite"),  # 非対称
    ([0.5, 0.5], [[0, 0], [1, 1]], [EYE2, np.zeros((2, 2))], "positive definite"),  # 特異
    ([0.5, 0.6], [[0, 0], [1, 1]], [EYE2, EYE2], "sum to 1"),
    ([1.5, -0.5], [[0, 0], [1, 1]], [EYE2, EYE2], "non-negative"),
    ([], np.zeros((0, 2)), np.zeros((0, 2, 2)), "sum to 1"),
    ([1.0], [[0, 0], [1, 1]], [EYE2, EYE2], "expected weights"),
    ([0.5, 0.5], [0, 1], [EYE2, EYE2], "means must have 2"),
    ([0.5, 0.5], [[0, 0], [1, 1]], EYE2, "covariances must have 3"),
    ([0.5, 0.5], [[0, 0], [1, 1]], [np.eye(3), np.eye(3)], "expected weights"),
    ([0.5, 0.5], [[0, np.nan], [1, 1]], [EYE2, EYE2], "means must be finite"),
    ([0.5, 0.5], [[0, 0], [1, 1]], [EYE2, [[np.inf, 0], [0, 1]]], "covariances must be finite"),
    ([0.5, np.nan], [[0, 0], [1, 1]], [EYE2, EYE2], "weights must be finite"),
    ("ab", [[0, 0]], [EYE2], "weights must be numeric"),
])
def test_constructor_rejects_bad_parameters(weights, means, covariances, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(weights, means, covariances)


@pytest.mark.parametrize("x, match", [
    ([0.0, 0.0], "2 dimension"),
    (np.zeros((0, 2)), "at least one point"),
    (np.zeros((3, 3)), r"shape \(N, 2\)"),
    ([[0.0, np.nan]], "finite"),
    ([[0.0, np.inf]], "finite"),
])
def test_log_prob_and_score_reject_bad_points(x, match):
    mixture = ring_of_gaussians()
    for method in (mixture.log_prob, mixture.score, mixture.responsibilities):
        with pytest.raises(ValueError, match=match):
            method(x)


@pytest.mark.parametrize("x, match", [
    (torch.zeros(2), r"shape \(N, d\)"),
    (torch.zeros(4, 3), r"shape \(N, 2\)"),
    (torch.tensor([[0.0, float("nan")]]), "finite"),
])
def test_log_prob_torch_rejects_bad_points(x, match):
    with pytest.raises(ValueError, match=match):
        ring_of_gaussians().log_prob_torch(x)


@pytest.mark.parametrize("n", [0, -1, 1.5, True, "10", None])
def test_sample_rejects_bad_counts(n):
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        ring_of_gaussians().sample(n)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None, True])
def test_sample_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed must be"):
        ring_of_gaussians().sample(5, seed=seed)


@pytest.mark.parametrize("kwargs, match", [
    ({"std": 0.0}, "std must be a positive"),
    ({"std": -0.1}, "std must be a positive"),
    ({"std": float("nan")}, "std must be a positive"),
    ({"radius": 0.0}, "radius must be a positive"),
    ({"radius": float("inf")}, "radius must be a positive"),
    ({"n_modes": 0}, "n_modes must be an integer >= 1"),
    ({"n_modes": 2.5}, "n_modes must be an integer >= 1"),
])
def test_ring_of_gaussians_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ring_of_gaussians(**kwargs)


@pytest.mark.parametrize("means, std, weights, match", [
    ([[0.0, 0.0]], 0.0, None, "std must be a positive"),
    ([[0.0, 0.0]], "1", None, "std must be a positive"),
    ([0.0, 0.0], 1.0, None, "means must have 2"),
    ([[0.0, 0.0], [1.0, 1.0]], 1.0, [0.2, 0.2], "sum to 1"),
    ([[0.0, 0.0], [1.0, 1.0]], 1.0, [1.0], "expected weights"),
])
def test_isotropic_mixture_rejects_bad_parameters(means, std, weights, match):
    with pytest.raises(ValueError, match=match):
        isotropic_mixture(means, std, weights)


@pytest.mark.parametrize("scale, noise_std, match", [
    (-0.5, 1.0, "scale must be a finite number >= 0"),
    (float("inf"), 1.0, "scale must be a finite number >= 0"),
    (1.0, float("nan"), "noise_std must be a finite number >= 0"),
    (1.0, "1", "noise_std must be a finite number >= 0"),
    (True, 1.0, "scale must be a finite number >= 0"),
])
def test_noised_rejects_bad_parameters(scale, noise_std, match):
    with pytest.raises(ValueError, match=match):
        ring_of_gaussians().noised(scale, noise_std)
