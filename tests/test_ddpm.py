"""gen_lib.diffusion.schedule / ddpm / ddim: スケジュール、事後分布、予測の変換、DDPM と DDIM の 1 ステップ。

独立な計算と比べる: 事後分布はベイズの定理の数値積分、KL は torch.distributions、
ステップは参照実装 (diffusers の DDPMScheduler / DDIMScheduler) と float64 で 1e-12 まで。
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gen_lib.diffusion.ddim import ddim_step, ddim_timesteps
from gen_lib.diffusion.ddpm import (ddpm_step, predict_epsilon, prior_kl, predict_x0, q_posterior_mean_variance, q_sample,
                                    velocity_target)
from gen_lib.diffusion.schedule import NoiseSchedule

diffusers = pytest.importorskip("diffusers")

T = 1000


def _float64(scheduler):
    """diffusers は定数を float32 で持つ: 同じ式で float64 に作り直す (線形スケジュール)。"""
    betas = torch.linspace(scheduler.config.beta_start, scheduler.config.beta_end, scheduler.config.num_train_timesteps,
                           dtype=torch.float64)
    scheduler.betas = betas
    scheduler.alphas = 1.0 - betas
    scheduler.alphas_cumprod = torch.cumprod(scheduler.alphas, dim=0)
    scheduler.one = torch.tensor(1.0, dtype=torch.float64)
    if hasattr(scheduler, "final_alpha_cumprod"):
        scheduler.final_alpha_cumprod = torch.tensor(1.0, dtype=torch.float64)
    return scheduler


def _ddpm_scheduler(variance_type="fixed_small", prediction_type="epsilon"):
    return diffusers.DDPMScheduler(num_train_timesteps=T, beta_schedule="linear", beta_start=1e-4, beta_end=0.02,
                                   clip_sample=False, variance_type=variance_type, prediction_type=prediction_type)


def test_schedule_matches_reference_float64_and_float32():
    ours = NoiseSchedule.linear(T)
    reference = _ddpm_scheduler()
    t = torch.arange(1, T + 1)
    # 出荷どおり (float32) なら float32 の精度で、float64 で作り直せば 1e-12 で一致する
    assert torch.allclose(ours.alpha_bar(t), reference.alphas_cumprod.double(), rtol=1e-5, atol=0)
    assert torch.allclose(ours.alpha_bar(t), _float64(reference).alphas_cumprod, rtol=0, atol=1e-12)
    assert ours.alpha_bar(torch.tensor([0])).item() == 1.0  # ᾱ_0 = 1


def test_cosine_schedule_matches_reference_squaredcos():
    ours = NoiseSchedule.cosine(T)
    reference = diffusers.DDPMScheduler(num_train_timesteps=T, beta_schedule="squaredcos_cap_v2")
    assert torch.allclose(ours.betas, reference.betas.double(), rtol=1e-5, atol=1e-7)


@pytest.mark.equation("eq:ddpm-posterior")
def test_posterior_is_bayes_rule_by_quadrature():
    r"""$q(x_{t-1} \mid x_t, x_0) \propto q(x_t \mid x_{t-1})\, q(x_{t-1} \mid x_0)$ を 1 次元の格子で積分する。"""
    schedule = NoiseSchedule.linear(T)
    for t, x0, xt in [(2, 0.7, 0.5), (10, -1.2, 0.3), (500, 0.4, -1.1), (1000, 1.5, 0.2)]:
        a_prev = schedule.alpha_bar(torch.tensor([t - 1])).item()
        beta = schedule.beta(torch.tensor([t])).item()

        def log_joint(x):  # log q(x_t | x_{t-1} = x) + log q(x_{t-1} = x | x_0) (定数を除く)
            return -0.5 * (xt - np.sqrt(1 - beta) * x) ** 2 / beta - 0.5 * (x - np.sqrt(a_prev) * x0) ** 2 / (1 - a_prev)

        coarse = np.linspace(-6, 6, 40001)
        width = 12 * np.sqrt(min(beta, 1 - a_prev) if t > 1 else beta)  # 事後分布の幅より十分広い窓
        grid = np.linspace(-width, width, 20001) + coarse[np.argmax(log_joint(coarse))]
        w = np.exp(log_joint(grid) - np.max(log_joint(grid)))
        mean = np.sum(w * grid) / np.sum(w)
        var = np.sum(w * (grid - mean) ** 2) / np.sum(w)
        mu, v = q_posterior_mean_variance(schedule, torch.tensor([[x0]], dtype=torch.float64),
                                          torch.tensor([[xt]], dtype=torch.float64), torch.tensor([t]))
        assert mu.item() == pytest.approx(mean, abs=1e-8)
        assert v.item() == pytest.approx(var, rel=1e-6)


def test_posterior_at_t1_is_a_point_mass_at_x0():
    schedule = NoiseSchedule.linear(T)
    mu, v = q_posterior_mean_variance(schedule, torch.tensor([[0.3, -2.0]], dtype=torch.float64),
                                      torch.tensor([[1.0, 1.0]], dtype=torch.float64),
                                      torch.tensor([1]))
    assert v.item() == 0.0 and torch.allclose(mu, torch.tensor([[0.3, -2.0]], dtype=torch.float64))


@pytest.mark.equation("eq:ddpm-predictions")
def test_predictions_convert_exactly():
    """真の ε, x0, v を入れれば、どの表し方からも同じ x0 と ε に戻る。"""
    schedule = NoiseSchedule.cosine(T)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(64, 3, 4, 4, generator=g, dtype=torch.float64)  # 画像の形でも同じ関数
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    t = torch.randint(1, T + 1, (64,), generator=g)
    x_t = q_sample(schedule, x0, t, eps)
    v = velocity_target(schedule, x0, t, eps)
    for prediction, output in (("epsilon", eps), ("x0", x0), ("v", v)):
        assert torch.allclose(predict_x0(schedule, x_t, t, output, prediction), x0, atol=1e-9)
        assert torch.allclose(predict_epsilon(schedule, x_t, t, output, prediction), eps, atol=1e-9)


@pytest.mark.equation("eq:ddpm-reverse-mean")
def test_ho_equation_11_equals_posterior_mean_of_predicted_x0():
    r"""ε 予測の平均 $\frac{1}{\sqrt{\alpha_t}}(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\hat\varepsilon)$ (式 (11))。"""
    schedule = NoiseSchedule.linear(T)
    g = torch.Generator().manual_seed(1)
    x_t = torch.randn(32, 2, generator=g, dtype=torch.float64)
    eps = torch.randn(32, 2, generator=g, dtype=torch.float64)
    t = torch.randint(1, T + 1, (32,), generator=g)
    mean = ddpm_step(schedule, x_t, t, eps, torch.zeros_like(x_t))
    beta, a = schedule.beta(t)[:, None], schedule.alpha_bar(t)[:, None]
    assert torch.allclose(mean, (x_t - beta / (1 - a).sqrt() * eps) / (1 - beta).sqrt(), atol=1e-12)


@pytest.mark.parametrize("variance, variance_type", [("posterior", "fixed_small"), ("beta", "fixed_large")])
@pytest.mark.parametrize("prediction, prediction_type", [("epsilon", "epsilon"), ("x0", "sample"),
                                                         ("v", "v_prediction")])
@pytest.mark.equation("eq:ddpm-reverse-mean")
def test_ddpm_step_matches_reference(variance, variance_type, prediction, prediction_type):
    ours = NoiseSchedule.linear(T)
    reference = _float64(_ddpm_scheduler(variance_type, prediction_type))
    g = torch.Generator().manual_seed(2)
    x_t = torch.randn(16, 2, generator=g, dtype=torch.float64)
    out = torch.randn(16, 2, generator=g, dtype=torch.float64)
    for t in (1000, 731, 2, 1):
        noise_seed = 100 + t
        expected = reference.step(out, t - 1, x_t, generator=torch.Generator().manual_seed(noise_seed)).prev_sample
        z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(noise_seed), dtype=torch.float64)
        got = ddpm_step(ours, x_t, torch.full((16,), t), out, z, prediction=prediction, variance=variance)
        assert torch.allclose(got, expected, rtol=0, atol=1e-12), t


def test_ddpm_step_float32_as_shipped():
    ours = NoiseSchedule.linear(T)
    reference = _ddpm_scheduler()
    g = torch.Generator().manual_seed(3)
    x_t, out = torch.randn(16, 2, generator=g), torch.randn(16, 2, generator=g)
    expected = reference.step(out, 499, x_t, generator=torch.Generator().manual_seed(7)).prev_sample
    z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(7))
    got = ddpm_step(ours, x_t.double(), torch.full((16,), 500), out.double(), z.double())
    assert torch.allclose(got.float(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("spacing, offset, n_steps", [("leading", 0, 50), ("leading", 1, 50), ("trailing", 0, 50),
                                                      ("linspace", 0, 50), ("leading", 0, 1000), ("trailing", 0, 7)])
def test_ddim_timesteps_match_reference(spacing, offset, n_steps):
    reference = diffusers.DDIMScheduler(num_train_timesteps=T, timestep_spacing=spacing, steps_offset=offset)
    reference.set_timesteps(n_steps)
    assert np.array_equal(ddim_timesteps(T, n_steps, spacing, offset), reference.timesteps.numpy() + 1)


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_step_matches_reference(eta):
    ours = NoiseSchedule.linear(T)
    reference = _float64(diffusers.DDIMScheduler(num_train_timesteps=T, beta_schedule="linear", beta_start=1e-4,
                                                 beta_end=0.02, clip_sample=False, set_alpha_to_one=True,
                                                 timestep_spacing="leading", steps_offset=1))
    reference.set_timesteps(50)
    taus = ddim_timesteps(T, 50, "leading", 1)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(16, 2, generator=g, dtype=torch.float64)
    for t, s in zip(taus, list(taus[1:]) + [0]):
        out = torch.randn(16, 2, generator=g, dtype=torch.float64)
        z = torch.randn(16, 2, generator=g, dtype=torch.float64)
        expected = reference.step(out, int(t) - 1, x, eta=eta, variance_noise=z if eta > 0 else None).prev_sample
        got = ddim_step(ours, x, torch.full((16,), int(t)), torch.full((16,), int(s)), out, eta=eta,
                        noise=z if eta > 0 else None)
        assert torch.allclose(got, expected, rtol=0, atol=1e-12), (t, s)
        x = got


def test_ddim_eta_one_on_the_full_sequence_is_ddpm():
    r"""$\eta = 1$、部分列が 1..T 全部なら $\sigma_t^2 = \tilde\beta_t$ で、DDIM の 1 歩は DDPM の 1 歩と同じ。"""
    schedule = NoiseSchedule.linear(T)
    g = torch.Generator().manual_seed(5)
    x_t, eps, z = (torch.randn(8, 2, generator=g, dtype=torch.float64) for _ in range(3))
    for t in (1000, 10, 2):
        tt = torch.full((8,), t)
        assert torch.allclose(ddim_step(schedule, x_t, tt, tt - 1, eps, eta=1.0, noise=z),
                              ddpm_step(schedule, x_t, tt, eps, z), atol=1e-12)


def test_prior_kl_matches_torch_distributions():
    schedule = NoiseSchedule.linear(50)
    x0 = torch.tensor([[0.0, 1.0], [2.0, -3.0]], dtype=torch.float64)
    a = schedule.alpha_bar(torch.tensor([50])).item()
    q = torch.distributions.Normal(a**0.5 * x0, (1 - a) ** 0.5)
    expected = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(dim=1)
    assert torch.allclose(prior_kl(schedule, x0), expected, atol=1e-12)
    assert prior_kl(NoiseSchedule.linear(1000), x0).max() < 1e-3 < prior_kl(schedule, x0).min()  # T = 50 は遠い


@pytest.mark.parametrize("betas, match", [([0.1, 1.0], "betas must lie in"), ([0.0, 0.1], "betas must lie in"),
                                          ([], "at least one"), ([[0.1]], "dimension"), ([0.1, np.nan], "finite")])
def test_schedule_rejects_bad_betas(betas, match):
    with pytest.raises(ValueError, match=match):
        NoiseSchedule(betas)


def test_bad_inputs_name_the_value():
    schedule = NoiseSchedule.linear(10)
    x = torch.zeros(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"t must lie in \[1, T\] = \[1, 10\], got min 0"):
        ddpm_step(schedule, x, torch.tensor([0, 1, 2]), x, x)
    with pytest.raises(ValueError, match=r"t must lie in \[0, T\] = \[0, 10\], got min 0, max 11"):
        q_sample(schedule, x, torch.tensor([0, 1, 11]), x)
    with pytest.raises(ValueError, match=r"t must have shape \(N,\) = \(3,\)"):
        q_sample(schedule, x, torch.tensor([1, 2]), x)
    with pytest.raises(ValueError, match="t must hold integers"):
        q_sample(schedule, x, torch.tensor([1.0, 2.0, 3.0]), x)
    with pytest.raises(ValueError, match="x0 must be finite"):
        q_sample(schedule, torch.full((3, 2), float("nan")), torch.tensor([1, 2, 3]), x)
    with pytest.raises(ValueError, match="same shape"):
        q_sample(schedule, x, torch.tensor([1, 2, 3]), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="eta must be a finite number >= 0, got -0.1"):
        ddim_step(schedule, x, torch.tensor([5, 5, 5]), torch.tensor([1, 1, 1]), x, eta=-0.1)
    with pytest.raises(ValueError, match="s < t"):
        ddim_step(schedule, x, torch.tensor([5, 5, 5]), torch.tensor([5, 1, 1]), x)
    with pytest.raises(ValueError, match="n_steps must be at most T = 10, got 11"):
        ddim_timesteps(10, 11)
    with pytest.raises(ValueError, match="prediction must be one of"):
        predict_x0(schedule, x, torch.tensor([1, 2, 3]), x, "score")
    with pytest.raises(ValueError, match="variance must be"):
        ddpm_step(schedule, x, torch.tensor([1, 2, 3]), x, x, variance="learned")


# --- 変分下界・ガウス分布の KL・ε とスコア (docs/ch3/ddpm.md, ddpm-score.md) ---

from gen_lib.diffusion.ddpm import exact_epsilon, gaussian_kl, variational_bound_terms  # noqa: E402
from gen_lib.diffusion.forward_noising import run_forward_chain  # noqa: E402
from gen_lib.distributions.gaussian_mixture import isotropic_mixture, ring_of_gaussians  # noqa: E402
from gen_lib.score_based.denoising_score_matching import mixture_posterior_mean  # noqa: E402


@pytest.mark.equation("eq:ddpm-gaussian-kl")
def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(8)
    m_q, m_p = (torch.randn(6, 3, generator=g, dtype=torch.float64) for _ in range(2))
    v_q, v_p = (torch.rand(6, generator=g, dtype=torch.float64) + 0.1 for _ in range(2))
    q = torch.distributions.Normal(m_q, v_q.sqrt()[:, None])
    p = torch.distributions.Normal(m_p, v_p.sqrt()[:, None])
    expected = torch.distributions.kl_divergence(q, p).sum(dim=1)
    assert torch.allclose(gaussian_kl(m_q, v_q, m_p, v_p), expected, atol=1e-12)
    with pytest.raises(ValueError, match="must be positive"):
        gaussian_kl(m_q, torch.zeros(6, dtype=torch.float64), m_p, v_p)


@pytest.mark.equation("eq:ddpm-vlb")
@pytest.mark.parametrize("variance", ["posterior", "beta"])
def test_variational_bound_matches_direct_monte_carlo(variance):
    r"""$T = 5$ で、閉じた形の KL の和が $\mathbb{E}[\log q(x_{1:T} \mid x_0) - \log q_\theta(x_{0:T})]$
    (前向きの連鎖のサンプルで直接計算、平均は式 (11) を手で書く) と標準誤差の 5 倍以内で一致する。"""
    p = isotropic_mixture([[-1.0], [1.5]], 0.3, weights=[0.4, 0.6])
    betas = np.array([0.02, 0.1, 0.3, 0.5, 0.7])
    schedule, T, n = NoiseSchedule(betas), 5, 40000
    model = exact_epsilon(p, schedule)
    x0 = p.sample(n, seed=1)
    terms = variational_bound_terms(schedule, model, torch.as_tensor(x0), seed=2, variance=variance)
    bound = (terms["prior"] + terms["diffusion"].sum(dim=1) + terms["decoder"]).numpy()
    assert terms["diffusion"].shape == (n, T - 1)

    path = run_forward_chain(x0, betas, seed=3, return_path=True)  # (T+1, n, 1)
    a = np.concatenate([[1.0], np.cumprod(1 - betas)])

    def log_normal(x, mean, var):
        return np.sum(-0.5 * (x - mean) ** 2 / var - 0.5 * np.log(2 * np.pi * var), axis=-1)

    log_ratio = sum(log_normal(path[t], np.sqrt(1 - betas[t - 1]) * path[t - 1], betas[t - 1])
                    for t in range(1, T + 1)) - log_normal(path[T], 0.0, 1.0)
    for t in range(1, T + 1):
        b = betas[t - 1]
        eps = model(torch.as_tensor(path[t]), torch.full((n,), t)).numpy()
        mean = (path[t] - b / np.sqrt(1 - a[t]) * eps) / np.sqrt(1 - b)
        var = b if t == 1 or variance == "beta" else (1 - a[t - 1]) / (1 - a[t]) * b
        log_ratio -= log_normal(path[t - 1], mean, var)
    se = np.hypot(bound.std(), log_ratio.std()) / np.sqrt(n)
    assert abs(bound.mean() - log_ratio.mean()) < 5 * se
    # 上界はデータ分布のエントロピー以上 (格子の数値積分)
    grid = np.linspace(-6, 6, 20001)
    log_p = p.log_prob(grid[:, None])
    assert bound.mean() > -np.sum(np.exp(log_p) * log_p) * (grid[1] - grid[0])


def test_variational_bound_is_deterministic_and_checks_inputs():
    schedule = NoiseSchedule.linear(20)
    model = exact_epsilon(ring_of_gaussians(), schedule)
    x0 = torch.as_tensor(ring_of_gaussians().sample(10, seed=0))
    first = variational_bound_terms(schedule, model, x0, seed=4)
    second = variational_bound_terms(schedule, model, x0, seed=4)
    assert all(torch.equal(first[k], second[k]) for k in first)
    with pytest.raises(ValueError, match="variance must be"):
        variational_bound_terms(schedule, model, x0, variance="learned")
    with pytest.raises(ValueError, match="x0 must be finite"):
        variational_bound_terms(schedule, model, torch.full((3, 2), float("nan")))
    with pytest.raises(ValueError, match="schedule must be a NoiseSchedule"):
        variational_bound_terms("linear", model, x0)


@pytest.mark.equation("eq:dscore-eps-score")
def test_exact_epsilon_is_scaled_score_by_autograd():
    r"""$\varepsilon^* = -\sqrt{1 - \bar\alpha_t}\, \nabla \log q(x_t)$: スコアを torch の自動微分で求め直す。"""
    p, schedule = ring_of_gaussians(), NoiseSchedule.linear(T)
    model = exact_epsilon(p, schedule)
    x = torch.randn(7, 2, generator=torch.Generator().manual_seed(9), dtype=torch.float64) * 2
    for t in (1, 30, 400, 1000):
        a = schedule.alpha_bar(torch.tensor([t])).item()
        y = x.clone().requires_grad_(True)
        p.noised(a**0.5, (1 - a) ** 0.5).log_prob_torch(y).sum().backward()
        expected = -((1 - a) ** 0.5) * y.grad
        assert torch.allclose(model(x, torch.full((7,), t)), expected, rtol=1e-9, atol=1e-10), t


@pytest.mark.equation("eq:dscore-sigma", "eq:dscore-eps-score")
def test_exact_epsilon_equals_chapter2_score_of_p_sigma_at_every_t():
    r"""すべての $t$ で $\varepsilon^*(x_t, t) = -\sigma_t \nabla_y \log p_{\sigma_t}(y)$, $y = x_t / \sqrt{\bar\alpha_t}$。"""
    p, schedule = ring_of_gaussians(), NoiseSchedule.linear(T)
    t = torch.arange(1, T + 1)
    x_t = torch.randn(T, 2, generator=torch.Generator().manual_seed(10), dtype=torch.float64) * 1.5
    eps = exact_epsilon(p, schedule)(x_t, t).numpy()
    a, sigma = schedule.alpha_bar(t).numpy(), schedule.sigma(t).numpy()
    assert np.allclose(sigma, np.sqrt((1 - a) / a), rtol=1e-14)
    for k in range(T):
        y = x_t[k : k + 1].numpy() / np.sqrt(a[k])
        assert np.allclose(eps[k], -sigma[k] * p.noised(1.0, sigma[k]).score(y)[0], rtol=1e-8, atol=1e-10), k


@pytest.mark.equation("eq:dscore-tweedie")
def test_x0_prediction_from_exact_epsilon_is_the_posterior_mean():
    """Tweedie: ε* から作る x̂_0 は、ガウス混合の事後平均 (第 2 章の閉じた形) と一致する。"""
    p, schedule = ring_of_gaussians(), NoiseSchedule.linear(T)
    model = exact_epsilon(p, schedule)
    x_t = torch.randn(50, 2, generator=torch.Generator().manual_seed(11), dtype=torch.float64) * 1.5
    for t in (2, 50, 300, 1000):
        tt = torch.full((50,), t)
        x0_hat = predict_x0(schedule, x_t, tt, model(x_t, tt)).numpy()
        a, sigma = schedule.alpha_bar(tt)[0].item(), schedule.sigma(tt)[0].item()
        expected = mixture_posterior_mean(p, x_t.numpy() / a**0.5, sigma)
        assert np.allclose(x0_hat, expected, rtol=0, atol=1e-9 * max(1.0, 1 / a**0.5)), t
