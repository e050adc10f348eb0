"""gen_lib.metrics.two_sample: エネルギー距離と MMD² の性質を、閉じた式・モンテカルロと比べて確かめる。"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from gen_lib.metrics.two_sample import (energy_distance, gaussian_kernel, median_heuristic, mmd_squared,
                                pairwise_distances)


def normal_abs_mean(m: float, s: float) -> float:
    """W ~ N(m, s²) の E|W| = s √(2/π) exp(-m²/2s²) + m (1 - 2Φ(-m/s))。"""
    phi = 0.5 * (1.0 + math.erf((-m / s) / math.sqrt(2.0)))
    return s * math.sqrt(2.0 / math.pi) * math.exp(-m**2 / (2 * s**2)) + m * (1.0 - 2.0 * phi)


def energy_distance_gaussians_1d(m1, s1, m2, s2) -> float:
    """1 次元正規分布どうしのエネルギー距離: 2E|X-Y| - E|X-X'| - E|Y-Y'|, E|X-X'| = 2σ/√π。"""
    return (2 * normal_abs_mean(m1 - m2, math.hypot(s1, s2))
            - 2 * s1 / math.sqrt(math.pi) - 2 * s2 / math.sqrt(math.pi))


def gaussian_kernel_mean(mu1, s1, mu2, s2, h) -> float:
    """X ~ N(μ1, s1² I), Y ~ N(μ2, s2² I) (d 次元) の E exp(-|X-Y|²/2h²)
    = (h²/(h²+s1²+s2²))^{d/2} exp(-|μ1-μ2|²/(2(h²+s1²+s2²)))。"""
    d = len(mu1)
    t = h**2 + s1**2 + s2**2
    return (h**2 / t) ** (d / 2) * math.exp(-np.sum((np.asarray(mu1) - np.asarray(mu2)) ** 2) / (2 * t))


def test_pairwise_distances_match_direct_computation():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    direct = np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))
    np.testing.assert_allclose(pairwise_distances(x, y), direct, atol=1e-12)


@pytest.mark.parametrize("distance", [energy_distance, lambda x, y: mmd_squared(x, y, 1.0)])
@pytest.mark.equation("eq:energy-distance")
def test_distance_of_a_set_to_itself_is_zero_and_symmetric(distance):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(300, 2)), rng.normal(size=(200, 2)) + 1.0
    assert distance(x, x) == 0.0
    assert distance(x, y) == pytest.approx(distance(y, x), rel=1e-12)
    assert distance(x, y) > 0.05


@pytest.mark.equation("eq:energy-distance")
def test_energy_distance_of_point_masses_is_twice_the_distance():
    # 点質量 δ_a, δ_b: E|X-Y| = |a-b|, E|X-X'| = E|Y-Y'| = 0 → 2|a-b|
    a, b = np.array([0.0, 1.0]), np.array([3.0, 5.0])
    x, y = np.tile(a, (4, 1)), np.tile(b, (6, 1))
    assert energy_distance(x, y) == pytest.approx(2 * math.hypot(3.0, 4.0), rel=1e-12)


@pytest.mark.equation("eq:energy-distance")
def test_energy_distance_between_1d_gaussians_matches_closed_form():
    # 乱数の代わりに分位点 Φ^{-1}((i - 1/2)/n) を点集合にする (経験分布が正規分布に 1/n の速さで近づく)。
    # V 統計量はこの 2 つの経験分布のエネルギー距離そのものなので、閉じた式に収束する。
    m1, s1, m2, s2, n = 0.0, 1.0, 1.0, 0.5, 1000
    levels = (np.arange(n) + 0.5) / n
    x = np.array([NormalDist(m1, s1).inv_cdf(u) for u in levels])[:, None]
    y = np.array([NormalDist(m2, s2).inv_cdf(u) for u in levels])[:, None]
    assert energy_distance(x, y) == pytest.approx(energy_distance_gaussians_1d(m1, s1, m2, s2), abs=1e-3)


