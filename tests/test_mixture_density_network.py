"""gen_lib.generative.mixture_density_network: 条件付き生成モデル q_θ(y|c) (Bishop 1994) の性質を数値で確かめる。"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gen_lib.generative.mixture_density_network import MixtureDensityNetwork, train_mdn
from gen_lib.distributions.two_mode_conditional import TwoModeConditional, off_mode_fraction

Y_GRID = np.linspace(-8.0, 8.0, 32001)
C_VALUES = [-0.9, -0.3, 0.0, 0.5, 1.0]


def integral_over_y(mdn: MixtureDensityNetwork, c: float) -> float:
    return float(np.trapezoid(np.exp(mdn.log_prob(Y_GRID, np.full_like(Y_GRID, c))), Y_GRID))


@pytest.fixture(scope="module", params=[0.5, 0.8], ids=["symmetric", "asymmetric"])
def trained(request):
    target = TwoModeConditional(upper_weight=request.param)
    c, y = target.sample_joint(2000, seed=0)
    return target, train_mdn(y, c, seed=0)


@pytest.mark.equation("eq:mdn")
def test_log_prob_matches_torch_distributions():
    """logsumexp の式を torch.distributions.MixtureSameFamily と比べる (学習前の任意のパラメータで)。"""
    mdn = MixtureDensityNetwork(4, seed=3)
    rng = np.random.default_rng(0)
    c, y = rng.uniform(-1, 1, 200), rng.normal(size=200) * 2
    with torch.no_grad():
        log_pi, mu, log_sigma = mdn(torch.from_numpy(c[:, None]))
        reference = torch.distributions.MixtureSameFamily(
            torch.distributions.Categorical(logits=log_pi),
            torch.distributions.Normal(mu, log_sigma.exp())).log_prob(torch.from_numpy(y))
    np.testing.assert_allclose(mdn.log_prob(y, c), reference.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("c", C_VALUES)
@pytest.mark.equation("eq:mdn")
def test_untrained_mixture_density_integrates_to_one(c):
    assert integral_over_y(MixtureDensityNetwork(3, seed=1), c) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.equation("eq:mdn")
def test_trained_mixture_density_integrates_to_one(trained):
    _, mdn = trained
    for c in C_VALUES:
        assert integral_over_y(mdn, c) == pytest.approx(1.0, abs=1e-6)


def test_trained_log_likelihood_is_close_to_the_exact_one(trained):
    """評価データでの E[log p(y|c)] - E[log q_θ(y|c)] (条件付き KL の推定値) が小さい。"""
    target, mdn = trained
    c, y = target.sample_joint(20_000, seed=1)
    gap = target.log_prob(y, c).mean() - mdn.log_prob(y, c).mean()
    assert -0.02 < gap < 0.05


def test_samples_hit_both_modes_in_the_right_proportions(trained):
    target, mdn = trained
    grid = np.linspace(-0.95, 0.95, 20)
    y = mdn.sample(np.repeat(grid, 1000), seed=2).reshape(20, 1000)  # 行 i は c = grid[i]
    upper = np.mean(y > 0, axis=1)  # 条件ごとの、上のモード (y > 0) に落ちた割合
    assert np.mean(upper) == pytest.approx(target.upper_weight, abs=0.03)
    assert np.all(np.abs(upper - target.upper_weight) < 0.15)  # どの条件でも両方のモードをほぼ正しい割合で
    c = np.repeat(grid, 1000)
    y = y.ravel()
    assert off_mode_fraction(target, y, c) < 0.02


@pytest.mark.equation("eq:mdn")
def test_sampling_follows_the_predicted_mixture():
    """サンプルの平均・分散が混合分布の E[y|c] = Σ π_k μ_k, Var = Σ π_k (σ_k² + μ_k²) - E² に合う。"""
    mdn = MixtureDensityNetwork(3, seed=4)
    c0, n = 0.2, 200_000
    y = mdn.sample(np.full(n, c0), seed=0)
    with torch.no_grad():
        log_pi, mu, log_sigma = (t[0].numpy() for t in mdn(torch.tensor([[c0]], dtype=torch.float64)))
    pi = np.exp(log_pi)
    mean = pi @ mu
    var = pi @ (np.exp(2 * log_sigma) + mu**2) - mean**2
    assert y.mean() == pytest.approx(mean, abs=5 * np.sqrt(var / n))
    assert y.var() == pytest.approx(var, rel=0.02)


def test_same_seed_same_weights_and_samples():
    target = TwoModeConditional()
    c, y = target.sample_joint(300, seed=1)
    a, b = train_mdn(y, c, steps=20, seed=5), train_mdn(y, c, steps=20, seed=5)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    np.testing.assert_array_equal(a.sample(c, seed=3), b.sample(c, seed=3))
    assert not np.array_equal(a.sample(c, seed=3), a.sample(c, seed=4))
    other = train_mdn(y, c, steps=20, seed=6)
    assert not np.array_equal(a.log_prob(y, c), other.log_prob(y, c))


def test_bad_inputs():
    target = TwoModeConditional()
    c, y = target.sample_joint(10, seed=0)
    with pytest.raises(ValueError, match="n_components"):
        MixtureDensityNetwork(0)
    with pytest.raises(ValueError, match="steps"):
        train_mdn(y, c, steps=0)
    with pytest.raises(ValueError, match="lr"):
        train_mdn(y, c, lr=float("nan"))
    with pytest.raises(ValueError, match="same shape"):
        train_mdn(y[:3], c)
    mdn = MixtureDensityNetwork(2)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        mdn.sample([1.2])
    with pytest.raises(ValueError, match="finite"):
        mdn.log_prob([np.nan], [0.0])
    with pytest.raises(ValueError, match="seed"):
        mdn.sample([0.0], seed=-3)
