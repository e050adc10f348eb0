"""第 1 章の実験 (gen_lib.experiments.ch1_*) の結果を、小さな設定 (数秒) で独立な計算と比べる。"""

from __future__ import annotations

import math

import numpy as np
import torch
import pytest

from gen_lib.distributions.gaussian_mixture import ring_of_gaussians
from gen_lib.experiments import (ch1_ebm, ch1_generative, ch1_implicit, ch1_learning, ch1_likelihood,
                                 ch1_notation, ch1_overview)
from gen_lib.generative.maximum_likelihood import three_mode_mixture


def trapezoid_2d(values: np.ndarray, axis: np.ndarray) -> float:
    """正方形の格子 (行が x_2) 上の値の台形則による積分。"""
    return float(np.trapezoid(np.trapezoid(values, axis, axis=1), axis))


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# ---- エネルギーベースモデル -------------------------------------------------------------------------

def test_partition_errors_fall_to_rounding_and_the_illustration_is_the_gaussian():
    settings = ch1_ebm.PartitionSettings()
    result = ch1_ebm.partition_errors(settings)
    assert list(result["n_points"]) == list(range(settings.n_min, settings.n_max + 1))
    for dim in (1, 2):
        errors = result["errors"][dim]
        assert errors.shape == result["n_points"].shape
        assert errors[0] > 1e-2 and errors[-1] < 1e-10  # 粗い格子では誤差があり、細かくすると丸め誤差まで下がる
    # γ(x) = exp(-(x - μ)² / 2σ²) (独立に式から)
    x, mu, sigma = result["x"], settings.mean_1d, settings.std_1d
    np.testing.assert_allclose(result["gamma"], np.exp(-(x - mu) ** 2 / (2 * sigma**2)), rtol=1e-12)
    assert result["shown_points"].size == settings.shown_points



@pytest.mark.equation("eq:partition-quadrature")
def test_partition_errors_follow_poisson_summation_and_n25_is_a_lucky_phase():
    # ページの主張: 1 次元の誤差は log(1 + 2 Σ_k exp(-2π²k²σ²/h²) cos(2πk(μ - a)/h)) で、n = 25 では
    # h = 2/3、(μ - a)/h = 12.75 なので k = 1 の余弦が 0 になり、たまたま丸め誤差に達する。
    settings = ch1_ebm.PartitionSettings()
    result = ch1_ebm.partition_errors(settings)
    a, sigma, mu = -settings.box, settings.std_1d, settings.mean_1d
    k = np.arange(1, 6)
    for n, error in zip(result["n_points"], result["errors"][1]):
        h = 2 * settings.box / (n - 1)
        factor = 1 + 2 * np.sum(np.exp(-2 * np.pi**2 * k**2 * sigma**2 / h**2) * np.cos(2 * np.pi * k * (mu - a) / h))
        predicted = abs(math.log(factor))
        assert error == pytest.approx(predicted, rel=1e-3, abs=5e-15), n
    h25 = 2 * settings.box / 24
    assert h25 == pytest.approx(2 / 3) and (mu - a) / h25 == pytest.approx(12.75)
    assert abs(math.cos(2 * math.pi * (mu - a) / h25)) < 1e-12
    h9 = 2 * settings.box / 8  # n = 9 の落ち込みも同じ理由: h = 2, (μ - a)/h = 4.25
    assert h9 == 2 and (mu - a) / h9 == pytest.approx(4.25) and abs(math.cos(2 * math.pi * (mu - a) / h9)) < 1e-12
    errors = dict(zip(result["n_points"].tolist(), result["errors"][1]))
    assert errors[25] < settings.round_off < errors[26] and errors[23] > 1e-12  # 偶然の丸め誤差、前後は大きい
    assert errors[9] < errors[8] / 100 and errors[9] < errors[10] / 100  # n = 9 も落ち込む
    assert result["n_round_off"][1] > 25  # 境目は偶然の n = 25 ではなく、その先すべての n で成り立つ値
    later = result["n_points"] >= result["n_round_off"][1]
    assert np.all(result["errors"][1][later] < settings.round_off)

def test_product_of_experts_example_is_normalised_and_equal_both_ways():
    result = ch1_ebm.product_of_experts_example(ch1_ebm.ProductOfExpertsSettings(n_points=61))
    axis = result["axis"]
    for name in ("q1", "q2", "q_sum", "q_prod"):
        assert result[name].shape == (61, 61)
        assert trapezoid_2d(result[name], axis) == pytest.approx(1.0, abs=1e-10)
    assert result["gap"] < 1e-12
    ratio = result["q_sum"] / (result["q1"] * result["q2"])  # q ∝ q_1 q_2: 比は定数
    np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-9)


# ---- 生成モデルとはなにか ---------------------------------------------------------------------------