def test_energy_distance_decreases_as_distributions_approach():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(800, 2))
    noise = rng.normal(size=(800, 2))
    shifts = [2.0, 1.0, 0.5, 0.25]
    values = [energy_distance(x, noise + np.array([s, 0.0])) for s in shifts]
    assert all(a > b for a, b in zip(values, values[1:]))
    # 1 次元の閉じた式 (ずらした方向だけが違う) とも桁が合う
    for s, v in zip(shifts, values):
        assert v > 0.5 * energy_distance_gaussians_1d(0.0, 1.0, s, 1.0)


def test_unbiased_mmd_matches_closed_form_for_gaussians():
    # MMD² = E k(X,X') + E k(Y,Y') - 2 E k(X,Y) をガウスどうしの閉じた式で
    mu1, mu2, s1, s2, h = [0.0, 0.0], [1.0, 0.0], 1.0, 0.7, 1.0
    exact = (gaussian_kernel_mean(mu1, s1, mu1, s1, h) + gaussian_kernel_mean(mu2, s2, mu2, s2, h)
             - 2 * gaussian_kernel_mean(mu1, s1, mu2, s2, h))
    rng = np.random.default_rng(3)
    estimates = [mmd_squared(rng.normal(size=(600, 2)) * s1 + mu1,
                             rng.normal(size=(600, 2)) * s2 + mu2, h, unbiased=True) for _ in range(4)]
    assert np.mean(estimates) == pytest.approx(exact, abs=0.01)


def test_unbiased_mmd_has_zero_mean_for_identical_distributions():
    rng = np.random.default_rng(4)
    values = np.array([mmd_squared(rng.normal(size=(100, 2)), rng.normal(size=(100, 2)), 1.0, unbiased=True)
                       for _ in range(40)])
    assert np.any(values < 0)  # U 統計量は負にもなる
    assert abs(values.mean()) < 3 * values.std(ddof=1) / math.sqrt(len(values))
    # 偏りのある推定は常に 0 以上
    assert mmd_squared(rng.normal(size=(100, 2)), rng.normal(size=(100, 2)), 1.0) >= 0


def test_gaussian_kernel_and_median_heuristic():
    x = np.array([[0.0], [1.0]])
    y = np.array([[3.0]])
    np.testing.assert_allclose(gaussian_kernel(x, y, 2.0), np.exp(-np.array([[9.0], [4.0]]) / 8.0))
    # 距離 1, 3, 2 の中央値は 2
    assert median_heuristic(x, y) == pytest.approx(2.0)


def test_bad_inputs_raise():
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="same dimension"):
        energy_distance(x, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        energy_distance(x, np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="2 dimension"):
        energy_distance(np.zeros(3), x)
    with pytest.raises(ValueError, match="at least one point"):
        mmd_squared(np.zeros((0, 2)), x, 1.0)
    with pytest.raises(ValueError, match="bandwidth"):
        mmd_squared(x, x, 0.0)
    with pytest.raises(ValueError, match="at least 2 points"):
        mmd_squared(np.zeros((1, 2)), x, 1.0, unbiased=True)
    with pytest.raises(ValueError, match="distinct points"):
        median_heuristic(x, x)


@pytest.mark.parametrize("offset", [1e3, 1e6, 1e8])
def test_distances_are_translation_invariant_far_from_the_origin(offset):
    """‖x‖² + ‖y‖² - 2x·y の桁落ちを避ける: 1e8 ずらしても直接計算した距離と一致する。"""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 2)), rng.normal(size=(60, 2)) + 0.5
    direct = np.linalg.norm(x[:, None, :] - y[None, :, :], axis=2)
    assert np.allclose(pairwise_distances(x + offset, y + offset), direct, atol=1e-6)
    assert energy_distance(x + offset, y + offset) == pytest.approx(energy_distance(x, y), abs=1e-6)
    h = median_heuristic(x, y)
    assert median_heuristic(x + offset, y + offset) == pytest.approx(h, abs=1e-6)
    assert mmd_squared(x + offset, y + offset, h) == pytest.approx(mmd_squared(x, y, h), abs=1e-8)
