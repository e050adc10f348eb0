"""gen_lib.score_based.annealed_langevin: 焼きなましランジュバン法 (Song & Ermon 2019, Algorithm 1) を数値で確かめる。"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gen_lib.score_based.annealed_langevin import annealed_langevin_sample
from gen_lib.score_based.langevin import langevin_failure_setting, langevin_sample
from gen_lib.metrics.mode_weights import mode_weight_error
from gen_lib.score_based.ncsn import exact_noise_conditional_score, geometric_noise_levels
from gen_lib.experiments.ch2_ncsn import SamplerSettings, noise_levels


def linear_score(mean: float, var: float):
    """1 次元 N(mean, var) にノイズを加えた N(mean, var + σ²) のスコア -(x - mean)/(var + σ²)。"""
    return lambda x, sigma: -(x - mean) / (var + sigma**2)


# ---- モードの重み: ランジュバン法は失敗し、焼きなましは直す ---------------------------------------

@pytest.mark.equation("eq:annealed-langevin")
def test_annealed_langevin_recovers_the_mode_weights_where_plain_langevin_fails():
    """離れた 2 つのモード (重み 0.2 / 0.8)、同じ初期値・同じ総ステップ数 L T で、厳密なスコアを使って比べる。

    400 本の連鎖なら、正しい分布からのサンプルでも重みの誤差 |π̂_1 - 0.2| の標準偏差は
    √(0.2·0.8/400) = 0.02。焼きなましは 0.06 (3 標準偏差) 以内、ランジュバン法は 0.2 を超える。
    """
    setting = langevin_failure_setting(400, seed=3)
    mixture = setting.mixture
    sigmas, sampler = noise_levels(), SamplerSettings()
    n_steps = len(sigmas) * sampler.n_steps_each
    plain = langevin_sample(mixture.score, setting.x0, setting.step_size, n_steps, seed=setting.seed)
    annealed = annealed_langevin_sample(exact_noise_conditional_score(mixture), setting.x0, sigmas,
                                        sampler.step_size, sampler.n_steps_each, seed=setting.seed)
    assert mode_weight_error(mixture, plain) > 0.2
    assert mode_weight_error(mixture, annealed) < 0.06
    # 焼きなましのサンプルはモードの近くにある (各点の最も近い平均までの距離の 2 乗の平均 ≈ d = 2)
    nearest = np.min(np.sum((annealed[:, None, :] - mixture.means[None]) ** 2, axis=2), axis=1)
    assert 1.6 < nearest.mean() < 2.6


# ---- 1 次元のガウス分布: 連鎖は線形なので平均と分散が厳密に追える ---------------------------------

@pytest.mark.equation("eq:annealed-langevin")
def test_gaussian_chain_moments_match_the_exact_recursion():
    """スコアが線形 -(x-m)/v_i なら 1 ステップは x' = a x + b + √α z (a = 1 - α/2v_i, b = α m/2v_i)。

    平均は μ' = a μ + b、分散は V' = a² V + α と厳密に更新される。初期値のサンプル平均・サンプル分散から
    この漸化式で求めた値と、20000 本の連鎖のサンプル平均・サンプル分散を比べる (許容は 4 標準誤差)。
    さらに終わりの分布は p_{σ_L} = N(m, s² + σ_L²) に近い (ULA の偏り ε/4v ≈ 1% 程度)。
    """
    m, s2, n = 1.5, 0.25, 20000
    sigmas = geometric_noise_levels(3.0, 0.1, 6)
    eps, T = 0.01, 150
    x0 = np.random.default_rng(0).uniform(-4.0, 4.0, size=(n, 1))
    x = annealed_langevin_sample(linear_score(m, s2), x0, sigmas, eps, T, seed=1)
    mu, V = x0.mean(), x0.var()
    for sigma in sigmas:
        alpha = eps * sigma**2 / sigmas[-1] ** 2
        v = s2 + sigma**2
        a, b = 1.0 - alpha / (2 * v), alpha * m / (2 * v)
        for _ in range(T):
            mu, V = a * mu + b, a**2 * V + alpha
    assert abs(x.mean() - mu) < 4 * math.sqrt(V / n)
    assert abs(x.var() - V) < 4 * V * math.sqrt(2 / n)
    target = s2 + sigmas[-1] ** 2
    assert abs(mu - m) < 1e-3 and abs(V / target - 1) < 0.03


@pytest.mark.equation("eq:annealed-langevin")
def test_step_sizes_follow_algorithm_1():
    """同じ乱数を引き直して α_i = ε σ_i²/σ_L² の更新を手で繰り返した結果と一致する。"""
    sigmas = np.array([2.0, 1.0, 0.5])
    eps, T, seed = 0.01, 7, 5
    x0 = np.random.default_rng(2).normal(size=(30, 2))
    score = linear_score(0.3, 0.5)
    got = annealed_langevin_sample(score, x0, sigmas, eps, T, seed=seed)
    rng = np.random.default_rng(seed)
    x = x0.copy()
    for sigma in sigmas:
        alpha = eps * sigma**2 / 0.25
        for _ in range(T):
            z = rng.standard_normal(x.shape)
            x = x + alpha / 2 * score(x, sigma) + np.sqrt(alpha) * z
    np.testing.assert_allclose(got, x, rtol=1e-12, atol=1e-12)


def test_return_path_and_determinism():
    sigmas = geometric_noise_levels(2.0, 0.2, 4)
    x0 = np.random.default_rng(0).normal(size=(50, 2))
    score = linear_score(0.0, 1.0)
    path = annealed_langevin_sample(score, x0, sigmas, 0.01, 5, seed=3, return_path=True)
    assert path.shape == (len(sigmas) + 1, 50, 2)
    np.testing.assert_array_equal(path[0], x0)
    final = annealed_langevin_sample(score, x0, sigmas, 0.01, 5, seed=3)
    np.testing.assert_array_equal(path[-1], final)
    np.testing.assert_array_equal(final, annealed_langevin_sample(score, x0, sigmas, 0.01, 5,
                                                                  seed=np.random.default_rng(3)))
    assert not np.allclose(final, annealed_langevin_sample(score, x0, sigmas, 0.01, 5, seed=4))


# ---- 不正な入力 -------------------------------------------------------------------------------

GOOD = dict(sigmas=[2.0, 1.0, 0.5], step_size=0.01, n_steps_each=3)


@pytest.mark.parametrize("change, match", [
    (dict(x0=np.zeros(5)), "x0 must have 2 dimension"),
    (dict(x0=np.array([[0.0, np.nan]])), "x0 must be finite"),
    (dict(x0=np.zeros((0, 2))), "at least one point"),
    (dict(sigmas=[1.0, 2.0]), "strictly decreasing"),
    (dict(sigmas=[1.0, 1.0]), "strictly decreasing"),
    (dict(sigmas=[1.0, 0.0]), "positive"),
    (dict(sigmas=[1.0, -0.5]), "positive"),
    (dict(sigmas=[]), "non-empty"),
    (dict(sigmas=[[1.0, 0.5]]), "sigmas must have 1 dimension"),
    (dict(sigmas=[1.0, np.inf]), "sigmas must be finite"),
    (dict(step_size=0.0), "step_size must be a positive"),
    (dict(step_size=-0.1), "step_size must be a positive"),
    (dict(step_size=float("nan")), "step_size must be a positive"),
    (dict(n_steps_each=0), "n_steps_each must be an integer >= 1"),
    (dict(n_steps_each=2.5), "n_steps_each must be an integer >= 1"),
    (dict(seed=-1), "seed must be"),
])
def test_bad_inputs(change, match):
    kwargs = dict(x0=np.zeros((4, 2)), seed=0, **GOOD)
    kwargs.update(change)
    with pytest.raises(ValueError, match=match):
        annealed_langevin_sample(linear_score(0.0, 1.0), **kwargs)


def test_bad_score_functions():
    x0 = np.zeros((4, 2))
    with pytest.raises(ValueError, match="callable"):
        annealed_langevin_sample("not a function", x0, **GOOD)
    with pytest.raises(ValueError, match=r"shape \(4, 2\)"):
        annealed_langevin_sample(lambda x, s: x[:, :1], x0, **GOOD)
    with pytest.raises(ValueError, match="non-finite"):
        annealed_langevin_sample(lambda x, s: np.full_like(x, np.nan), x0, **GOOD)


def test_divergence_is_an_error_not_nan():
    """刻み幅が大きすぎると連鎖は発散する (|1 - α/2v| > 1)。NaN を返さずに ValueError にする。"""
    with pytest.raises(ValueError, match="diverged|non-finite"):
        annealed_langevin_sample(linear_score(0.0, 1e-3), np.ones((4, 1)), [1.0, 0.5], 10.0, 200)


@pytest.mark.equation("eq:annealed-step-ratio")
def test_drift_to_noise_ratio_is_the_same_at_every_level():
    """$\\|\\tfrac{\\alpha_l}{2} s\\| / \\|\\sqrt{\\alpha_l} z\\| = \\sqrt{\\alpha_l}/(2\\sigma_l) = \\sqrt{\\tau}/(2\\sigma_L)$ ($s = -z/\\sigma_l$)。"""
    tau = 0.015
    sigmas = geometric_noise_levels(20.0, 0.2, 10)
    z = np.random.default_rng(0).standard_normal((1000, 2))
    ratios = []
    for sigma in sigmas:
        alpha = tau * (sigma / sigmas[-1]) ** 2
        drift = np.linalg.norm(0.5 * alpha * (-z / sigma), axis=1)
        noise = np.linalg.norm(math.sqrt(alpha) * z, axis=1)
        ratios.append(np.mean(drift / noise))
    np.testing.assert_allclose(ratios, math.sqrt(tau) / (2 * sigmas[-1]), rtol=1e-12)
    # 段によらない τ (α_l = τ) なら比は σ_l ごとに違う: 検査が式の誤りを見逃さない
    assert np.ptp([math.sqrt(tau) / (2 * s) for s in sigmas]) > 0.1
