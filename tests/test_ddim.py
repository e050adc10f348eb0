"""gen_lib.diffusion.ddim / samplers.ddim_sample: DDIM の非マルコフな前向き過程、η、部分列の上の DDPM。

diffusers との一致 (部分列の選び方と 1 ステップ) は tests/test_ddpm.py が確かめる。
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gen_lib.diffusion.ddim import ddim_sigma, ddim_step, ddim_timesteps
from gen_lib.diffusion.ddpm import ddpm_step
from gen_lib.diffusion.samplers import ddim_sample
from gen_lib.diffusion.schedule import NoiseSchedule

T = 1000


def sub_schedule(schedule: NoiseSchedule, taus: np.ndarray) -> NoiseSchedule:
    r"""部分列 $\tau_1 < \dots < \tau_S$ の上の DDPM: $\bar\alpha'_i = \bar\alpha_{\tau_i}$ となる
    $\beta'_i = 1 - \bar\alpha_{\tau_i} / \bar\alpha_{\tau_{i-1}}$ ($\bar\alpha_{\tau_0} = 1$)。"""
    a = np.concatenate([[1.0], schedule.alpha_bars_with_zero.numpy()[np.sort(taus)]])
    return NoiseSchedule(1 - a[1:] / a[:-1])


@pytest.mark.equation("eq:ddim-sigma")
@pytest.mark.parametrize("n_steps, spacing", [(10, "leading"), (7, "trailing"), (50, "linspace")])
def test_eta_one_gives_the_posterior_variance_of_the_subsequence(n_steps, spacing):
    r"""$\eta = 1$ の $\sigma_t^2$ は、部分列の上の DDPM の事後分散 $\tilde\beta'_i$
    $= \frac{1 - \bar\alpha_s}{1 - \bar\alpha_t}(1 - \bar\alpha_t / \bar\alpha_s)$ に等しい。"""
    schedule = NoiseSchedule.linear(T)
    taus = ddim_timesteps(T, n_steps, spacing)
    sub = sub_schedule(schedule, taus)
    t, s = torch.as_tensor(taus), torch.as_tensor([*taus[1:], 0])
    i = torch.arange(n_steps, 0, -1)  # 部分列の上の時刻 (降順)
    assert torch.allclose(ddim_sigma(schedule, t, s, 1.0) ** 2, sub.posterior_variance(i), rtol=1e-12, atol=0)
    assert torch.allclose(ddim_sigma(schedule, t, s, 0.5) ** 2, 0.25 * sub.posterior_variance(i), rtol=1e-12)


@pytest.mark.equation("eq:ddim-step")
def test_eta_one_is_ancestral_sampling_on_the_subsequence():
    r"""$\eta = 1$ の DDIM の 1 歩は、部分列の上の DDPM の祖先サンプリングの 1 歩 (事後分散) と一致する。"""
    schedule = NoiseSchedule.linear(T)
    taus = ddim_timesteps(T, 20, "trailing")
    sub = sub_schedule(schedule, taus)
    g = torch.Generator().manual_seed(0)
    x, eps, z = (torch.randn(16, 2, generator=g, dtype=torch.float64) for _ in range(3))
    for i, (t, s) in enumerate(zip(taus, [*taus[1:], 0])):
        tt, ss, ii = torch.full((16,), int(t)), torch.full((16,), int(s)), torch.full((16,), 20 - i)
        got = ddim_step(schedule, x, tt, ss, eps, eta=1.0, noise=z)
        assert torch.allclose(got, ddpm_step(sub, x, ii, eps, z), atol=1e-11), (t, s)


