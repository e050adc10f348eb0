"""gen_lib.diffusion.samplers / flow_matching: 厳密なスコア・速度で走らせたサンプラーが正しい分布を出すこと。

サンプルのモードの重み (負担率の平均) とモード内の分散を厳密な値と比べる。N = 1000 点での標準誤差は
重みで 0.016 程度、分散の比で 0.03 程度なので、許容幅はその 3 倍ほどにとる。2 サンプル距離とノイズの床の比較は
揺らぎが大きく何組もの平均が要るので、ベンチマーク (scripts/) で行う。
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gen_lib.diffusion.ddpm import exact_epsilon
from gen_lib.diffusion.flow_matching import LinearPath, exact_velocity, flow_matching_loss
from gen_lib.diffusion.likelihood import ode_log_likelihood
from gen_lib.diffusion.ode import heun
from gen_lib.diffusion.samplers import ddim_sample, ddpm_sample, euler_maruyama, predictor_corrector
from gen_lib.diffusion.schedule import NoiseSchedule
from gen_lib.diffusion.sde import VPSDE, exact_score
from gen_lib.distributions.gaussian_mixture import isotropic_mixture
from gen_lib.metrics.mode_weights import estimate_mode_weights

N = 1000


@pytest.fixture(scope="module")
def mixture():
    return isotropic_mixture([[-1.5, 0.0], [1.5, 0.5], [0.0, 1.8]], 0.35, weights=[0.5, 0.3, 0.2])


def prior(seed):
    return torch.randn(N, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def assert_matches(mixture, samples, *, weight_tol=0.05, variance_tol=0.1):
    """モードの重みの全変動距離と、モード内の分散 (1 成分あたり) の σ² に対する比を確かめる。"""
    x = samples.numpy()
    weights = estimate_mode_weights(mixture, x)
    assert 0.5 * np.abs(weights - mixture.weights).sum() < weight_tol, weights
    r = mixture.responsibilities(x)
    spread = np.einsum("nk,nkd->", r, (x[:, None, :] - mixture.means[None]) ** 2) / (2 * len(x))
    assert abs(spread / mixture.covariances[0, 0, 0] - 1) < variance_tol, spread


def test_exact_epsilon_is_minus_sqrt_one_minus_alpha_bar_times_the_score(mixture):
    r"""$\varepsilon^* = -\sqrt{1-\bar\alpha_t}\, s(x_t, t)$: 連続時刻の厳密なスコア (VP の周辺) と同じ量を与える。"""
    schedule = NoiseSchedule.linear(1000)
    x = torch.as_tensor(mixture.sample(50, seed=3))
    for t in (1, 300, 1000):
        a = schedule.alpha_bar(torch.tensor([t])).item()
        q_t = mixture.noised(a**0.5, (1 - a) ** 0.5)
        eps = exact_epsilon(mixture, schedule)(x, torch.full((50,), t))
        assert torch.allclose(eps, torch.as_tensor(-((1 - a) ** 0.5) * q_t.score(x.numpy())))


def test_ddpm_and_ddim_with_the_exact_epsilon_match_the_data(mixture):
    schedule = NoiseSchedule.linear(1000)
    model = exact_epsilon(mixture, schedule)
    assert_matches(mixture, ddpm_sample(schedule, model, prior(0), seed=1))
    assert_matches(mixture, ddim_sample(schedule, model, prior(0), 100, seed=1))
    with pytest.raises(AssertionError):  # 2 ステップでは足りない (検査が失敗しうること)
        assert_matches(mixture, ddim_sample(schedule, model, prior(0), 2, seed=1))


@pytest.mark.parametrize("prediction", ["epsilon", "x0", "v"])
@pytest.mark.parametrize("variance", ["posterior", "beta"])
def test_ddpm_sample_equals_the_loop_of_checked_steps(prediction, variance):
    """係数の表を引くループ (ddpm_sample) が、ddpm_step を T 回呼ぶループと同じ点を返す (同じ乱数)。"""
    from gen_lib.diffusion.ddpm import ddpm_step

    schedule = NoiseSchedule.linear(50, beta_end=0.2)
    model = lambda x, t: torch.sin(x * t[:, None] / 7.0) + 0.1 * x  # noqa: E731 (出力の種類によらない試験用の関数)
    x = prior(4)[:64]
    generator = torch.Generator().manual_seed(5)
    for t in range(schedule.T, 0, -1):
        tt = torch.full((64,), t)
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        x = ddpm_step(schedule, x, tt, model(x, tt), noise, prediction=prediction, variance=variance)
    fast = ddpm_sample(schedule, model, prior(4)[:64], seed=5, prediction=prediction, variance=variance)
    assert torch.allclose(fast, x, rtol=1e-10, atol=1e-10)
    path = ddpm_sample(schedule, model, prior(4)[:64], seed=5, prediction=prediction, variance=variance,
                       return_path=True)
    assert path.shape == (51, 64, 2) and torch.equal(path[0], fast) and torch.equal(path[50], prior(4)[:64])
    with pytest.raises(ValueError, match="must return x's shape"):
        ddpm_sample(schedule, lambda x, t: x[:, :1], prior(4)[:8])
    with pytest.raises(ValueError, match="non-finite"):
        ddpm_sample(schedule, lambda x, t: x * float("nan"), prior(4)[:8])


def test_sde_samplers_with_the_exact_score_match_the_data(mixture):
    sde = VPSDE()
    score = exact_score(mixture, sde)
    em = euler_maruyama(sde, score, prior(2), 300, seed=3)
    pc = predictor_corrector(sde, score, prior(2), 150, seed=3)
    assert_matches(mixture, em)
    assert_matches(mixture, pc)


def test_flow_matching_ode_with_the_exact_velocity(mixture):
    velocity = exact_velocity(mixture)
    t_end = 1 - 1e-3
    x1 = prior(4) * t_end  # t = 1 - δ の周辺 N((1-t)μ, …) ≈ N(0, t² I)
    samples = heun(velocity, x1, torch.linspace(t_end, 0.0, 101, dtype=torch.float64))
    assert_matches(mixture, samples)
    # 同じ速度場で、厳密な対数尤度 (終端の密度も厳密) を再現する
    x = torch.as_tensor(mixture.sample(4, seed=5))
    terminal = mixture.noised(1 - t_end, t_end)
    got = ode_log_likelihood(velocity, x, terminal.log_prob_torch, t_start=0.0, t_end=t_end)
    assert np.allclose(got.numpy(), mixture.log_prob(x.numpy()), atol=1e-5)


def test_velocity_from_score_is_the_posterior_expectation(mixture):
    r"""$u_t(x) = \mathbb{E}[\varepsilon - x_0 \mid x_t = x]$ をベイズの定理 (成分ごとのガウス条件付け) で直接計算して比べる。"""
    t = 0.4
    a, b = 1 - t, t
    x = torch.as_tensor(mixture.noised(a, b).sample(30, seed=6))
    velocity = exact_velocity(mixture)(x, torch.full((30,), t, dtype=torch.float64)).numpy()
    xn = x.numpy()
    noised = mixture.noised(a, b)
    r = noised.responsibilities(xn)  # p(k | x_t)
    expected_x0 = np.zeros_like(xn)
    for k in range(len(mixture.weights)):
        cov_k = mixture.covariances[k]
        gain = a * cov_k @ np.linalg.inv(a**2 * cov_k + b**2 * np.eye(2))  # E[x0 | x_t, k] = μ_k + gain (x - aμ_k)
        expected_x0 += r[:, [k]] * (mixture.means[k] + (xn - a * mixture.means[k]) @ gain.T)
    expected_eps = (xn - a * expected_x0) / b
    assert np.allclose(velocity, expected_eps - expected_x0, atol=1e-10)


def test_flow_matching_loss_is_minimised_by_the_exact_velocity(mixture):
    """CFM 損失は、厳密な速度場で最小 (ずらした速度場より小さい)。損失の最小値はモデルによらない定数。"""
    g = torch.Generator().manual_seed(7)
    x0 = torch.as_tensor(mixture.sample(20000, seed=8))
    noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    t = torch.rand(20000, generator=g, dtype=torch.float64) * 0.98
    velocity = exact_velocity(mixture)
    best = flow_matching_loss(velocity, x0, t, noise).item()
    for shift in (0.1, -0.2):
        assert flow_matching_loss(lambda x, s: velocity(x, s) + shift, x0, t, noise).item() > best
    path = LinearPath()
    assert torch.allclose(path.interpolate(x0[:3], torch.zeros(3, dtype=torch.float64), noise[:3]), x0[:3])


def test_the_corrector_is_the_langevin_step_of_chapter_2(mixture, monkeypatch):
    r"""修正子は第 2 章の ``langevin_step`` そのもの (同じ関数オブジェクト) を時刻ごとに n_corrector 回呼び、
    ステップ幅 $\epsilon$ はスコアの項 $\tfrac{\epsilon}{2}\|s\|$ とノイズの項 $\sqrt{\epsilon}\sqrt{D}$ の比を snr にする。"""
    from gen_lib.diffusion import samplers
    from gen_lib.score_based import langevin

    assert samplers.langevin_step is langevin.langevin_step
    calls = []

    def recording_step(score_fn, x, step_size, rng, *, where):
        s_norm = np.linalg.norm(score_fn(x), axis=1).mean()
        calls.append(0.5 * step_size * s_norm / (step_size**0.5 * x.shape[1] ** 0.5))
        return langevin.langevin_step(score_fn, x, step_size, rng, where=where)

    monkeypatch.setattr(samplers, "langevin_step", recording_step)
    sde = VPSDE()
    predictor_corrector(sde, exact_score(mixture, sde), prior(0)[:50], 7, n_corrector=2, snr=0.2)
    assert len(calls) == 14
    assert np.allclose(calls, 0.2, rtol=1e-12)
