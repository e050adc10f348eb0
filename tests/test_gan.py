"""gen_lib.generative.gan: 最適識別器、V(D*, G) = -log 4 + 2 JS、JS の範囲、損失の式、学習の決定性。"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gen_lib.generative.gan import (Discriminator, Generator, discriminator_loss, generator_loss,
                                   jensen_shannon, optimal_discriminator, optimal_value, sample, train_gan,
                                   value_function)
from gen_lib.distributions.gaussian_mixture import ring_of_gaussians

GRID = np.linspace(-10.0, 10.0, 4001)
DX = GRID[1] - GRID[0]


def normal_pdf(x, mean, std):
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


P = 0.5 * normal_pdf(GRID, -1.5, 0.5) + 0.5 * normal_pdf(GRID, 1.5, 0.5)
Q = normal_pdf(GRID, 0.5, 1.0)


@pytest.mark.equation("eq:optimal-discriminator")
def test_optimal_discriminator_maximises_v_pointwise_by_brute_force():
    # 各点で a log y + b log(1 - y) を y の細かい格子で総当たりに最大化し、D* = a / (a + b) と比べる
    x = np.linspace(-3, 3, 61)
    a, b = 0.5 * normal_pdf(x, -1.5, 0.5) + 0.5 * normal_pdf(x, 1.5, 0.5), normal_pdf(x, 0.5, 1.0)
    y = np.linspace(1e-6, 1 - 1e-6, 200001)
    objective = a[:, None] * np.log(y)[None, :] + b[:, None] * np.log1p(-y)[None, :]
    brute = y[np.argmax(objective, axis=1)]
    np.testing.assert_allclose(optimal_discriminator(a, b), brute, atol=2e-5)


@pytest.mark.equation("eq:gan-value", "eq:optimal-discriminator")
def test_perturbing_the_optimal_discriminator_lowers_v():
    d_star = optimal_discriminator(P, Q)
    v_star = value_function(P, Q, d_star, DX)
    rng = np.random.default_rng(0)
    for scale in [0.3, 0.05, 0.005]:
        for _ in range(5):
            d = np.clip(d_star + scale * rng.normal(size=d_star.shape), 1e-9, 1 - 1e-9)
            assert value_function(P, Q, d, DX) < v_star
    # 定数 D = 1/2 (見分けられない識別器) なら V = -log 4 ちょうど
    assert value_function(P, Q, np.full_like(P, 0.5), DX) == pytest.approx(-math.log(4), abs=1e-12)


@pytest.mark.equation("eq:gan-js")
def test_value_at_optimum_equals_minus_log4_plus_twice_js():
    v_star = value_function(P, Q, optimal_discriminator(P, Q), DX)
    assert v_star == pytest.approx(optimal_value(P, Q, DX), abs=1e-10)
    assert v_star == pytest.approx(-math.log(4) + 2 * jensen_shannon(P, Q, DX), abs=1e-10)
    # 生成器が p を再現すれば (q = p) 最小値 -log 4
    assert optimal_value(P, P, DX) == pytest.approx(-math.log(4), abs=1e-12)


@pytest.mark.equation("eq:js")
def test_jensen_shannon_matches_monte_carlo():
    # JS = ½ E_p[log(2p/(p+q))] + ½ E_q[log(2q/(p+q))] を p, q からのサンプルで (格子を使わずに) 推定する
    rng = np.random.default_rng(1)
    n = 200_000
    xp = np.where(rng.random(n) < 0.5, -1.5, 1.5) + 0.5 * rng.normal(size=n)
    xq = 0.5 + rng.normal(size=n)

    def p(x):
        return 0.5 * normal_pdf(x, -1.5, 0.5) + 0.5 * normal_pdf(x, 1.5, 0.5)

    def q(x):
        return normal_pdf(x, 0.5, 1.0)

    mc = 0.5 * np.mean(np.log(2 * p(xp) / (p(xp) + q(xp)))) + 0.5 * np.mean(np.log(2 * q(xq) / (p(xq) + q(xq))))
    assert jensen_shannon(P, Q, DX) == pytest.approx(mc, abs=0.005)


@pytest.mark.equation("eq:js")
def test_jensen_shannon_bounds():
    assert jensen_shannon(P, P, DX) == 0.0
    js = jensen_shannon(P, Q, DX)
    assert 0 < js < math.log(2)
    assert js == pytest.approx(jensen_shannon(Q, P, DX), abs=1e-15)
    # 台が重ならない 2 つの一様分布: JS = log 2 (最大)
    left = np.where((GRID > -6) & (GRID <= -2), 1.0, 0.0)
    right = np.where((GRID > 2) & (GRID <= 6), 1.0, 0.0)
    left, right = left / (left.sum() * DX), right / (right.sum() * DX)
    assert jensen_shannon(left, right, DX) == pytest.approx(math.log(2), abs=1e-12)
    # 台が重ならないと V(D*, G) = -log 4 + 2 log 2 = 0 (生成器にとって最悪)
    assert optimal_value(left, right, DX) == pytest.approx(0.0, abs=1e-12)
    # 台が離れている限り、どれだけ離れていても JS = log 2 で一定 (ずらす量についての勾配は 0)
    for shift in [1000, 1600, 2000]:
        assert jensen_shannon(left, np.roll(left, shift), DX) == pytest.approx(math.log(2), abs=1e-12)
    # 台が少しずつ重なると JS は log 2 から下がる
    values = [jensen_shannon(left, np.roll(left, shift), DX) for shift in [1000, 600, 400, 100, 0]]
    assert values[0] == pytest.approx(math.log(2), abs=1e-12)
    assert all(a > b for a, b in zip(values, values[1:]))


@pytest.mark.equation("eq:gan-value", "eq:saturating-gradient", "eq:non-saturating-loss")
def test_losses_match_their_formulas_and_gradients():
    a_real = torch.tensor([2.0, -0.5, 0.3], dtype=torch.float64)
    a_fake = torch.tensor([-3.0, 0.1], dtype=torch.float64)
    sig = torch.sigmoid
    expected_d = -torch.log(sig(a_real)).mean() - torch.log(1 - sig(a_fake)).mean()
    assert discriminator_loss(a_real, a_fake).item() == pytest.approx(expected_d.item(), rel=1e-12)
    assert generator_loss(a_fake).item() == pytest.approx(-torch.log(sig(a_fake)).mean().item(), rel=1e-12)
    assert generator_loss(a_fake, saturating=True).item() == pytest.approx(
        torch.log(1 - sig(a_fake)).mean().item(), rel=1e-12)
    # 勾配: d/da log(1 - σ(a)) = -σ(a) (a → -∞ で 0 に消える), d/da [-log σ(a)] = -(1 - σ(a))
    a = torch.tensor([-10.0], dtype=torch.float64, requires_grad=True)
    generator_loss(a, saturating=True).backward()
    assert a.grad.item() == pytest.approx(-sig(torch.tensor(-10.0, dtype=torch.float64)).item(), rel=1e-9)
    assert abs(a.grad.item()) < 1e-4
    a.grad = None
    generator_loss(a).backward()
    assert a.grad.item() == pytest.approx(-(1 - sig(torch.tensor(-10.0, dtype=torch.float64))).item(), rel=1e-9)


def test_training_is_deterministic_and_leaves_global_rng_alone():
    data = ring_of_gaussians().sample(500, seed=0)
    state = torch.get_rng_state()
    g1, h1 = train_gan(data, steps=60, checkpoint_every=30, n_eval=100, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    g2, h2 = train_gan(data, steps=60, checkpoint_every=30, n_eval=100, seed=5)
    np.testing.assert_array_equal(sample(g1, 50, seed=1), sample(g2, 50, seed=1))
    np.testing.assert_array_equal(h1.generator_loss, h2.generator_loss)
    assert h1.distances == h2.distances and h1.checkpoints == [0, 30, 60]
    _, h3 = train_gan(data, steps=60, checkpoint_every=30, n_eval=100, seed=6)
    assert not np.array_equal(h1.generator_loss, h3.generator_loss)
    assert not np.array_equal(sample(g1, 50, seed=1), sample(g1, 50, seed=2))


def test_training_reduces_the_energy_distance():
    data = ring_of_gaussians().sample(2000, seed=0)
    model, history = train_gan(data, steps=500, checkpoint_every=250, n_eval=300, seed=0)
    assert history.checkpoints == [0, 250, 500]
    assert history.distances[-1] < 0.3 * history.distances[0]
    x = sample(model, 200, seed=0)
    assert x.shape == (200, 2) and x.dtype == np.float64


def test_bad_inputs_raise():
    data = np.zeros((10, 2))
    with pytest.raises(ValueError, match="finite"):
        train_gan(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="2 dimension"):
        train_gan(np.zeros(10))
    with pytest.raises(ValueError, match="lr"):
        train_gan(data, lr=0.0)
    with pytest.raises(ValueError, match="steps"):
        train_gan(data, steps=0)
    with pytest.raises(ValueError, match="batch_size"):
        train_gan(data, batch_size=-1)
    with pytest.raises(ValueError, match="seed"):
        train_gan(data, steps=1, seed=-1)
    with pytest.raises(ValueError, match="latent_dim"):
        Generator(latent_dim=0)
    with pytest.raises(ValueError, match="hidden"):
        Discriminator(hidden=0)
    with pytest.raises(ValueError, match="Generator"):
        sample(Discriminator(), 5)
    with pytest.raises(ValueError, match="n must"):
        sample(Generator(), 0)
    with pytest.raises(ValueError, match="same shape"):
        optimal_discriminator(P, Q[:-1])
    with pytest.raises(ValueError, match="non-negative"):
        optimal_discriminator(-P, Q)
    with pytest.raises(ValueError, match="undefined"):
        optimal_discriminator(np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="integrate to 1"):
        jensen_shannon(2 * P, Q, DX)
    with pytest.raises(ValueError, match="dx"):
        jensen_shannon(P, Q, 0.0)
    with pytest.raises(ValueError, match="same length"):
        jensen_shannon(P, Q[:-1], DX)
    with pytest.raises(ValueError, match="non-negative density"):
        jensen_shannon(np.array([-1.0, 2.0]), np.array([0.5, 0.5]), 1.0)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        value_function(P, Q, np.full_like(P, 1.5), DX)


def test_training_shows_what_the_page_describes():
    # docs/ch1/implicit.md の数値はビルドが結果から書き込む。ここでは文章の主張 (一時的なモード崩壊、
    # 最後は 8 個すべてを捉える、ノイズの床より大きな差が残る、損失は均衡の値に届かない) を確かめる。
    from gen_lib.experiments.ch1_implicit import gan_training

    r = gan_training()
    step = {int(s): i for i, s in enumerate(r["checkpoints"])}
    assert r["covered"][step[200]] < 8 and r["high_quality"][step[200]] < 0.5
    assert r["covered"][-1] == 8
    last_partial = np.flatnonzero(r["covered"] < 8)[-1]
    assert r["checkpoints"][last_partial] < r["checkpoints"][-1]
    floor = r["noise_floor"].mean()
    assert r["distances"][-1] > 2 * floor
    assert r["mode_counts"][-1].min() < 62.5 < r["mode_counts"][-1].max()
    assert r["discriminator_loss"][-100:].mean() < math.log(4)
    assert r["generator_loss"][-100:].mean() > math.log(2)
