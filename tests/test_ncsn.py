"""gen_lib.score_based.ncsn と gen_lib.experiments.ch2_ncsn: ノイズの列、p_σ の厳密なスコア、NCSN の目的関数と学習。"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from gen_lib.experiments import ch2_ncsn as ncsn_experiment
from gen_lib.score_based.denoising_score_matching import denoising_score_matching_loss, mixture_posterior_mean
from gen_lib.distributions.gaussian_mixture import asymmetric_mixture
from gen_lib.score_based.langevin import langevin_sample, separated_modes_mixture
from gen_lib.score_based.ncsn import (NoiseConditionalScoreNet, check_noise_levels, exact_noise_conditional_score,
                                      geometric_noise_levels, ncsn_loss, train_ncsn)

SIGMAS = geometric_noise_levels(3.0, 0.1, 4)


# ---- ノイズの列 σ_1 > ... > σ_L ----------------------------------------------------------------

def test_geometric_noise_levels_have_constant_ratio():
    s = geometric_noise_levels(20.0, 0.2, 10)
    assert s.shape == (10,)
    assert s[0] == pytest.approx(20.0, rel=1e-12) and s[-1] == pytest.approx(0.2, rel=1e-12)
    ratios = s[1:] / s[:-1]
    np.testing.assert_allclose(ratios, (0.2 / 20.0) ** (1 / 9), rtol=1e-12)
    assert np.all(np.diff(s) < 0)
    np.testing.assert_allclose(geometric_noise_levels(2.0, 0.5, 2), [2.0, 0.5], rtol=1e-12)


@pytest.mark.parametrize("args, match", [
    ((1.0, 1.0, 5), "sigma_max must be larger than sigma_min"),
    ((0.5, 1.0, 5), "sigma_max must be larger than sigma_min"),
    ((0.0, 1.0, 5), "sigma_max must be a positive"),
    ((1.0, -0.1, 5), "sigma_min must be a positive"),
    ((float("nan"), 0.1, 5), "sigma_max must be a positive"),
    ((float("inf"), 0.1, 5), "sigma_max must be a positive"),
    ((1.0, 0.1, 1), "L must be an integer >= 2"),
    ((1.0, 0.1, 2.5), "L must be an integer >= 2"),
    ((1.0, 0.1, True), "L must be an integer >= 2"),
])
def test_geometric_noise_levels_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        geometric_noise_levels(*args)


@pytest.mark.parametrize("sigmas, match", [
    ([1.0, 2.0], "strictly decreasing"),
    ([1.0, 0.5, 0.5], "strictly decreasing"),
    ([1.0, 0.0], "positive"),
    ([-1.0, -2.0], "positive"),
    ([], "non-empty"),
    ([[1.0], [0.5]], "1 dimension"),
    ([1.0, float("nan")], "finite"),
    ("abc", "numeric"),
])
def test_check_noise_levels_bad_inputs(sigmas, match):
    with pytest.raises(ValueError, match=match):
        check_noise_levels(sigmas)


def test_check_noise_levels_accepts_one_level():
    np.testing.assert_array_equal(check_noise_levels([0.3]), [0.3])


# ---- p_σ とその厳密なスコア ---------------------------------------------------------------------

@pytest.mark.equation("eq:perturbed-density", "eq:perturbed-mixture")
def test_noised_mixture_density_matches_numerical_convolution():
    """p_σ(x̃) = ∫ p(x) N(x̃; x, σ² I) dx を格子上の数値積分 (刻み 0.025 の中点則) で求めて比べる。"""
    mixture, sigma = asymmetric_mixture(), 0.5
    h = 0.025
    axis = np.arange(-7.0, 7.0, h) + h / 2
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    p = np.exp(mixture.log_prob(grid))
    x_tilde = np.array([[0.0, 0.0], [-1.5, 0.3], [1.0, -2.0], [2.5, 2.5]])
    for point, log_p_sigma in zip(x_tilde, mixture.noised(1.0, sigma).log_prob(x_tilde)):
        kernel = np.exp(-np.sum((point - grid) ** 2, axis=1) / (2 * sigma**2)) / (2 * math.pi * sigma**2)
        assert math.log(np.sum(p * kernel) * h**2) == pytest.approx(log_p_sigma, abs=1e-6)


@pytest.mark.equation("eq:tweedie")
def test_exact_score_agrees_with_tweedie_posterior_mean():
    """Tweedie: ∇ log p_σ(x̃) = (E[x | x̃] - x̃)/σ²。E[x | x̃] はスコアを使わずに成分ごとに求める。"""
    mixture = asymmetric_mixture()
    x_tilde = np.random.default_rng(0).normal(size=(100, 2)) * 2
    for sigma in (0.1, 0.7, 3.0):
        expected = (mixture_posterior_mean(mixture, x_tilde, sigma) - x_tilde) / sigma**2
        np.testing.assert_allclose(exact_noise_conditional_score(mixture)(x_tilde, sigma), expected,
                                   rtol=1e-9, atol=1e-9)


def test_exact_noise_conditional_score_bad_inputs():
    with pytest.raises(ValueError, match="GaussianMixture"):
        exact_noise_conditional_score("mixture")
    with pytest.raises(ValueError, match="sigma must be a positive"):
        exact_noise_conditional_score(asymmetric_mixture())(np.zeros((3, 2)), 0.0)
    with pytest.raises(ValueError, match="GaussianMixture"):
        exact_noise_conditional_score(None)
    with pytest.raises(ValueError, match="sigma must be a positive"):
        exact_noise_conditional_score(asymmetric_mixture())(np.zeros((2, 2)), -1.0)


# ---- モデル s_θ(x, σ) = g_θ(c(σ) x, log σ) / σ ---------------------------------------------------

@pytest.mark.equation("eq:ncsn-model")
def test_model_divides_by_sigma_and_scales_the_input():
    model = NoiseConditionalScoreNet(2, hidden=8, n_hidden_layers=2, seed=1, data_scale=3.0)
    x = torch.as_tensor(np.random.default_rng(0).normal(size=(7, 2)))
    for sigma in (0.05, 1.0, 20.0):
        c = 1.0 / math.sqrt(sigma**2 + 9.0)
        g = model.g(torch.cat([c * x, torch.full((7, 1), math.log(sigma), dtype=torch.float64)], dim=1))
        torch.testing.assert_close(model(x, sigma) * sigma, g, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(model.score_numpy(x.numpy(), sigma), model(x, sigma).detach().numpy(),
                                   rtol=1e-12)


def test_model_bad_inputs():
    model = NoiseConditionalScoreNet(2, hidden=4, n_hidden_layers=1)
    with pytest.raises(ValueError, match=r"shape \(N, d\)"):
        model(torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        model(torch.zeros(3, 3), 1.0)
    with pytest.raises(ValueError, match="finite"):
        model(torch.tensor([[0.0, float("nan")]], dtype=torch.float64), 1.0)
    for sigma in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="sigma must be a positive"):
            model(torch.zeros(3, 2, dtype=torch.float64), sigma)
    with pytest.raises(ValueError, match="data_scale must be a positive"):
        NoiseConditionalScoreNet(2, data_scale=0.0)
    with pytest.raises(ValueError, match="must have shape"):
        model.score_numpy(np.zeros((3, 5)), 1.0)


# ---- 目的関数 L(θ) = (1/L) Σ σ_i² ℓ_DSM(θ; σ_i) ----------------------------------------------------

@pytest.mark.equation("eq:ncsn-loss", "eq:ncsn-weighted-term")
def test_ncsn_loss_is_the_weighted_mean_of_dsm_losses():
    """同じ順にノイズ ε_i を引き直し、σ_i² · ½ mean‖s_θ(x + σ_i ε_i, σ_i) + ε_i/σ_i‖² の平均と比べる。"""
    model = NoiseConditionalScoreNet(2, hidden=16, n_hidden_layers=2, seed=3, data_scale=2.0)
    x = torch.as_tensor(np.random.default_rng(1).normal(size=(64, 2)) * 2)
    got = ncsn_loss(model, x, SIGMAS, generator=7)
    generator = torch.Generator().manual_seed(7)
    terms = []
    for sigma in SIGMAS:
        eps = torch.randn(x.shape, generator=generator, dtype=torch.float64)
        x_tilde = x + sigma * eps
        dsm = 0.5 * ((model(x_tilde, sigma) + eps / sigma) ** 2).sum(dim=1).mean()
        terms.append(sigma**2 * dsm)
    torch.testing.assert_close(got, torch.stack(terms).mean(), rtol=1e-12, atol=1e-12)
    # h6 の ℓ_DSM をそのまま使っても同じ (同じ乱数の順)
    generator = torch.Generator().manual_seed(7)
    again = sum(s**2 * denoising_score_matching_loss(lambda z, s=s: model(z, s), x, s, generator=generator)
                for s in SIGMAS) / len(SIGMAS)
    torch.testing.assert_close(got, again, rtol=1e-12, atol=1e-12)


@pytest.mark.equation("eq:ncsn-loss")
def test_ncsn_loss_is_smallest_at_the_exact_score():
    """厳密なスコアを使うと、少しずらしたスコアより損失が小さい (同じノイズで比べる)。"""
    mixture = asymmetric_mixture()
    x = torch.as_tensor(mixture.sample(4000, seed=0))

    class Exact(torch.nn.Module):
        dim = 2

        def __init__(self, shift=0.0):
            super().__init__()
            self.shift = shift

        def forward(self, z, sigma):
            return torch.as_tensor(exact_noise_conditional_score(mixture)(z.detach().numpy(), sigma)) + self.shift

    exact = ncsn_loss(Exact(), x, SIGMAS, generator=0)
    for shift in (0.05, -0.05):
        assert ncsn_loss(Exact(shift), x, SIGMAS, generator=0) > exact


def test_ncsn_loss_bad_inputs():
    model = NoiseConditionalScoreNet(2, hidden=4, n_hidden_layers=1)
    x = torch.zeros(5, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="strictly decreasing"):
        ncsn_loss(model, x, [0.1, 1.0], generator=0)
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        ncsn_loss(model, torch.zeros(5, 3, dtype=torch.float64), SIGMAS, generator=0)
    with pytest.raises(ValueError, match="finite"):
        ncsn_loss(model, torch.full((5, 2), float("inf"), dtype=torch.float64), SIGMAS, generator=0)


# ---- 学習 -----------------------------------------------------------------------------------

SMALL = dict(steps=25, batch_size=16, lr=1e-2, hidden=8, n_hidden_layers=1)


def test_training_is_deterministic():
    data = separated_modes_mixture().sample(200, seed=0)
    a = train_ncsn(data, SIGMAS, seed=4, **SMALL)
    b = train_ncsn(data, SIGMAS, seed=4, **SMALL)
    c = train_ncsn(data, SIGMAS, seed=5, **SMALL)
    assert a["history"] == b["history"] and len(a["history"]) == SMALL["steps"]
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key])
    assert a["history"] != c["history"]


def test_training_lowers_the_loss_and_stores_the_data_scale():
    mixture = asymmetric_mixture()
    data = mixture.sample(1000, seed=1)
    settings = dict(steps=300, batch_size=64, lr=1e-2, hidden=16, n_hidden_layers=2, seed=0)
    result = train_ncsn(data, SIGMAS, **settings)
    trained = NoiseConditionalScoreNet(2, hidden=16, n_hidden_layers=2)
    trained.load_state_dict(result["state_dict"])
    assert float(trained.data_scale) == pytest.approx(data.std(axis=0).mean(), rel=1e-12)
    initial = NoiseConditionalScoreNet(2, hidden=16, n_hidden_layers=2, seed=0,
                                       data_scale=float(trained.data_scale))
    x = torch.as_tensor(mixture.sample(2000, seed=2))
    with torch.no_grad():
        before = ncsn_loss(initial, x, SIGMAS, generator=3).item()
        after = ncsn_loss(trained, x, SIGMAS, generator=3).item()
    assert after < 0.8 * before


@pytest.mark.parametrize("change, match", [
    (dict(data=np.zeros(5)), "data must have 2 dimension"),
    (dict(data=np.zeros((1, 2))), "at least 2 points"),
    (dict(data=np.array([[0.0, np.nan], [1.0, 1.0]])), "data must be finite"),
    (dict(sigmas=[0.1, 1.0]), "strictly decreasing"),
    (dict(steps=0), "steps must be an integer >= 1"),
    (dict(batch_size=0), "batch_size must be an integer >= 1"),
    (dict(lr=0.0), "lr must be a positive"),
    (dict(hidden=0), "hidden must be an integer >= 1"),
    (dict(seed=-1), "seed must be"),
])
def test_train_bad_inputs(change, match):
    kwargs = dict(data=np.random.default_rng(0).normal(size=(20, 2)), sigmas=SIGMAS, **SMALL)
    kwargs.update(change)
    with pytest.raises(ValueError, match=match):
        train_ncsn(kwargs.pop("data"), kwargs.pop("sigmas"), **kwargs)


# ---- 実験 (gen_lib.experiments.ch2_ncsn) -------------------------------------------------------------

def test_trained_ncsn_is_cached(monkeypatch):
    """2 回目は学習しない (実験の結果のキャッシュ)。設定を変えれば学習し直す。"""
    calls = []
    real = ncsn_experiment.train_ncsn

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(ncsn_experiment, "train_ncsn", counting)
    small = ncsn_experiment.NcsnSettings(n_data=100, steps=5, batch_size=8, hidden=4, n_hidden_layers=1)
    model, history = ncsn_experiment.trained_ncsn(small)
    again, history_again = ncsn_experiment.trained_ncsn(small)
    assert len(calls) == 1 and history == history_again and len(history) == 5
    x = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_array_equal(model.score_numpy(x, 1.0), again.score_numpy(x, 1.0))
    ncsn_experiment.trained_ncsn(replace(small, steps=6))
    assert len(calls) == 2


def test_score_errors_of_exact_and_shifted_scores():
    """厳密なスコアなら誤差 0、定数ベクトル c だけずらせば MSE はちょうど ‖c‖²。"""
    mixture = separated_modes_mixture()
    x = mixture.sample(300, seed=0)
    exact = exact_noise_conditional_score(mixture)
    zero = ncsn_experiment.score_errors(exact, mixture, SIGMAS, x, seed=1)
    for key in ("data", "noised", "relative_data", "relative_noised"):
        np.testing.assert_allclose(zero[key], 0.0, atol=1e-20)
    c = np.array([0.3, -0.4])
    shifted = ncsn_experiment.score_errors(lambda z, s: exact(z, s) + c, mixture, SIGMAS, x, seed=1)
    np.testing.assert_allclose(shifted["data"], 0.25, rtol=1e-12)
    np.testing.assert_allclose(shifted["noised"], 0.25, rtol=1e-12)
    norms = [np.mean(np.sum(exact(x, s) ** 2, axis=1)) for s in SIGMAS]
    np.testing.assert_allclose(shifted["relative_data"], 0.25 / np.array(norms), rtol=1e-12)


def test_compare_samplers_uses_the_langevin_failure_setting():
    model = NoiseConditionalScoreNet(2, hidden=4, n_hidden_layers=1)
    small = ncsn_experiment.SamplerSettings(n_chains=20, seed=1, ncsn=ncsn_experiment.NcsnSettings(n_levels=3))
    out = ncsn_experiment.compare_samplers(model, small)
    assert set(out) == {"plain_exact", "plain_learned", "annealed_exact", "annealed_learned", "reference"}
    assert all(v.shape == (20, 2) for v in out.values())
    setting = ncsn_experiment.langevin_failure_setting(20, seed=1)
    n_steps = 3 * small.n_steps_each
    expected = langevin_sample(setting.mixture.score, setting.x0, setting.step_size, n_steps, seed=setting.seed)
    np.testing.assert_array_equal(out["plain_exact"], expected)
    np.testing.assert_array_equal(out["reference"], setting.reference_samples())


@pytest.mark.equation("eq:small-mode-mass")
def test_mass_on_the_small_mode_side_matches_the_page():
    """ページの式 P_σ(x_1 + x_2 < 0) = π_1 Φ(5√2/√(1+σ²)) + π_2 (1 - Φ(...)) を p_σ のサンプルと比べる。"""
    mixture = separated_modes_mixture()
    expected = {7.188: 0.299, 4.309: 0.233, 2.583: 0.203, 1.549: 0.2000}
    for sigma, quoted in expected.items():
        phi = 0.5 * (1 + math.erf(5 * math.sqrt(2) / math.sqrt(1 + sigma**2) / math.sqrt(2)))
        formula = 0.2 * phi + 0.8 * (1 - phi)
        assert formula == pytest.approx(quoted, abs=5e-4)
        x = mixture.noised(1.0, sigma).sample(200_000, seed=int(sigma * 100))
        fraction = np.mean(x.sum(axis=1) < 0)
        assert abs(fraction - formula) < 4 * math.sqrt(formula * (1 - formula) / len(x))
