"""gen_lib.diffusion.likelihood / ode: 確率フロー ODE、瞬間的な変数変換、Hutchinson の推定量、DDIM と ODE
(ページ docs/ch3/probability-flow.md の式)。"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gen_lib.diffusion.ddim import ddim_step
from gen_lib.diffusion.likelihood import divergence_exact, divergence_hutchinson, ode_log_likelihood
from gen_lib.diffusion.ode import ddim_ode, euler, probability_flow, solve_reference
from gen_lib.diffusion.schedule import NoiseSchedule
from gen_lib.diffusion.sde import SubVPSDE, VESDE, VPSDE, exact_score, output_gain, score_from_epsilon
from gen_lib.distributions.gaussian_mixture import isotropic_mixture


@pytest.fixture(scope="module")
def mixture():
    return isotropic_mixture([[-1.0, 0.4], [1.1, -0.2], [0.2, 1.4]], 0.3, weights=[0.5, 0.3, 0.2])


def marginal_log_prob(mixture, sde, x: torch.Tensor, t: float) -> torch.Tensor:
    m, s = (v.item() for v in sde.marginal(torch.tensor([t], dtype=torch.float64)))
    return mixture.noised(m, s).log_prob_torch(x)


@pytest.mark.equation("eq:pf-ode")
def test_probability_flow_solves_the_continuity_equation(mixture):
    r"""$\partial_t p_t = -\nabla \cdot (p_t v)$: $\partial_t p_t$ は閉じた形の $p_t$ の中心差分、
    右辺は $p_t v$ の自動微分。確率フロー ODE が周辺分布 $p_t$ を運ぶこと。"""
    sde = VPSDE()
    score = exact_score(mixture, sde)
    velocity = probability_flow(sde, score)
    x = torch.as_tensor(mixture.sample(8, seed=0)) * 1.3
    for t, h in ((0.1, 1e-5), (0.5, 1e-5)):
        dp_dt = (marginal_log_prob(mixture, sde, x, t + h).exp()
                 - marginal_log_prob(mixture, sde, x, t - h).exp()) / (2 * h)
        tt = torch.full((8,), t, dtype=torch.float64)

        def flux(v, t=t):
            return lambda y, tt: marginal_log_prob(mixture, sde, y, t).exp()[:, None] * v(y, tt)

        assert torch.allclose(dp_dt, -divergence_exact(flux(velocity), x, tt), rtol=1e-5, atol=1e-8)
        # 係数 1/2 のない f - g² s (逆向き SDE のドリフト) では成り立たない
        drift = lambda y, tt: sde.reverse_drift(y, tt, score(y, tt))  # noqa: E731
        assert not torch.allclose(dp_dt, -divergence_exact(flux(drift), x, tt), rtol=1e-2)


@pytest.mark.equation("eq:pf-change-of-variables")
def test_exact_score_and_exact_terminal_give_the_exact_log_density(mixture):
    """厳密なスコアと厳密な p_1 なら、ODE の対数尤度は log p(x) (t = 0) に許容誤差の桁で一致する。"""
    sde = VPSDE()
    velocity = probability_flow(sde, exact_score(mixture, sde))
    x = torch.as_tensor(mixture.sample(6, seed=1))
    terminal = lambda y: marginal_log_prob(mixture, sde, y, 1.0)  # noqa: E731
    got = ode_log_likelihood(velocity, x, terminal, rtol=1e-9, atol=1e-9)
    assert np.allclose(got.numpy(), mixture.log_prob(x.numpy()), atol=1e-6)
    # 終端を N(0, I) にすると、事前分布のずれの分だけ (ここでは 1e-2 nats 未満) ずれる
    prior = ode_log_likelihood(velocity, x, sde.prior_log_prob, rtol=1e-9, atol=1e-9)
    assert 1e-8 < (prior - got).abs().max().item() < 1e-2


@pytest.mark.equation("eq:pf-hutchinson")
@pytest.mark.equation("eq:pf-hutchinson-variance")
def test_hutchinson_mean_and_variance_from_the_jacobian(mixture):
    r"""2 次元のラーデマッハーの 4 通りの $u$ で: 平均は $\mathrm{tr}\, J$、分散は $(J_{12} + J_{21})^2$。

    ヤコビ行列 $J$ は torch.autograd.functional.jacobian で点ごとに求める (独立な計算)。"""
    sde = VPSDE()
    velocity = probability_flow(sde, exact_score(mixture, sde))
    x = torch.as_tensor(mixture.sample(5, seed=2))
    t = torch.full((5,), 0.2, dtype=torch.float64)
    def at_point(y):
        return velocity(y[None], t[:1])[0]

    jacobian = torch.autograd.functional.jacobian
    jac = torch.stack([jacobian(at_point, x[n]) for n in range(5)])  # (5, 2, 2)
    signs = [torch.tensor([a, b], dtype=torch.float64).expand(5, 2)
             for a in (-1, 1) for b in (-1, 1)]
    values = torch.stack([divergence_hutchinson(velocity, x, t, u) for u in signs])  # (4, 5)
    trace = jac.diagonal(dim1=1, dim2=2).sum(dim=1)
    assert torch.allclose(divergence_exact(velocity, x, t), trace, atol=1e-10)
    assert torch.allclose(values.mean(dim=0), trace, atol=1e-10)
    assert torch.allclose(values.var(dim=0, unbiased=False), (jac[:, 0, 1] + jac[:, 1, 0]) ** 2,
                          atol=1e-9)
    assert values.var(dim=0).min() > 1e-6  # 1 本の u では揺らぐ


def test_hutchinson_log_likelihood_is_unbiased(mixture):
    """u を変えた Hutchinson の対数尤度の平均は、厳密な発散の対数尤度に標準誤差の 4 倍以内で一致する。"""
    sde = VPSDE()
    velocity = probability_flow(sde, exact_score(mixture, sde))
    x = torch.as_tensor(mixture.sample(1, seed=3)).repeat(64, 1)
    exact = ode_log_likelihood(velocity, x[:1], sde.prior_log_prob, rtol=1e-7, atol=1e-7)
    probes = ode_log_likelihood(velocity, x, sde.prior_log_prob, estimator="hutchinson", seed=4,
                                rtol=1e-7, atol=1e-7)
    se = probes.std() / 8
    assert abs(probes.mean() - exact[0]) < 4 * se and probes.std() > 1e-3


@pytest.mark.equation("eq:pf-ddim-euler")
def test_one_ddim_step_is_one_euler_step_in_sigma_coordinates():
    r"""DDIM ($\eta = 0$) の 1 ステップ $x_t \to x_s$ を $\sqrt{\bar\alpha_s}$ で割ると、
    $dy/d\sigma = \varepsilon$ のオイラー法 1 歩 ($\sigma_t \to \sigma_s$) に $10^{-12}$ (相対) で一致する。"""
    schedule = NoiseSchedule.linear(1000)
    def model(x, t):  # 時刻にも依存するおもちゃの ε
        return torch.sin(3 * x) + torch.as_tensor(t, dtype=torch.float64)[:, None] / 1000
    g = torch.Generator().manual_seed(0)
    x_t = torch.randn(16, 2, generator=g, dtype=torch.float64)
    v = ddim_ode(schedule, model)
    for t, s in ((1000, 980), (500, 300), (20, 0)):
        tt, ss = torch.full((16,), t), torch.full((16,), s)
        x_s = ddim_step(schedule, x_t, tt, ss, model(x_t, tt))
        sigmas = torch.cat([schedule.sigma(tt[:1]), schedule.sigma(ss[:1])])  # σ_t → σ_s
        y_s = euler(v, x_t / schedule.alpha_bar(tt)[0].sqrt(), sigmas)
        expected = x_s / schedule.alpha_bar(ss)[0].sqrt()
        assert torch.allclose(y_s, expected, rtol=1e-12, atol=1e-12 * expected.abs().max().item())


@pytest.mark.equation("eq:pf-ddim-ode")
def test_ddim_ode_is_the_probability_flow_ode_in_scaled_coordinates(mixture):
    r"""VP の確率フロー ODE $dx/dt = v$ を $y = x/m(t)$, $\sigma = s(t)/m(t)$ に移すと
    $dy/d\sigma = \varepsilon = -s(t) \nabla \log p_t$ (連鎖律: $dy/dt = v/m - x m'/m^2$、微分は中心差分)。"""
    sde = VPSDE()
    score = exact_score(mixture, sde)
    velocity = probability_flow(sde, score)
    x = torch.as_tensor(mixture.sample(10, seed=5))
    h = 1e-6
    for t in (0.05, 0.3, 0.8):
        tt = torch.full((10,), t, dtype=torch.float64)
        m, s = (v[0] for v in sde.marginal(tt))
        dm = (sde.marginal(tt + h)[0][0] - sde.marginal(tt - h)[0][0]) / (2 * h)
        dsigma = ((sde.marginal(tt + h)[1] / sde.marginal(tt + h)[0])[0]
                  - (sde.marginal(tt - h)[1] / sde.marginal(tt - h)[0])[0]) / (2 * h)
        dy_dt = velocity(x, tt) / m - x * dm / m**2
        assert torch.allclose(dy_dt / dsigma, -s * score(x, tt), rtol=1e-6, atol=1e-8)


def test_score_from_epsilon_inverts_epsilon_of_the_exact_score(mixture):
    r"""$\varepsilon^*(x, t) = -s(t) \nabla \log p_t(x)$ を渡すと、厳密なスコアが戻る。"""
    sde = VPSDE()
    score = exact_score(mixture, sde)
    T = 1000

    def epsilon(x, t):  # 離散時刻 t (実数のまま) の ε*
        tc = torch.as_tensor(t, dtype=torch.float64) / T
        return -sde.marginal(tc)[1][:, None] * score(x, tc)

    x = torch.as_tensor(mixture.sample(7, seed=6))
    t = torch.linspace(0.01, 1, 7, dtype=torch.float64)
    assert torch.allclose(score_from_epsilon(epsilon, sde, T)(x, t), score(x, t), atol=1e-12)
    with pytest.raises(ValueError, match="needs t > 0"):
        score_from_epsilon(epsilon, sde, T)(x, torch.zeros(7, dtype=torch.float64))


@pytest.mark.equation("eq:pf-error-gain")
@pytest.mark.parametrize("prediction", ["epsilon", "x0", "v"])
def test_output_gain_is_the_derivative_of_the_velocity(prediction):
    r"""$\partial v / \partial f_\theta$ を自動微分で (確率フロー ODE の速度場を通して) 求め、``output_gain`` と比べる。
    VP では閉じた形 $\beta/(2s)$ (ε)、$\beta m/(2s)$ (v)、$\beta m/(2s^2)$ (x0 の符号は負) とも比べる。"""
    t = torch.linspace(0.02, 1.0, 9, dtype=torch.float64)
    x = torch.randn(9, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for sde in (VPSDE(), SubVPSDE(), VESDE()):
        output = torch.zeros(9, 2, dtype=torch.float64, requires_grad=True)
        velocity = probability_flow(sde, score_from_epsilon(lambda y, k: y * 0 + output, sde, 1000,
                                                            prediction=prediction))
        velocity(x, t)[:, 0].sum().backward()
        gain = output_gain(sde, t, prediction)
        assert torch.allclose(output.grad[:, 0], gain, rtol=1e-12, atol=0)
        assert torch.all(output.grad[:, 1] == 0)
    sde = VPSDE()
    beta, (m, s) = sde.beta(t), sde.marginal(t)
    closed = {"epsilon": beta / (2 * s), "v": beta * m / (2 * s), "x0": -beta * m / (2 * s**2)}[prediction]
    assert torch.allclose(output_gain(sde, t, prediction), closed, rtol=1e-12)


def test_reference_solver_integrates_the_extra_term():
    """dx/dt = -x と extra = x の積分: x(t) = x0 e^{-t}, ∫_0^1 x dt = x0 (1 - e^{-1})。"""
    x0 = torch.tensor([[1.0], [-2.0]], dtype=torch.float64)
    x1, integral = solve_reference(lambda x, t: -x, x0, 0.0, 1.0, extra=lambda x, t: x[:, 0])
    assert torch.allclose(x1, x0 * np.exp(-1), atol=1e-9)
    assert torch.allclose(integral, x0[:, 0] * (1 - np.exp(-1)), atol=1e-9)


def test_bad_inputs():
    with pytest.raises(ValueError, match="sde must be an SDE"):
        probability_flow("vp", lambda x, t: x)
    with pytest.raises(ValueError, match="score must be callable"):
        probability_flow(VPSDE(), 3.0)
    with pytest.raises(ValueError, match="schedule must be a NoiseSchedule"):
        ddim_ode(None, lambda x, t: x)
    with pytest.raises(ValueError, match="x must be a floating-point tensor"):
        euler(lambda x, t: x, np.zeros((2, 1)), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="at least 2 times"):
        euler(lambda x, t: x, torch.zeros(2, 1, dtype=torch.float64), torch.tensor([0.0]))
    with pytest.raises(ValueError, match="estimator must be"):
        ode_log_likelihood(lambda x, t: x, torch.zeros(2, 1), lambda x: x[:, 0], estimator="fast")


@pytest.mark.equation("eq:pf-sde-bound")
def test_sde_kl_bound_is_zero_for_the_exact_score_and_closed_form_for_an_offset():
    r"""厳密なスコアなら上界の項は 0。スコアを定数ベクトル $a$ だけずらすと被積分関数は
    $\frac12 \beta(t) \|a\|^2$ で、VP の $\beta(t)$ は $t$ の 1 次式なので台形公式でも積分は閉じた形
    $\frac12 \|a\|^2 (\beta_{\min}(t_1 - t_0) + \frac12 (\beta_{\max} - \beta_{\min})(t_1^2 - t_0^2))$ に一致する。"""
    from gen_lib.diffusion.likelihood import sde_kl_bound
    from gen_lib.diffusion.sde import VPSDE, exact_score
    from gen_lib.distributions.gaussian_mixture import ring_of_gaussians

    p, sde = ring_of_gaussians(), VPSDE()
    score = exact_score(p, sde)
    x0, times = p.sample(300, seed=0), np.linspace(0.01, 1.0, 7)
    assert sde_kl_bound(score, score, sde, x0, times)["bound"] == 0.0
    a = torch.tensor([0.3, -0.4], dtype=torch.float64)  # ‖a‖² = 0.25
    shifted = sde_kl_bound(lambda x, t: score(x, t) + a, score, sde, x0, times)["bound"]
    t0, t1 = times[0], times[-1]
    expected = 0.5 * 0.25 * (sde.beta_min * (t1 - t0) + 0.5 * (sde.beta_max - sde.beta_min) * (t1**2 - t0**2))
    assert shifted == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="times must be at least 2 increasing"):
        sde_kl_bound(score, score, sde, x0, [0.5, 0.2])
