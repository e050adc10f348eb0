"""gen_lib.diffusion.sde / ode / likelihood: SDE の周辺分布と逆向きの SDE、確率フロー ODE、厳密な対数尤度、ソルバーの次数。"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad, solve_ivp

from gen_lib.diffusion.ddpm import exact_epsilon
from gen_lib.diffusion.likelihood import divergence_exact, divergence_hutchinson, ode_log_likelihood
from gen_lib.diffusion.ode import euler, heun, solve_reference
from gen_lib.diffusion.schedule import NoiseSchedule
from gen_lib.diffusion.samplers import forward_paths
from gen_lib.diffusion.sde import SubVPSDE, VESDE, VPSDE, exact_score, score_from_epsilon
from gen_lib.distributions.gaussian_mixture import GaussianMixture, isotropic_mixture
from gen_lib.score_based.ncsn import geometric_noise_levels

SDES = [VPSDE(), SubVPSDE(), VESDE(sigma_min=0.01, sigma_max=5.0)]


def small_mixture() -> GaussianMixture:
    return isotropic_mixture([[-1.0, 0.5], [1.2, -0.3], [0.0, 1.5]], 0.3, weights=[0.5, 0.3, 0.2])


# 各過程の β(t) (VP, sub-VP) と σ(t) (VE) を、ライブラリとは別に書き下したもの
BETA_MIN, BETA_MAX, SIGMA_MIN, SIGMA_MAX = 0.1, 20.0, 0.01, 5.0


def beta(t):
    return BETA_MIN + t * (BETA_MAX - BETA_MIN)


def beta_integral(t):
    return quad(beta, 0.0, t)[0]


def coefficients(name: str, t: float) -> tuple[float, float]:
    r"""$f(x, t) = a(t) x$ の $a(t)$ と $g(t)^2$ (Song et al. 2021, 式 (9), (11), (12))。"""
    if name == "VESDE":  # g² = dσ²/dt を中心差分で
        h = 1e-6
        sigma2 = lambda u: (SIGMA_MIN * (SIGMA_MAX / SIGMA_MIN) ** u) ** 2  # noqa: E731
        return 0.0, (sigma2(t + h) - sigma2(t - h)) / (2 * h)
    if name == "VPSDE":
        return -0.5 * beta(t), beta(t)
    return -0.5 * beta(t), beta(t) * (1 - math.exp(-2 * beta_integral(t)))  # sub-VP


@pytest.mark.equation("eq:sde-vp")
@pytest.mark.equation("eq:sde-ve")
@pytest.mark.equation("eq:sde-subvp")
@pytest.mark.equation("eq:sde-moments")
@pytest.mark.parametrize("sde", SDES, ids=lambda s: type(s).__name__)
def test_marginal_solves_the_moment_equations(sde):
    r"""$x_t \mid x_0$ の平均 $m x_0$ と分散 $s^2$ は、モーメントの ODE $m' = a m$, $(s^2)' = 2 a s^2 + g^2$
    ($m(0) = 1$, $s(0) = 0$) を scipy で解いた値に一致し、ドリフトと拡散係数は書き下した式に一致する。"""
    name = type(sde).__name__

    def rhs(t, y):
        a, g2 = coefficients(name, t)
        return [a * y[0], 2 * a * y[1] + g2]

    t_eval = np.linspace(0.0, 1.0, 21)
    solution = solve_ivp(rhs, (0.0, 1.0), [1.0, 0.0], t_eval=t_eval, rtol=1e-10, atol=1e-12)
    m, s = sde.marginal(torch.as_tensor(t_eval))
    assert np.allclose(m.numpy(), solution.y[0], rtol=1e-7, atol=1e-10)
    assert np.allclose(s.numpy() ** 2, solution.y[1], rtol=1e-6, atol=1e-8)
    t = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    x = torch.ones(3, 1, dtype=torch.float64)
    expected = [coefficients(name, u) for u in t.tolist()]
    assert np.allclose(sde.drift(x, t)[:, 0].numpy(), [a for a, _ in expected], rtol=1e-12)
    assert np.allclose(sde.diffusion(t).numpy() ** 2, [g2 for _, g2 in expected], rtol=1e-6)


@pytest.mark.equation("eq:sde-moments")
@pytest.mark.parametrize("sde", SDES, ids=lambda s: type(s).__name__)
def test_forward_simulation_matches_the_marginal(sde):
    """前向きの SDE をオイラー・丸山法で 2 万本シミュレーションした x_1 の平均と分散が周辺分布に合う。"""
    n, x0 = 20000, 1.5
    path = forward_paths(sde, torch.full((n, 1), x0, dtype=torch.float64), 500, seed=0)
    for k in (100, 500):
        m, s = (v.item() for v in sde.marginal(torch.tensor([k / 500], dtype=torch.float64)))
        x = path[k, :, 0]
        assert abs(x.mean().item() - m * x0) < 4 * s / n**0.5 + 0.01 * s
        assert abs(x.var().item() / s**2 - 1) < 0.05


@pytest.mark.equation("eq:sde-reverse")
@pytest.mark.parametrize("sde", SDES, ids=lambda s: type(s).__name__)
def test_reverse_drift_runs_the_marginals_backwards(sde):
    r"""データが $\mathcal{N}(0, v_0)$ なら $p_t = \mathcal{N}(0, v(t))$, $v = m^2 v_0 + s^2$、スコアは $-x/v$。
    逆向きのドリフト $b(x, t) = k(t) x$ で時刻を戻すと分散は $dv/dt = 2 k v - g^2$ に従う
    (時刻が減る向きに拡散が分散を $g^2$ ずつ増やす)。これが前向きの $dv/dt$ (中心差分) に一致する。
    確率フロー ODE ($f - \tfrac12 g^2 s$) では $dv/dt = 2 k v$ が一致する。"""
    v0, h = 0.3, 1e-6
    t = torch.linspace(0.05, 0.95, 10, dtype=torch.float64)

    def v(u):
        m, s = sde.marginal(u)
        return m**2 * v0 + s**2

    dv = (v(t + h) - v(t - h)) / (2 * h)
    x = torch.ones(10, 1, dtype=torch.float64)
    score = -x / v(t)[:, None]
    k_sde = sde.reverse_drift(x, t, score)[:, 0]
    k_ode = sde.reverse_drift(x, t, score, probability_flow=True)[:, 0]
    g2 = sde.diffusion(t) ** 2
    assert torch.allclose(2 * k_sde * v(t) - g2, dv, rtol=1e-6)
    assert torch.allclose(2 * k_ode * v(t), dv, rtol=1e-6)


@pytest.mark.equation("eq:sde-ddpm-limit")
def test_vp_sde_is_the_limit_of_ddpm():
    r"""$\beta_t = \beta(t/T)/T$ の DDPM の $\bar\alpha_t$ は VP SDE の $m(t/T)^2$ に $O(1/T)$ で近づく。"""
    errors = []
    for T in (100, 1000, 10000):
        sde = VPSDE()
        t = torch.arange(1, T + 1, dtype=torch.float64) / T
        schedule = NoiseSchedule((sde.beta(t) / T).numpy())
        errors.append((schedule.alpha_bar(torch.arange(1, T + 1)) - sde.marginal(t)[0] ** 2).abs().max().item())
    assert 9 < errors[0] / errors[1] < 11 and 9 < errors[1] / errors[2] < 11  # 誤差は 1/T に比例する


@pytest.mark.equation("eq:sde-ddpm-limit")
def test_ddpm_linear_schedule_is_vp_with_standard_endpoints():
    """Ho et al. の β ∈ [1e-4, 0.02], T = 1000 は β_min = 0.1, β_max = 20 の VP SDE に対応する。"""
    schedule, sde = NoiseSchedule.linear(1000), VPSDE(0.1, 20.0)
    t = torch.arange(1, 1001)
    gap = (schedule.alpha_bar(t) - sde.marginal(t.double() / 1000)[0] ** 2).abs().max().item()
    assert gap < 2e-3


@pytest.mark.equation("eq:sde-ncsn-limit")
def test_ncsn_noise_levels_are_the_ve_sigma_on_a_grid():
    r"""NCSN の等比数列 $\sigma_1 > \dots > \sigma_L$ は VE の $\sigma(t)$ を $t = 1, \frac{L-2}{L-1}, \dots, 0$ で
    見たもので、NCSN の離散の前向き過程 $x_i = x_{i-1} + \sqrt{\sigma_i^2 - \sigma_{i-1}^2}\, z$ の分散
    (小さいほうから足す) は VE の $s(t)^2 = \sigma(t)^2 - \sigma_{\min}^2$ に等しい。"""
    sde, L = VESDE(0.2, 20.0), 10
    levels = geometric_noise_levels(20.0, 0.2, L)
    t = torch.linspace(1, 0, L, dtype=torch.float64)
    assert np.allclose(sde.sigma(t).numpy(), levels, rtol=1e-12)
    increments = np.diff(levels[::-1] ** 2)  # σ_i² - σ_{i-1}² (小さい σ から)
    variance = np.concatenate([[0.0], np.cumsum(increments)])
    assert np.allclose(sde.marginal(t.flip(0))[1].numpy() ** 2, variance, rtol=1e-10, atol=1e-12)


@pytest.mark.equation("eq:sde-eps-score")
def test_score_from_epsilon_matches_the_exact_score():
    r"""理想的な $\varepsilon^*(x, k)$ から作った $-\varepsilon^*(x, tT)/s(t)$ は、VP の厳密なスコアに
    ($\bar\alpha_k$ と $m(k/T)^2$ の差 $< 2 \times 10^{-3}$ の範囲で) 一致する。"""
    mixture, schedule, sde = small_mixture(), NoiseSchedule.linear(1000), VPSDE()
    epsilon = exact_epsilon(mixture, schedule)

    def model(x, t):  # 整数の時刻でだけ呼べる ε* を、時刻 tT (ここでは整数) で呼ぶ
        return epsilon(x, t.round().long())

    score = score_from_epsilon(model, sde, 1000)
    x = torch.as_tensor(mixture.sample(40, seed=2))
    for k in (5, 200, 700):
        t = torch.full((40,), k / 1000, dtype=torch.float64)
        got, expected = score(x, t), exact_score(mixture, sde)(x, t)
        assert torch.allclose(got, expected, rtol=0.02, atol=0.02 * expected.abs().max().item())
    with pytest.raises(ValueError, match="model must be callable"):
        score_from_epsilon(None, sde, 1000)


@pytest.mark.parametrize("prediction", ["x0", "v"])
def test_score_from_epsilon_converts_x0_and_v_predictions(prediction):
    r"""$\hat{x}_0 = (x - s \varepsilon)/m$ や $v = m \varepsilon - s \hat{x}_0$ を出すモデルも、ε を出すモデルと
    同じスコアになる (VP と、$m^2 + s^2 \ne 1$ の sub-VP)。"""
    mixture = small_mixture()
    for sde in (VPSDE(), SubVPSDE()):
        exact = exact_score(mixture, sde)

        def epsilon(x, k, sde=sde, exact=exact):  # 厳密な ε* = -s ∇log p_t
            return -sde.marginal(k / 1000)[1][:, None] * exact(x, k / 1000)

        def converted(x, k, sde=sde, epsilon=epsilon):
            m, s = (c[:, None] for c in sde.marginal(k / 1000))
            x0 = (x - s * epsilon(x, k)) / m
            return x0 if prediction == "x0" else m * epsilon(x, k) - s * x0

        x = torch.as_tensor(mixture.sample(30, seed=4))
        t = torch.linspace(0.01, 0.99, 30, dtype=torch.float64)
        got = score_from_epsilon(converted, sde, 1000, prediction=prediction)(x, t)
        assert torch.allclose(got, exact(x, t), rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="prediction must be"):
        score_from_epsilon(converted, VPSDE(), 1000, prediction="score")


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