def test_unconditional_sampling_draws_from_the_ring_and_its_density_integrates_to_one():
    settings = ch1_generative.SamplingSettings(n=200, n_grid=201, seed=4)
    result = ch1_generative.unconditional_sampling(settings)
    np.testing.assert_array_equal(result["x"], ring_of_gaussians().sample(200, seed=4))
    assert trapezoid_2d(result["density"], result["axis"]) == pytest.approx(1.0, abs=1e-6)


def test_colorization_regression_falls_between_modes_and_mdn_samples_do_not():
    settings = ch1_generative.ColorizationSettings(n_train=1000, n_test=1000, regressor_steps=100,
                                                   mdn_steps=400)
    result = ch1_generative.colorization(settings)
    off = result["off_mode"]
    assert off["regressor"] > 0.95  # 回帰の出力はモードのあいだ (データのない場所)
    assert off["mdn"] < 0.02 and off["true"] < 0.01  # MDN のサンプルは真のサンプルと同じくモードの上
    gap = result["log_likelihood"]["true"] - result["log_likelihood"]["mdn"]
    assert -0.05 < gap < 0.1  # 条件付き KL の推定値は小さい
    np.testing.assert_allclose(result["mean_curve"], 0.0, atol=1e-15)  # 対称 (w = 1/2) なら E[y|c] = 0
    assert np.max(np.abs(result["regressor_curve"])) < 0.5
    for name in ("slice_true", "slice_mdn"):  # 断面の密度は y について積分すると 1
        assert np.trapezoid(result[name], result["y_slice"]) == pytest.approx(1.0, abs=1e-3)
    assert result["y_mdn"].shape == result["c_test"].shape == (1000,)


# ---- 暗黙的生成モデル -------------------------------------------------------------------------------

GAN = ch1_implicit.GanSettings(n_data=2000, steps=500, checkpoint_every=250, n_eval=300,
                               snapshot_steps=(0, 500), n_shown_data=100, floor_pairs=3)


def test_gan_training_reduces_the_energy_distance_and_reports_consistent_results():
    result = ch1_implicit.gan_training(GAN)
    assert list(result["checkpoints"]) == [0, 250, 500]
    assert result["distances"][-1] < 0.3 * result["distances"][0]
    assert result["distances"][-1] > result["noise_floor"].mean()  # ノイズの床より下には行かない
    assert result["data"].shape == (100, 2)
    assert result["snapshots"].shape == (2, 300, 2)
    assert result["discriminator_loss"].shape == result["generator_loss"].shape == (500,)
    assert result["mode_counts"].shape == (3, 8) and result["noise_floor"].shape == (3,)
    # 被覆の数と高品質の割合は、各モードの高品質サンプルの数と整合する
    covered = result["covered"][-1]
    counts = result["mode_counts"][-1]
    assert covered == np.sum(counts >= 0.1 * GAN.n_eval / 8)
    assert result["high_quality"][-1] == pytest.approx(counts.sum() / GAN.n_eval)


def test_gan_training_rejects_snapshots_that_are_not_checkpoints():
    with pytest.raises(ValueError, match="snapshot_steps must be checkpoints"):
        ch1_implicit.gan_training(ch1_implicit.GanSettings(steps=100, checkpoint_every=50,
                                                           snapshot_steps=(0, 70)))


def test_optimal_discriminator_example_identities_and_gradients():
    result = ch1_implicit.optimal_discriminator_example()
    assert result["value"] == pytest.approx(result["optimal_value"], abs=1e-10)  # V(D*, G) = -log 4 + 2 JS
    assert result["optimal_value"] == pytest.approx(-math.log(4) + 2 * result["js"], abs=1e-12)
    assert 0 < result["js"] < math.log(2)
    np.testing.assert_allclose(result["d_star"], result["p"] / (result["p"] + result["q"]), rtol=1e-12)
    # 勾配の閉じた形: d/da log(1 - σ(a)) = -σ(a)、d/da (-log σ(a)) = -(1 - σ(a))
    a = result["logits"]
    np.testing.assert_allclose(result["gradients"]["saturating"], sigmoid(a), rtol=1e-10)
    np.testing.assert_allclose(result["gradients"]["non_saturating"], 1 - sigmoid(a), rtol=1e-10)


# ---- 学習手法と尤度ベースモデル ---------------------------------------------------------------------

def test_two_families_likelihood_side_and_curve_side():
    settings = ch1_learning.TwoFamiliesSettings(n_grid=201, n_samples=300, seed=2)
    result = ch1_learning.two_families(settings)
    mixture = three_mode_mixture()
    data = mixture.sample(settings.n_data, seed=2)
    assert result["log_likelihood"] == pytest.approx(np.mean(mixture.log_prob(data)), rel=1e-12)
    np.testing.assert_allclose(result["query_log_prob"], mixture.log_prob(np.array(settings.queries)))
    assert trapezoid_2d(result["density"], result["axis"]) == pytest.approx(1.0, abs=2e-3)  # 箱の外はわずか
    x = result["samples"]  # 曲線 x_2 = 1.5 x_1 cos(1.2 z) の上: |x_2| = 1.5 |x_1| sqrt(1 - (x_1/2)^2)
    np.testing.assert_allclose(np.abs(x[:, 1]), np.abs(1.5 * x[:, 0] * np.sqrt(1 - (x[:, 0] / 2) ** 2)),
                               atol=1e-12)


