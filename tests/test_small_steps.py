"""gen_lib.diffusion.small_steps: 逆向きの条件付き分布は、ステップが小さいほどガウス分布に近い。"""

from __future__ import annotations

import numpy as np
import pytest

from gen_lib.diffusion.small_steps import reverse_conditional_gaussian_kl
from gen_lib.distributions.gaussian_mixture import isotropic_mixture


def test_kl_to_the_moment_matched_gaussian_shrinks_with_beta():
    """2 つのモードのデータで、β を小さくすると KL は単調に減り、β = 0.5 と 0.0005 で 5 桁以上違う。"""
    mixture = isotropic_mixture([[-2.0], [2.0]], 0.5, weights=[0.3, 0.7])
    betas = [0.5, 0.2, 0.05, 0.01, 0.002, 0.0005]
    kls = [reverse_conditional_gaussian_kl(mixture, 1.0, beta, 0.0) for beta in betas]
    assert all(a > b for a, b in zip(kls[:-1], kls[1:]))
    assert kls[0] > 0.5 and kls[-1] < 1e-5


def test_gaussian_data_gives_an_exactly_gaussian_reverse_step():
    """データがガウス分布なら q(x_{t-1} | x_t) もガウス分布: KL は (数値積分の精度で) 0。"""
    gaussian = isotropic_mixture([[0.7]], 1.3)
    for beta in (0.5, 0.05):
        assert reverse_conditional_gaussian_kl(gaussian, 0.6, beta, 0.4) < 1e-10


def test_matches_an_independent_quadrature_of_bayes_rule():
    """別の格子 (データの側に広く取った格子) で同じ KL を計算し直しても一致する。"""
    mixture = isotropic_mixture([[-1.0], [1.5]], 0.6, weights=[0.5, 0.5])
    a, beta, x_t = 0.8, 0.3, 0.2
    grid = np.linspace(-15, 15, 200001)
    h = grid[1] - grid[0]
    prior = mixture.noised(np.sqrt(a), np.sqrt(1 - a))
    post = np.exp(prior.log_prob(grid[:, None])) * np.exp(-0.5 * (x_t - np.sqrt(1 - beta) * grid) ** 2 / beta)
    post /= post.sum() * h
    mean = h * np.sum(post * grid)
    var = h * np.sum(post * (grid - mean) ** 2)
    gauss = np.exp(-0.5 * (grid - mean) ** 2 / var) / np.sqrt(2 * np.pi * var)
    mask = post > 0
    expected = h * np.sum(post[mask] * np.log(post[mask] / gauss[mask]))
    assert reverse_conditional_gaussian_kl(mixture, a, beta, x_t) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("kwargs, match", [({"beta": 1.0}, "beta must lie in"), ({"alpha_bar_prev": 0.0}, "alpha_bar"),
                                           ({"x_t": np.nan}, "finite")])
def test_bad_inputs(kwargs, match):
    args = dict(mixture=isotropic_mixture([[0.0]], 1.0), alpha_bar_prev=0.5, beta=0.1, x_t=0.0) | kwargs
    with pytest.raises(ValueError, match=match):
        reverse_conditional_gaussian_kl(**args)