@pytest.mark.equation("eq:ddim-forward")
@pytest.mark.parametrize("eta", [0.0, 0.3, 1.0])
def test_the_non_markovian_process_keeps_the_marginals(eta):
    r"""$x_t \sim q(x_t \mid x_0)$ と真の $\varepsilon$ から $q_\sigma(x_s \mid x_t, x_0)$ で引いた $x_s$ は、
    どの $\eta$ でも $q(x_s \mid x_0) = \mathcal{N}(\sqrt{\bar\alpha_s} x_0, (1 - \bar\alpha_s) I)$ に従う
    (論文の補題 1)。$x_s$ は $(\varepsilon, z)$ の線形関数なので、係数を取り出して平均と分散を厳密に比べる。"""
    schedule = NoiseSchedule.linear(T)
    x0 = torch.tensor([[0.7, -1.3]], dtype=torch.float64)
    for t, s in ((1000, 800), (400, 50), (10, 0), (5, 4)):
        tt, ss = torch.tensor([t]), torch.tensor([s])
        a_t, a_s = schedule.alpha_bar(tt).item(), schedule.alpha_bar(ss).item()

        def x_s(eps, z):  # 真の ε を出力として渡す (x̂_0 = x_0)
            x_t = a_t**0.5 * x0 + (1 - a_t) ** 0.5 * eps
            return ddim_step(schedule, x_t, tt, ss, eps, eta=eta, noise=z)

        zero, one = torch.zeros_like(x0), torch.ones_like(x0)
        mean = x_s(zero, zero)
        c_eps, c_z = x_s(one, zero) - mean, x_s(zero, one) - mean
        assert torch.allclose(mean, a_s**0.5 * x0, atol=1e-12)
        assert torch.allclose(c_eps**2 + c_z**2, torch.full_like(x0, 1 - a_s), atol=1e-12)


@pytest.mark.equation("eq:ddim-ode")
def test_eta_zero_is_euler_in_scaled_coordinates():
    r"""DDIM ($\eta = 0$) は $\bar{x} = x/\sqrt{\bar\alpha}$, $\sigma = \sqrt{(1-\bar\alpha)/\bar\alpha}$ での
    $d\bar{x}/d\sigma = \hat\varepsilon$ のオイラー法 1 歩: $\bar{x}_s = \bar{x}_t + (\sigma_s - \sigma_t)\hat\varepsilon$。"""
    schedule = NoiseSchedule.linear(T)
    g = torch.Generator().manual_seed(0)
    x_t, eps = (torch.randn(16, 2, generator=g, dtype=torch.float64) for _ in range(2))
    for t, s in ((1000, 980), (500, 300), (20, 0)):
        tt, ss = torch.full((16,), t), torch.full((16,), s)
        x_s = ddim_step(schedule, x_t, tt, ss, eps)
        a_t, a_s = schedule.alpha_bar(tt)[:, None], schedule.alpha_bar(ss)[:, None]
        sigma_t, sigma_s = ((1 - a_t) / a_t).sqrt(), ((1 - a_s) / a_s).sqrt()
        assert torch.allclose(x_s / a_s.sqrt(), x_t / a_t.sqrt() + (sigma_s - sigma_t) * eps, atol=1e-10)


def test_eta_zero_is_deterministic_and_eta_one_is_not():
    """η = 0 ではシードによらず同じ x_T から同じ x_0、η = 1 ではシードで変わる。"""
    schedule = NoiseSchedule.linear(T)

    def model(x, t):
        return torch.tanh(x) * (t[:, None] / T)

    x_T = torch.randn(8, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    a, b = (ddim_sample(schedule, model, x_T, 10, seed=seed) for seed in (0, 1))
    assert torch.equal(a, b)
    c, d = (ddim_sample(schedule, model, x_T, 10, seed=seed, eta=1.0) for seed in (0, 1))
    assert not torch.allclose(c, d, atol=1e-3)
    assert torch.equal(c, ddim_sample(schedule, model, x_T, 10, seed=0, eta=1.0))


def test_bad_inputs():
    schedule = NoiseSchedule.linear(10)
    x = torch.zeros(2, 2, dtype=torch.float64)
    t, s = torch.tensor([5, 5]), torch.tensor([1, 1])
    with pytest.raises(ValueError, match="eta must be a finite number >= 0"):
        ddim_sigma(schedule, t, s, True)
    with pytest.raises(ValueError, match="eta must be a finite number >= 0"):
        ddim_sigma(schedule, t, s, float("nan"))
    with pytest.raises(ValueError, match="noise must be given when eta > 0"):
        ddim_step(schedule, x, t, s, x, eta=0.5)
    with pytest.raises(ValueError, match="x_t and noise"):
        ddim_step(schedule, x, t, s, x, eta=0.5, noise=torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="spacing must be"):
        ddim_timesteps(10, 5, "uniform")
    with pytest.raises(ValueError, match="pushes the timesteps past T"):
        ddim_timesteps(10, 5, "leading", steps_offset=2)
    with pytest.raises(ValueError, match="model must be callable"):
        ddim_sample(schedule, None, x, 5)