def test_ebm_fit_climbs_toward_the_true_log_likelihood():
    result = ch1_likelihood.ebm_fit(ch1_likelihood.EbmFitSettings(n_points=31, steps=1000))
    history = result["history"]
    assert history.shape == (1001,)
    assert history[0] == pytest.approx(-math.log(64.0), abs=1e-12)  # θ = 0: 箱 [-4, 4]^2 の一様分布
    assert np.all(np.diff(history) > -1e-6)
    true_l = result["true_log_likelihood"]
    assert 0 < true_l - history[-1] < 0.15  # 4 次多項式の族の限界で少し届かない
    assert true_l == pytest.approx(np.mean(three_mode_mixture().log_prob(result["data"])), rel=1e-12)
    for name in ("p_true", "q_model"):
        assert trapezoid_2d(result[name], result["axis"]) == pytest.approx(1.0, abs=2e-3)


# ---- 記号一覧と拡散モデルの概要 ---------------------------------------------------------------------

def test_toy_log_densities_integrate_to_one():
    result = ch1_notation.toy_log_densities(ch1_notation.ToySettings(n_grid=151, n_samples=20))
    for name in ("ring", "asymmetric"):
        r = result[name]
        assert r["total"] == pytest.approx(1.0, abs=1e-3)
        assert r["log_p"].shape == (151, 151) and r["samples"].shape == (20, 2)


def test_forward_process_starts_at_the_data_and_ends_at_the_standard_normal():
    settings = ch1_overview.ForwardSettings(n=50, shown_times=(0, 10, 1000), n_grid=21)
    result = ch1_overview.forward_process(settings)
    assert result["alpha_bar"][0] == 1.0 and result["alpha_bar"][-1] < 1e-4
    x0 = ring_of_gaussians().sample(50, seed=0)
    np.testing.assert_array_equal(result["closed_form"][0], x0)
    np.testing.assert_array_equal(result["chain"][0], x0)
    axis = result["axis"]
    points = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    np.testing.assert_allclose(result["log_q"][0].ravel(), ring_of_gaussians().log_prob(points), rtol=1e-12)
    log_normal = -math.log(2 * math.pi) - 0.5 * np.sum(points**2, axis=1)  # q(x_T) ≈ N(0, I)
    np.testing.assert_allclose(result["log_q"][-1].ravel(), log_normal, atol=1e-3)


def test_schedules_alpha_bar_is_the_cumulative_product():
    result = ch1_overview.schedules(ch1_overview.ScheduleSettings(T=200))
    assert result["t"][0] == 1 and result["t"][-1] == 200
    for name in ("linear", "cosine"):
        betas, alpha_bar = result[name]["betas"], result[name]["alpha_bar"]
        np.testing.assert_allclose(alpha_bar, np.cumprod(1 - betas), rtol=1e-12)
        assert np.all(np.diff(alpha_bar) < 0)


def test_latent_marginals_are_densities_and_paths_start_in_each_mode():
    settings = ch1_overview.LatentSettings(time_stride=250, n_grid=401)
    result = ch1_overview.latent_marginals(settings)
    assert list(result["times"]) == [0, 250, 500, 750, 1000]
    xs, density = result["xs"], result["density"]
    np.testing.assert_allclose(np.trapezoid(density, xs, axis=0), 1.0, atol=1e-3)  # 範囲の外はわずか
    normal = np.exp(-0.5 * xs**2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(density[:, -1], normal, atol=1e-3)  # t = T ではほぼ N(0, 1)
    path = result["path"]
    assert path.shape == (settings.T + 1, 3)
    nearest = np.argmin(np.abs(path[0][:, None] - np.array(settings.data_means)[None]), axis=1)
    assert list(nearest) == [0, 1, 2]  # 各モードから 1 点ずつ


def test_generation_process_runs_from_the_prior_back_to_the_ring():
    settings = ch1_overview.GenerationSettings(n=200)
    result = ch1_overview.generation_process(settings)
    assert list(result["times"]) == list(settings.shown_times)
    assert result["samples"].shape == (len(settings.shown_times), 200, 2)
    x_T = torch.randn((200, 2), generator=torch.Generator().manual_seed(settings.seed), dtype=torch.float64)
    np.testing.assert_array_equal(result["samples"][-1], x_T.numpy())  # t = T は事前分布のサンプルそのもの
    radius = np.linalg.norm(result["samples"][0], axis=1)  # t = 0: 半径 2 の円周上の 8 個のモードに戻る
    assert abs(np.median(radius) - 2.0) < 0.1 and np.mean(np.abs(radius - 2.0) < 0.5) > 0.9
