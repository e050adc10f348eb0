"""スコア関数 (docs/ch2/score.md): 混合分布の解析的なスコア、自動微分、Z によらないこと、悪い入力。"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gen_lib.distributions.gaussian_mixture import (GaussianMixture, asymmetric_mixture, isotropic_mixture,
                                      ring_of_gaussians)
from gen_lib.score_based.score import score_from_energy, score_from_log_density


def _random_full_covariance_mixture(dim: int, k: int, seed: int) -> GaussianMixture:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, dim, dim))
    cov = a @ np.swapaxes(a, 1, 2) + 0.3 * np.eye(dim)  # 対称正定値 (非対角成分あり)
    w = rng.dirichlet(np.ones(k))
    return GaussianMixture(w, 2.0 * rng.standard_normal((k, dim)), cov)


MIXTURES = {
    "ring": ring_of_gaussians(),
    "asymmetric": asymmetric_mixture(),
    "1d": isotropic_mixture([[-2.0], [1.5]], std=0.6, weights=[0.3, 0.7]),
    "full-2d": _random_full_covariance_mixture(2, 4, seed=1),
    "full-3d": _random_full_covariance_mixture(3, 3, seed=2),
}


def _points(mixture: GaussianMixture, seed: int = 0) -> np.ndarray:
    """サンプルと、密度の低い遠方の点の両方で比べる。"""
    rng = np.random.default_rng(seed)
    return np.concatenate([mixture.sample(200, seed=seed), 4.0 * rng.standard_normal((50, mixture.dim))])


@pytest.mark.parametrize("name", MIXTURES)
@pytest.mark.equation("eq:score", "eq:mixture-score")
def test_mixture_score_equals_autograd_of_exact_log_density(name):
    # s(x) = -Σ_k r_k(x) Σ_k^{-1}(x - μ_k) と ∇_x log p(x) (自動微分) が一致する
    mixture = MIXTURES[name]
    x = _points(mixture)
    analytic = mixture.score(x)
    autograd = score_from_log_density(mixture.log_prob_torch, x)
    np.testing.assert_allclose(analytic, autograd, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["asymmetric", "full-3d"])
@pytest.mark.equation("eq:score", "eq:mixture-score")
def test_mixture_score_matches_finite_differences(name):
    # 自動微分とは独立な確かめ: 中心差分 (log p(x + h e_i) - log p(x - h e_i)) / 2h
    mixture = MIXTURES[name]
    x = mixture.sample(30, seed=3)
    h = 1e-5
    fd = np.stack([(mixture.log_prob(x + h * e) - mixture.log_prob(x - h * e)) / (2 * h)
                   for e in np.eye(mixture.dim)], axis=1)
    np.testing.assert_allclose(mixture.score(x), fd, rtol=1e-6, atol=1e-6)


@pytest.mark.equation("eq:gaussian-score", "eq:score-without-partition")
def test_score_from_energy_is_minus_gradient_of_quadratic_energy():
    # f(x) = ½ (x-μ)^T Λ (x-μ) なら -∇f(x) = -Λ (x-μ) (ガウス分布のスコア)
    mu = torch.tensor([0.5, -1.0], dtype=torch.float64)
    lam = torch.tensor([[2.0, 0.7], [0.7, 1.0]], dtype=torch.float64)

    def energy(x):
        d = x - mu
        return 0.5 * torch.einsum("ni,ij,nj->n", d, lam, d)

    x = np.random.default_rng(0).standard_normal((40, 2))
    expected = -(x - mu.numpy()) @ lam.numpy().T
    np.testing.assert_allclose(score_from_energy(energy, x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shift", [-100.0, 0.0, 3.7, 1e3])
@pytest.mark.equation("eq:score-without-partition")
def test_score_of_energy_does_not_depend_on_constant_shift(shift):
    # f → f + c は Z → Z e^{-c} (正規化定数だけが変わる)。スコア -∇f は変わらない
    mixture = asymmetric_mixture()
    x = _points(mixture, seed=4)
    base = score_from_energy(lambda t: -mixture.log_prob_torch(t), x)
    shifted = score_from_energy(lambda t: -mixture.log_prob_torch(t) + shift, x)
    np.testing.assert_allclose(shifted, base, rtol=0, atol=1e-12)
    # EBM として書いたスコアは解析的なスコアと一致する (f = -log p, Z = 1)
    np.testing.assert_allclose(base, mixture.score(x), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("z", [1e-6, 0.5, 2.0, 1e6])
@pytest.mark.equation("eq:score-without-partition")
def test_score_of_scaled_density_is_unchanged(z):
    # γ(x) = Z p(x): log γ = log p + log Z なので ∇ log γ = ∇ log p
    mixture = ring_of_gaussians()
    x = _points(mixture, seed=5)
    scaled = score_from_log_density(lambda t: mixture.log_prob_torch(t) + math.log(z), x)
    np.testing.assert_allclose(scaled, mixture.score(x), rtol=1e-9, atol=1e-9)


@pytest.mark.equation("eq:gaussian-score")
def test_score_is_zero_at_the_mode_of_a_gaussian():
    mixture = isotropic_mixture([[1.0, -2.0]], std=0.5)
    np.testing.assert_allclose(mixture.score([[1.0, -2.0]]), 0.0, atol=1e-14)
    np.testing.assert_allclose(score_from_log_density(mixture.log_prob_torch, [[1.0, -2.0]]), 0.0, atol=1e-12)


def test_score_returns_float64_numpy_of_input_shape():
    mixture = asymmetric_mixture()
    s = score_from_log_density(mixture.log_prob_torch, torch.zeros(7, 2))
    assert isinstance(s, np.ndarray) and s.dtype == np.float64 and s.shape == (7, 2)


@pytest.mark.parametrize("function", [score_from_energy, score_from_log_density])
def test_bad_inputs(function):
    mixture = asymmetric_mixture()
    good = mixture.log_prob_torch
    with pytest.raises(ValueError, match="must be callable"):
        function("not a function", np.zeros((3, 2)))
    with pytest.raises(ValueError, match="2 dimension"):
        function(good, np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        function(good, [[0.0, np.nan]])
    with pytest.raises(ValueError, match="shape \\(N, 2\\)"):
        function(good, np.zeros((3, 3)))  # 次元 d が分布と合わない
    with pytest.raises(ValueError, match="shape \\(N,\\)"):
        function(lambda t: t, np.zeros((3, 2)))  # (N, d) を返す
    with pytest.raises(ValueError, match="shape \\(N,\\)"):
        function(lambda t: t.sum(dim=1).detach().numpy(), np.zeros((3, 2)))  # テンソルでない
    with pytest.raises(ValueError, match="non-finite"):
        function(lambda t: torch.log(t[:, 0] - 10.0), np.zeros((3, 2)))  # log(負) = NaN


@pytest.mark.equation("eq:mixture-score")
def test_score_near_separated_modes_does_not_see_the_weights():
    # 離れたモードの近くでは r_k(x) がほぼ 0 か 1 なので、重みを変えてもスコアは (float64 で) 変わらない
    from gen_lib.score_based.langevin import separated_modes_mixture

    mixture = separated_modes_mixture()  # 重み 0.2 / 0.8
    equal = isotropic_mixture(mixture.means, std=1.0, weights=[0.5, 0.5])
    x = mixture.sample(5000, seed=6)
    np.testing.assert_allclose(mixture.score(x), equal.score(x), rtol=0, atol=1e-10)
    # 中点 0 では r_k(0) = π_k なので s(0) = Σ_k π_k μ_k (Σ_k = I): 重みの情報はここにある
    np.testing.assert_allclose(mixture.score([[0.0, 0.0]]), [[3.0, 3.0]], atol=1e-12)
    np.testing.assert_allclose(equal.score([[0.0, 0.0]]), [[0.0, 0.0]], atol=1e-12)


def test_student_t_score_vanishes_in_the_tails():
    """ページの例: 自由度 ν の t 分布のスコア $-(\\nu + 1)x / (\\nu + x^2)$ (自動微分と比べる) は裾で 0 に近づく。"""
    import torch

    nu = 3.0
    x = torch.linspace(-50.0, 50.0, 201, dtype=torch.float64, requires_grad=True)
    log_p = torch.distributions.StudentT(nu).log_prob(x)
    (autograd,) = torch.autograd.grad(log_p.sum(), x)
    closed = -(nu + 1) * x.detach() / (nu + x.detach() ** 2)
    torch.testing.assert_close(autograd, closed, rtol=1e-12, atol=1e-14)
    assert abs(closed[-1].item()) < 0.1 < abs(closed[x.detach().abs().argmin() + 20].item())
