"""gen_lib.distributions.two_mode_conditional: 「生成モデルとはなにか」の2 つのモードの条件付き分布 p(y|c) の性質を数値で確かめる。"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gen_lib.distributions.two_mode_conditional import TwoModeConditional, off_mode_fraction

C_VALUES = [-1.0, -0.5, 0.0, 0.3, 1.0]
Y_GRID = np.linspace(-4.0, 4.0, 16001)


def density_on_grid(target: TwoModeConditional, c: float) -> np.ndarray:
    return np.exp(target.log_prob(Y_GRID, np.full_like(Y_GRID, c)))


@pytest.mark.parametrize("weight", [0.5, 0.8])
@pytest.mark.parametrize("c", C_VALUES)
@pytest.mark.equation("eq:two-mode-conditional")
def test_conditional_density_integrates_to_one(weight, c):
    """∫ p(y|c) dy = 1 (台形則)。"""
    target = TwoModeConditional(noise_std=0.1, upper_weight=weight)
    assert np.trapezoid(density_on_grid(target, c), Y_GRID) == pytest.approx(1.0, abs=1e-8)


@pytest.mark.equation("eq:two-mode-conditional")
def test_log_prob_matches_direct_mixture_formula():
    """w N(y; g, σ²) + (1-w) N(y; -g, σ²) を exp のまま足した値と一致する。"""
    target = TwoModeConditional(noise_std=0.3, upper_weight=0.7)
    rng = np.random.default_rng(0)
    c, y = rng.uniform(-1, 1, 300), rng.uniform(-2.5, 2.5, 300)
    g = 1 + 0.5 * np.sin(np.pi * c)
    normal = lambda m: np.exp(-0.5 * ((y - m) / 0.3) ** 2) / math.sqrt(2 * math.pi * 0.09)  # noqa: E731
    np.testing.assert_allclose(target.log_prob(y, c), np.log(0.7 * normal(g) + 0.3 * normal(-g)), rtol=1e-12)


@pytest.mark.parametrize("weight", [0.5, 0.8])
@pytest.mark.equation("eq:two-mode-mean")
def test_mean_is_quadrature_of_density(weight):
    """E[y|c] = (2w - 1) g(c) を ∫ y p(y|c) dy と比べる。"""
    target = TwoModeConditional(noise_std=0.1, upper_weight=weight)
    for c in C_VALUES:
        expected = np.trapezoid(Y_GRID * density_on_grid(target, c), Y_GRID)
        assert target.mean([c])[0] == pytest.approx(expected, abs=1e-8)


@pytest.mark.equation("eq:two-mode-conditional")
def test_samples_follow_the_density():
    """c を固定したサンプルのヒストグラムが p(y|c) に合う (モンテカルロ、各ビン 5σ 以内)。"""
    target = TwoModeConditional(noise_std=0.1, upper_weight=0.7)
    n, c = 200_000, 0.3
    y = target.sample(np.full(n, c), seed=0)
    edges = np.linspace(-2.0, 2.0, 81)
    counts, _ = np.histogram(y, bins=edges)
    fine = np.linspace(-2.0, 2.0, 8001)
    dens = np.exp(target.log_prob(fine, np.full_like(fine, c)))
    probs = np.array([np.trapezoid(dens[(fine >= a) & (fine <= b)], fine[(fine >= a) & (fine <= b)])
                      for a, b in zip(edges[:-1], edges[1:])])
    expected = n * probs
    assert np.all(np.abs(counts - expected) <= 5 * np.sqrt(expected) + 5)
    assert np.mean(y > 0) == pytest.approx(0.7, abs=0.005)


def test_sample_joint_draws_uniform_conditions_then_outputs():
    target = TwoModeConditional()
    c, y = target.sample_joint(50_000, seed=1)
    assert c.shape == y.shape == (50_000,)
    assert c.min() >= -1 and c.max() <= 1
    assert np.mean(c) == pytest.approx(0.0, abs=0.02) and np.var(c) == pytest.approx(1 / 3, abs=0.01)
    assert off_mode_fraction(target, y, c) < 0.01


def test_off_mode_fraction():
    """真のサンプルは P(|ε| > 3) ≈ 0.0027、モードのあいだの 0 は全部、モードそのものは 0。"""
    target = TwoModeConditional(noise_std=0.1)
    c, y = target.sample_joint(400_000, seed=2)
    expected = math.erfc(3 / math.sqrt(2))  # P(|ε| > 3) = 0.0026998
    assert off_mode_fraction(target, y, c) == pytest.approx(expected, abs=5e-4)
    assert off_mode_fraction(target, np.zeros_like(c), c) == 1.0
    assert off_mode_fraction(target, -target.branch(c), c) == 0.0


def test_same_seed_same_samples():
    target = TwoModeConditional()
    a, b = target.sample_joint(100, seed=7), target.sample_joint(100, seed=7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], target.sample_joint(100, seed=8)[1])


@pytest.mark.parametrize("kwargs, match", [
    ({"noise_std": 0.0}, "noise_std"),
    ({"noise_std": float("nan")}, "noise_std"),
    ({"upper_weight": 0.0}, "upper_weight"),
    ({"upper_weight": 1.0}, "upper_weight"),
    ({"upper_weight": 1.5}, "upper_weight"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TwoModeConditional(**kwargs)


def test_bad_inputs():
    target = TwoModeConditional()
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        target.log_prob([0.0], [1.5])
    with pytest.raises(ValueError, match="1 dimension"):
        target.log_prob([[0.0]], [[0.0]])
    with pytest.raises(ValueError, match="finite"):
        target.log_prob([np.nan], [0.0])
    with pytest.raises(ValueError, match="same shape"):
        target.log_prob([0.0, 1.0], [0.0])
    with pytest.raises(ValueError, match="at least one"):
        target.sample([])
    with pytest.raises(ValueError, match="n must be"):
        target.sample_joint(0)
    with pytest.raises(ValueError, match="seed"):
        target.sample([0.0], seed=-1)
    with pytest.raises(ValueError, match="n_std"):
        off_mode_fraction(target, [0.0], [0.0], n_std=0)
    with pytest.raises(ValueError, match="TwoModeConditional"):
        off_mode_fraction("p", [0.0], [0.0])
