"""gen_lib.diffusion.networks: 時刻で条件付けた MLP と、DDPM・フローマッチングの学習。"""

from __future__ import annotations

import pytest
import torch

from gen_lib.diffusion.networks import TimeConditionedMLP, discrete_model, train_ddpm, train_flow_matching
from gen_lib.diffusion.schedule import NoiseSchedule


def gaussian_data(n=4000, seed=0):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 0.5 + 1.0


@pytest.mark.parametrize("prediction", ["epsilon", "x0", "v"])
def test_ddpm_training_approaches_the_exact_epsilon(prediction):
    r"""データが $\mathcal{N}(\mu, s^2 I)$ なら $\varepsilon^*(x_t) = \sqrt{1-\bar\alpha}\,(x_t - \sqrt{\bar\alpha}\mu)/(\bar\alpha s^2 + 1 - \bar\alpha)$。
    x0 や v を予測させたネットワークは、それを変換した $\hat{x}_0^* = (x_t - \sqrt{1-\bar\alpha}\,\varepsilon^*)/\sqrt{\bar\alpha}$ や
    $v^* = \sqrt{\bar\alpha}\,\varepsilon^* - \sqrt{1-\bar\alpha}\,\hat{x}_0^*$ に近づく。"""
    schedule = NoiseSchedule.linear(100, 1e-3, 0.2)
    network, history = train_ddpm(gaussian_data(), schedule, steps=600, hidden=32, n_hidden_layers=2,
                                  prediction=prediction, seed=0)
    assert sum(history[-50:]) / 50 < sum(history[:50]) / 50
    model = discrete_model(network, schedule.T)
    z = torch.randn(500, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    errors = []
    for t in (10, 50, 90):
        a = schedule.alpha_bar(torch.tensor([t])).item()
        x = a**0.5 * 1.0 + (a * 0.25 + 1 - a) ** 0.5 * z  # x_t の分布から引いた点で比べる
        epsilon = (1 - a) ** 0.5 * (x - a**0.5 * 1.0) / (a * 0.25 + 1 - a)
        x0 = (x - (1 - a) ** 0.5 * epsilon) / a**0.5
        exact = {"epsilon": epsilon, "x0": x0, "v": a**0.5 * epsilon - (1 - a) ** 0.5 * x0}[prediction]
        with torch.no_grad():
            learned = model(x, torch.full((500,), t))
        errors.append(((learned - exact) ** 2).sum() / (exact**2).sum())
    assert max(errors) < 0.15, errors  # 目標を取り違えると (符号・係数) 相対誤差は 1 の桁になる


def test_flow_matching_training_approaches_the_exact_velocity():
    r"""$x_t = (1-t)x_0 + t\varepsilon$、$x_0 \sim \mathcal{N}(\mu, s^2 I)$ の速度 $u_t(x) = \mu_\varepsilon - \mu_0$ を閉じた形で。"""
    network, history = train_flow_matching(gaussian_data(), steps=600, hidden=32, n_hidden_layers=2, seed=0)
    z = torch.randn(500, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for t in (0.2, 0.5, 0.8):
        var = (1 - t) ** 2 * 0.25 + t**2  # x_t の分散
        x = (1 - t) * 1.0 + var**0.5 * z  # x_t の分布から引いた点で比べる
        e_eps = t * (x - (1 - t) * 1.0) / var  # E[ε | x_t]
        e_x0 = 1.0 + (1 - t) * 0.25 * (x - (1 - t) * 1.0) / var  # E[x_0 | x_t]
        with torch.no_grad():
            learned = network(x, torch.full((500,), t, dtype=torch.float64))
        exact = e_eps - e_x0
        assert ((learned - exact) ** 2).sum() / (exact**2).sum() < 0.05


def test_network_checks_shapes_and_is_deterministic():
    a, b = TimeConditionedMLP(2, hidden=8, seed=3), TimeConditionedMLP(2, hidden=8, seed=3)
    x, t = torch.zeros(4, 2, dtype=torch.float64), torch.full((4,), 0.5, dtype=torch.float64)
    assert torch.equal(a(x, t), b(x, t))
    with pytest.raises(ValueError, match=r"expected x of shape \(N, 2\) and t of shape \(N,\)"):
        a(x, torch.zeros(3))
    with pytest.raises(ValueError, match="steps"):
        train_ddpm(gaussian_data(10), NoiseSchedule.linear(10), steps=0)
    with pytest.raises(ValueError, match="timesteps must be 'uniform' or 'likelihood'"):
        train_ddpm(gaussian_data(10), NoiseSchedule.linear(10), steps=1, timesteps="likely")
    with pytest.raises(ValueError, match="prediction must be one of"):
        train_ddpm(gaussian_data(10), NoiseSchedule.linear(10), steps=1, prediction="score")


def test_likelihood_timesteps_follow_beta_over_one_minus_alpha_bar():
    r"""$p(t) \propto \beta_t / (1 - \bar\alpha_t)$: 20 万回の頻度を、手で書いた重みと比べる (標準誤差の 5 倍以内)。"""
    import numpy as np

    from gen_lib.diffusion.schedule import likelihood_timesteps

    schedule = NoiseSchedule.linear(20, 1e-3, 0.3)
    betas = np.linspace(1e-3, 0.3, 20)
    weights = betas / (1 - np.cumprod(1 - betas))
    expected = weights / weights.sum()
    n = 200_000
    t = likelihood_timesteps(n, schedule, torch.Generator().manual_seed(0)).numpy()
    assert t.min() >= 1 and t.max() <= 20
    frequency = np.bincount(t, minlength=21)[1:] / n
    assert np.all(np.abs(frequency - expected) < 5 * np.sqrt(expected * (1 - expected) / n))
    assert expected[0] > 3 * expected[-1]  # 小さな t を多く引く (検査が一様な引き方を見分けること)
