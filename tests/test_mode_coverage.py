"""gen_lib.metrics.mode_coverage: モード被覆と 3σ 以内の「高品質」サンプルの割合。"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gen_lib.distributions.gaussian_mixture import isotropic_mixture, ring_of_gaussians
from gen_lib.metrics.mode_coverage import mode_coverage


def test_samples_from_the_mixture_cover_every_mode_and_match_chi_square():
    # 2 次元の等方ガウスでは |x - μ|²/σ² ~ χ²(2) なので P(マハラノビス距離 <= 3) = 1 - exp(-9/2)
    mixture = ring_of_gaussians()
    x = mixture.sample(20000, seed=0)
    result = mode_coverage(mixture, x)
    assert result.covered == 8 and result.covered_fraction == 1.0
    assert result.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.004)
    assert result.counts.sum() == round(result.high_quality * len(x))


def test_collapsed_samples_cover_one_mode():
    mixture = ring_of_gaussians()
    at_one_mode = mixture.means[[2]] + 0.01 * np.random.default_rng(1).normal(size=(500, 2))
    result = mode_coverage(mixture, at_one_mode)
    assert (result.covered, result.high_quality) == (1, 1.0)
    assert result.counts[2] == 500


def test_samples_between_modes_are_not_high_quality():
    mixture = ring_of_gaussians()
    result = mode_coverage(mixture, np.zeros((100, 2)))  # 円の中心: どのモードからも 2/0.15 σ
    assert (result.covered, result.high_quality) == (0, 0.0)


def test_a_stray_sample_does_not_count_as_coverage():
    mixture = ring_of_gaussians()
    x = np.concatenate([np.repeat(mixture.means[[0]], 799, axis=0), mixture.means[[4]]])
    # 公平な取り分 800/8 = 100 の 0.1 倍 = 10 点に届かないモード 4 は被覆に数えない
    assert mode_coverage(mixture, x).covered == 1
    assert mode_coverage(mixture, x, min_share=0.001).covered == 2


def test_mahalanobis_distance_uses_the_covariance():
    mixture = isotropic_mixture([[0.0, 0.0]], 2.0)
    assert mode_coverage(mixture, [[5.9, 0.0]]).high_quality == 1.0  # 2.95σ
    assert mode_coverage(mixture, [[6.1, 0.0]]).high_quality == 0.0  # 3.05σ


def test_bad_inputs_raise():
    mixture = ring_of_gaussians()
    with pytest.raises(ValueError, match="GaussianMixture"):
        mode_coverage("ring", np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        mode_coverage(mixture, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        mode_coverage(mixture, [[np.inf, 0.0]])
    with pytest.raises(ValueError, match="n_std"):
        mode_coverage(mixture, np.zeros((3, 2)), n_std=0)
    with pytest.raises(ValueError, match="min_share"):
        mode_coverage(mixture, np.zeros((3, 2)), min_share=-1)
