"""gen_lib.diffusion.flow_matching: 直線の経路、周辺の速度場、CFM と FM の勾配 (ページ docs/ch3/flow-matching.md)。"""

from __future__ import annotations

import pytest
import torch

from gen_lib.diffusion.flow_matching import LinearPath, exact_velocity, flow_matching_loss
from gen_lib.diffusion.likelihood import divergence_exact
from gen_lib.distributions.gaussian_mixture import isotropic_mixture


@pytest.fixture(scope="module")
def mixture():
    return isotropic_mixture([[-1.5, 0.0], [1.5, 0.5], [0.0, 1.8]], 0.35, weights=[0.5, 0.3, 0.2])


def full(n, t):
    return torch.full((n,), t, dtype=torch.float64)


@pytest.mark.equation("eq:fm-path")
def test_path_endpoints_and_conditional_velocity():
    r"""$x_0$ と $\varepsilon$ を結ぶ直線: 端点と、中心差分で求めた $dx_t/dt = \varepsilon - x_0$。"""
    g = torch.Generator().manual_seed(0)
    x0, noise = (torch.randn(5, 2, generator=g, dtype=torch.float64) for _ in range(2))
    path = LinearPath()
    assert torch.equal(path.interpolate(x0, full(5, 0.0), noise), x0)
    assert torch.equal(path.interpolate(x0, full(5, 1.0), noise), noise)
    h = 1e-6
    derivative = (path.interpolate(x0, full(5, 0.3 + h), noise)
                  - path.interpolate(x0, full(5, 0.3 - h), noise)) / (2 * h)
    assert torch.allclose(derivative, path.conditional_velocity(x0, noise), atol=1e-8)


@pytest.mark.equation("eq:fm-marginal-velocity")
def test_marginal_velocity_transports_the_marginals(mixture):
    r"""連続の式 $\partial_t p_t = -\nabla \cdot (p_t u_t)$: $p_t$ は
    $\sum_k \pi_k \mathcal{N}((1-t)\mu_k, ((1-t)^2\sigma^2 + t^2) I)$ の閉じた形 (中心差分)、
    右辺は自動微分。条件付きの速度 $\varepsilon - x_0$ を周辺で平均した $u_t$ が
    周辺分布を運ぶこと。速度を 2 倍にすると成り立たない。"""
    velocity = exact_velocity(mixture)
    x = torch.as_tensor(mixture.noised(0.6, 0.4).sample(8, seed=1))
    h = 1e-5
    for t in (0.2, 0.6):
        density = lambda y, t: mixture.noised(1 - t, t).log_prob_torch(y).exp()  # noqa: E731
        dp_dt = (density(x, t + h) - density(x, t - h)) / (2 * h)
        for scale, holds in ((1.0, True), (2.0, False)):
            flux = lambda y, tt: density(y, t)[:, None] * scale * velocity(y, tt)  # noqa: E731
            divergence = divergence_exact(flux, x, full(8, t))
            close = torch.allclose(dp_dt, -divergence, rtol=1e-5, atol=1e-8)
            assert close == holds


@pytest.mark.equation("eq:fm-velocity-score")
def test_velocity_through_the_score_is_the_posterior_mean(mixture):
    r"""$u_t(x) = -(x + t \nabla \log p_t(x))/(1 - t)$ を、ベイズの定理で求めた
    $\mathbb{E}[\varepsilon \mid x_t] - \mathbb{E}[x_0 \mid x_t]$ (成分 $k$ ごとのガウスの条件付け) と比べる。"""
    t = 0.35
    a, b, var = 1 - t, t, 0.35**2
    x = torch.as_tensor(mixture.noised(a, b).sample(20, seed=2))
    r = torch.as_tensor(mixture.noised(a, b).responsibilities(x.numpy()))  # p(k | x_t)
    means = torch.tensor(mixture.means)
    gain = a * var / (a**2 * var + b**2)  # E[x0 | x_t, k] = μ_k + gain (x_t - a μ_k)
    x0_mean = (r[:, :, None] * (means + gain * (x[:, None] - a * means))).sum(dim=1)
    eps_mean = (x - a * x0_mean) / b
    score = torch.as_tensor(mixture.noised(a, b).score(x.numpy()))
    got = LinearPath().velocity_from_score(x, full(20, t), score)
    assert torch.allclose(got, eps_mean - x0_mean, atol=1e-10)
    assert torch.allclose(exact_velocity(mixture)(x, full(20, t)), got, atol=1e-10)


@pytest.mark.equation("eq:fm-gradients")
def test_cfm_and_fm_have_the_same_gradient(mixture):
    r"""$\nabla_\theta \mathcal{L}_{\mathrm{CFM}} = \nabla_\theta \mathcal{L}_{\mathrm{FM}}$:
    同じ $(t, x_0, \varepsilon)$ のサンプルで、
    点ごとの勾配の差の平均が標準誤差の 4 倍以内。目標を周辺の $u_t$ から 0.3 ずらすと 8 倍を超える。"""
    n = 20000
    g = torch.Generator().manual_seed(3)
    x0 = torch.as_tensor(mixture.sample(n, seed=4))
    noise = torch.randn(n, 2, generator=g, dtype=torch.float64)
    t = 0.05 + 0.9 * torch.rand(n, generator=g, dtype=torch.float64)
    x_t = LinearPath().interpolate(x0, t, noise)
    u = exact_velocity(mixture)(x_t, t)
    weight = torch.tensor([[0.3, -0.2], [0.1, 0.5]], dtype=torch.float64, requires_grad=True)

    def model(x, tt):  # 小さなモデル v_θ(x, t) = W x + t
        return x @ weight.T + tt[:, None]

    def per_sample_gap(target):  # 点ごとの ∇_W ‖v_θ - 目標‖² の、CFM と FM (目標 target) の差
        residual_cfm = model(x_t, t) - LinearPath.conditional_velocity(x0, noise)
        residual_fm = model(x_t, t) - target
        return 2 * ((residual_cfm - residual_fm)[:, :, None] * x_t[:, None, :]).reshape(n, -1)

    for shift, ratio_ok in ((0.0, lambda z: z < 4), (0.3, lambda z: z > 8)):
        gap = per_sample_gap(u + shift).detach()
        z = (gap.mean(dim=0).abs() / (gap.std(dim=0) / n**0.5)).max().item()
        assert ratio_ok(z), (shift, z)
    # 関数の損失の勾配も点ごとの式と同じ (自動微分)
    loss = flow_matching_loss(model, x0, t, noise)
    grad = torch.autograd.grad(loss, weight)[0]
    residual = model(x_t, t) - LinearPath.conditional_velocity(x0, noise)
    manual = 2 * (residual[:, :, None] * x_t[:, None, :]).mean(dim=0)
    assert torch.allclose(grad, manual, atol=1e-10)


def test_bad_inputs(mixture):
    path = LinearPath()
    with pytest.raises(ValueError, match="needs t < 1"):
        path.velocity_from_score(torch.zeros(2, 2, dtype=torch.float64), full(2, 1.0),
                                 torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\]"):
        path.interpolate(torch.zeros(2, 2), full(2, 1.5), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="model must return the shape of x0"):
        flow_matching_loss(lambda x, t: x[:, :1], torch.zeros(3, 2), full(3, 0.5),
                           torch.zeros(3, 2))
    with pytest.raises(ValueError, match="mixture must be a GaussianMixture"):
        exact_velocity("ring")
