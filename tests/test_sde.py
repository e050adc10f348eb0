"""gen_lib.diffusion.sde / ode / likelihood: SDE の周辺分布、確率フロー ODE、厳密な対数尤度、ソルバーの次数。"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gen_lib.diffusion.ddim import ddim_step
from gen_lib.diffusion.likelihood import divergence_exact, divergence_hutchinson, ode_log_likelihood
from gen_lib.diffusion.ode import euler, heun, solve_reference
from gen_lib.diffusion.schedule import NoiseSchedule
from gen_lib.diffusion.sde import SubVPSDE, VESDE, VPSDE, exact_score
from gen_lib.distributions.gaussian_mixture import GaussianMixture, isotropic_mixture

SDES = [VPSDE(), SubVPSDE(), VESDE(sigma_min=0.01, sigma_max=5.0)]


def small_mixture() -> GaussianMixture:
    return isotropic_mixture([[-1.0, 0.5], [1.2, -0.3], [0.0, 1.5]], 0.3, weights=[0.5, 0.3, 0.2])


@pytest.mark.parametrize("sde", SDES, ids=lambda s: type(s).__name__)
def test_marginal_moments_solve_the_moment_equations(sde):
    r"""線形 SDE の平均の係数と分散は $m' = -\tfrac12\beta m$, $(s^2)' = -\beta s^2 + g^2$ を満たす (中心差分)。"""
    t = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    h = 1e-5
    m, s = sde.marginal(t)
    m_plus, s_plus = sde.marginal(t + h)
    m_minus, s_minus = sde.marginal(t - h)
    x = torch.ones(t.shape[0], 1, dtype=torch.float64)
    beta = -2 * sde.drift(x, t)[:, 0]  # f(x, t) = -½ β(t) x
    assert torch.allclose((m_plus - m_minus) / (2 * h), -0.5 * beta * m, rtol=1e-6, atol=1e-9)
    dvar = (s_plus**2 - s_minus**2) / (2 * h)
    assert torch.allclose(dvar, -beta * s**2 + sde.diffusion(t) ** 2, rtol=1e-5, atol=1e-8)
    assert sde.marginal(torch.zeros(1, dtype=torch.float64))[1].item() == pytest.approx(0.0, abs=1e-12)


def test_vp_sde_is_the_limit_of_ddpm():
    r"""$\beta_t = \beta(t/T)/T$ の DDPM の $\bar\alpha_t$ は VP SDE の $m(t/T)^2$ に $O(1/T)$ で近づく。"""
    errors = []
    for T in (100, 1000, 10000):
        sde = VPSDE()
        t = torch.arange(1, T + 1, dtype=torch.float64) / T
        schedule = NoiseSchedule((sde.beta(t) / T).numpy())
        errors.append((schedule.alpha_bar(torch.arange(1, T + 1)) - sde.marginal(t)[0] ** 2).abs().max().item())
    assert 9 < errors[0] / errors[1] < 11 and 9 < errors[1] / errors[2] < 11  # 誤差は 1/T に比例する


def test_ddpm_linear_schedule_is_vp_with_standard_endpoints():
    """Ho et al. の β ∈ [1e-4, 0.02], T = 1000 は β_min = 0.1, β_max = 20 の VP SDE に対応する。"""
    schedule, sde = NoiseSchedule.linear(1000), VPSDE(0.1, 20.0)
    t = torch.arange(1, 1001)
    gap = (schedule.alpha_bar(t) - sde.marginal(t.double() / 1000)[0] ** 2).abs().max().item()
    assert gap < 2e-3


@pytest.mark.parametrize("sde", SDES, ids=lambda s: type(s).__name__)
def test_probability_flow_likelihood_is_exact_with_the_exact_score(sde):
    r"""厳密なスコアと厳密な終端の密度 $p_1$ なら、ODE の対数尤度はデータの $\log p(x)$ にソルバーの精度で一致する。"""
    mixture = small_mixture()
    score = exact_score(mixture, sde)

    def velocity(x, t):
        return sde.reverse_drift(x, t, score(x, t), probability_flow=True)

    m1, s1 = (v.item() for v in sde.marginal(torch.ones(1, dtype=torch.float64)))
    terminal = mixture.noised(m1, s1)
    x = torch.as_tensor(mixture.sample(6, seed=0))
    got = ode_log_likelihood(velocity, x, lambda y: terminal.log_prob_torch(y), t_start=1e-5, t_end=1.0)
    m0, s0 = (v.item() for v in sde.marginal(torch.full((1,), 1e-5, dtype=torch.float64)))
    expected = mixture.noised(m0, s0).log_prob(x.numpy())
    assert np.allclose(got.numpy(), expected, atol=1e-5)


def test_hutchinson_is_unbiased_for_the_divergence():
    """2 次元のラーデマッハー分布の 4 通りの u で平均すると、推定量は厳密な発散にちょうど等しい。"""
    sde = VPSDE()
    score = exact_score(small_mixture(), sde)

    def velocity(x, t):
        return sde.reverse_drift(x, t, score(x, t), probability_flow=True)

    x = torch.as_tensor(small_mixture().sample(5, seed=1))
    t = torch.full((5,), 0.3, dtype=torch.float64)
    exact = divergence_exact(velocity, x, t)
    signs = [torch.tensor([a, b], dtype=torch.float64).expand(5, 2) for a in (-1, 1) for b in (-1, 1)]
    mean = sum(divergence_hutchinson(velocity, x, t, u) for u in signs) / 4
    assert torch.allclose(mean, exact, atol=1e-10)
    assert not torch.allclose(divergence_hutchinson(velocity, x, t, signs[1]), exact, atol=1e-3)  # 1 本では違う


def test_euler_is_first_order_and_heun_second_order():
    """線形 ODE dx/dt = -x + sin t の参照解に対して、ステップ数を倍にすると誤差はそれぞれ 1/2 と 1/4。"""
    def v(x, t):
        return -x + torch.sin(t)[:, None]

    x0 = torch.tensor([[1.0], [-0.5]], dtype=torch.float64)
    reference, _ = solve_reference(v, x0, 0.0, 2.0, rtol=1e-12, atol=1e-12)
    errors = {}
    for name, method in (("euler", euler), ("heun", heun)):
        errors[name] = [(method(v, x0, torch.linspace(0, 2, n + 1, dtype=torch.float64)) - reference).abs().max()
                        for n in (50, 100, 200)]
    for a, b in zip(errors["euler"][:-1], errors["euler"][1:]):
        assert 1.8 < a / b < 2.2
    for a, b in zip(errors["heun"][:-1], errors["heun"][1:]):
        assert 3.6 < a / b < 4.4


def test_ddim_eta0_is_euler_in_scaled_coordinates():
    r"""DDIM ($\eta = 0$) は $\bar{x} = x/\sqrt{\bar\alpha}$, $\sigma = \sqrt{(1-\bar\alpha)/\bar\alpha}$ での
    $d\bar{x}/d\sigma = \hat\varepsilon$ のオイラー法 1 歩: $\bar{x}_s = \bar{x}_t + (\sigma_s - \sigma_t)\hat\varepsilon$。"""
    schedule = NoiseSchedule.linear(1000)
    g = torch.Generator().manual_seed(0)
    x_t, eps = (torch.randn(16, 2, generator=g, dtype=torch.float64) for _ in range(2))
    for t, s in ((1000, 980), (500, 300), (20, 0)):
        tt, ss = torch.full((16,), t), torch.full((16,), s)
        x_s = ddim_step(schedule, x_t, tt, ss, eps)
        a_t, a_s = schedule.alpha_bar(tt)[:, None], schedule.alpha_bar(ss)[:, None]
        sigma_t, sigma_s = ((1 - a_t) / a_t).sqrt(), ((1 - a_s) / a_s).sqrt()
        assert torch.allclose(x_s / a_s.sqrt(), x_t / a_t.sqrt() + (sigma_s - sigma_t) * eps, atol=1e-10)


def test_bad_inputs():
    with pytest.raises(ValueError, match="beta_max must be >= beta_min"):
        VPSDE(1.0, 0.5)
    with pytest.raises(ValueError, match="sigma_max must exceed sigma_min"):
        VESDE(1.0, 1.0)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\]"):
        VPSDE().marginal(torch.tensor([1.5], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"t must have shape \(3,\)"):
        VPSDE().drift(torch.zeros(3, 2), torch.zeros(2))
    with pytest.raises(ValueError, match="strictly increasing or strictly decreasing"):
        euler(lambda x, t: x, torch.zeros(2, 1, dtype=torch.float64), torch.tensor([0.0, 0.5, 0.5]))
    with pytest.raises(ValueError, match="estimator must be"):
        ode_log_likelihood(lambda x, t: x, torch.zeros(2, 1), lambda x: x[:, 0], estimator="fast")
    with pytest.raises(ValueError, match="mixture must be a GaussianMixture"):
        exact_score(None, VPSDE())
    with pytest.raises(ValueError, match="non-finite"):
        euler(lambda x, t: x * math.inf, torch.ones(2, 1, dtype=torch.float64), torch.tensor([0.0, 1.0]))
