"""第 2 章の実験 (gen_lib.experiments.ch2_*) の結果を、小さな設定 (数秒) で独立な計算と比べる。"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gen_lib.distributions.gaussian_mixture import ring_of_gaussians
from gen_lib.experiments import ch2_dsm, ch2_langevin, ch2_ncsn, ch2_score, ch2_score_matching
from gen_lib.metrics.mode_weights import estimate_mode_weights
from gen_lib.score_based.langevin import langevin_failure_setting, langevin_sample, separated_modes_mixture

# ---- スコア -----------------------------------------------------------------------------------------


def test_autograd_scores_agree_with_the_closed_form_for_every_normalizer():
    result = ch2_score.score_by_normalizer(ch2_score.NormalizerSettings(n_points=101))
    assert set(result["scores"]) == {0.5, 1.0, 2.0}
    for score in result["scores"].values():
        np.testing.assert_allclose(score, result["exact"], rtol=1e-10, atol=1e-10)
    # 2 つのモードの 1 次元の混合: スコアの零点は 2 つの頂上と 1 つの谷底 (頂上は平均 -2, 1.5 のすぐ近く)
    zeros = result["zeros"]
    assert zeros.shape == (3,)
    assert abs(zeros[0] + 2.0) < 0.05 and abs(zeros[2] - 1.5) < 0.05 and -2.0 < zeros[1] < 1.5


def test_score_fields_shapes_and_density():
    settings = ch2_score.FieldSettings(n_density=21, n_arrows=5)
    result = ch2_score.score_fields(settings)
    assert result["arrows_at"].shape == (25, 2)
    for field in result["fields"].values():
        assert field["density"].shape == (21, 21) and np.all(field["density"] > 0)
        assert field["score"].shape == (25, 2) and np.all(np.isfinite(field["score"]))


# ---- ランジュバン法 --------------------------------------------------------------------------------

def test_snapshots_start_at_the_initial_points():
    settings = ch2_langevin.SnapshotSettings(n_chains=30, shown_steps=(0, 2, 5), n_grid=11, seed=3)
    result = ch2_langevin.snapshots(settings)
    assert result["chains"].shape == (3, 30, 2) and result["log_p"].shape == (11, 11)
    np.testing.assert_array_equal(result["chains"][0], ch2_langevin.ring_initial_points(30, 1.5, 3))
    expected = langevin_sample(ring_of_gaussians().score, result["chains"][0], settings.step_size, 5, seed=4)
    np.testing.assert_allclose(result["chains"][-1], expected, rtol=1e-12)


def test_convergence_theory_curve_and_floor():
    settings = ch2_langevin.ConvergenceSettings(n_chains=40, step_sizes=(0.01, 0.05), checkpoints=(1, 5, 20),
                                                extra_step_sizes=(0.03,), extra_steps=10, floor_pairs=3)
    result = ch2_langevin.convergence(settings)
    assert list(result["curves"]) == [0.01, 0.05] and all(c.shape == (3,) for c in result["curves"].values())
    assert list(result["variances"]) == [0.01, 0.03, 0.05]
    assert result["floor"].shape == (3,) and np.all(result["floor"] >= 0)
    theory = result["theory"]
    sigma2 = ring_of_gaussians().covariances[0, 0, 0]
    np.testing.assert_allclose(result["sigma2"], sigma2)
    np.testing.assert_allclose(theory["ratio"], 1.0 / (1.0 - theory["step_size"] / (4 * sigma2)), rtol=1e-12)
    for step_size, k in result["steps_to_floor"].items():  # 床の最大値に最初に届いたチェックポイント (0 は届かない)
        curve = result["curves"][step_size]
        reached = [c for c, v in zip(settings.checkpoints, curve) if v <= result["floor"].max()]
        assert k == (reached[0] if reached else 0)
    assert result["energy_floor"].shape == (3,) and result["divergent_ratio"] > 1.0


def test_failure_weights_keep_the_initial_proportions():
    result = ch2_langevin.failure_weights(ch2_langevin.FailureSettings(n_chains=50, floor_pairs=3, long_steps=2000))
    weights = result["weights"]
    np.testing.assert_allclose(weights["true"], [0.2, 0.8])
    for w in weights.values():
        assert w.shape == (2,) and w.sum() == pytest.approx(1.0)
    setting = langevin_failure_setting(50, seed=0)
    np.testing.assert_allclose(weights["initial"], estimate_mode_weights(setting.mixture, setting.x0))
    assert abs(weights["langevin"][0] - weights["initial"][0]) < 0.05  # 連鎖は初期値の割合を保つ
    assert abs(weights["langevin"][0] - 0.2) > 0.15
    assert abs(weights["langevin_long"][0] - weights["initial"][0]) < 0.05  # 10 倍動かしても変わらない
    assert set(result["energy_distance"]) == {"exact", "initial", "langevin", "langevin_long"}
    assert result["energy_distance"]["langevin"] > 10 * result["floor"].mean()


# ---- スコアマッチング ------------------------------------------------------------------------------

SM = ch2_score_matching.ScoreMatchingSettings(n_data=2000, hidden=8, steps=20, eval_every=5, grid_points=41,
                                              n_monte_carlo=200, n_arrows=5, n_fine=11)


@pytest.mark.parametrize("method", ["ism", "ssm"])
def test_esm_minus_ism_is_constant_along_training(method):
    result = ch2_score_matching.training(replace(SM, method=method))
    final = result["final"]
    np.testing.assert_array_equal(result["steps"], [0, 5, 10, 15, 20])
    np.testing.assert_allclose(result["esm"] - result["ism"], final["constant"], atol=1e-5)
    assert np.ptp(result["esm"]) > 0.1  # 学習で目的関数は動くが、差は動かない
    assert final["esm"] == pytest.approx(result["esm"][-1], rel=1e-12)
    assert final["relative"] == pytest.approx(final["esm"] / final["constant"], rel=1e-12)
    assert result["error"].shape == (11, 11) and result["arrows"].shape == (25, 2)


def test_esm_minus_ism_is_the_same_constant_for_every_model():
    result = ch2_score_matching.identity_across_models(SM)
    quad, mc = result["quadrature"], result["monte_carlo"]
    assert quad.shape == mc.shape == (10, 2)
    np.testing.assert_allclose(quad[:, 1] - quad[:, 0], result["constant"], atol=1e-5)
    assert result["trained"][1] - result["trained"][0] == pytest.approx(result["constant"], abs=1e-5)
    assert np.all(np.isfinite(mc))


def test_loss_times_are_positive():
    result = ch2_score_matching.loss_times(ch2_score_matching.TimingSettings(dims=(2, 4), batch_size=8,
                                                                           hidden=4, repeats=1))
    np.testing.assert_array_equal(result["dims"], [2, 4])
    for key in ("ism", "ssm"):
        assert result[key].shape == (2,) and np.all(result[key] > 0) and np.all(np.isfinite(result[key]))


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="method must be 'ism' or 'ssm'"):
        ch2_score_matching.training(ch2_score_matching.ScoreMatchingSettings(method="esm"))


# ---- デノイジングスコアマッチング ------------------------------------------------------------------

DSM = ch2_dsm.DsmSettings(n_data=200, hidden=8, steps=20, eval_every=5, n_eval=4000, quadrature_points=61,
                          n_error=500, n_denoised=20, n_arrows=5, n_fine=11)


def test_dsm_minus_esm_is_constant_along_training():
    result = ch2_dsm.training(DSM)
    difference = result["dsm"] - result["esm"]
    assert np.ptp(difference) < 0.1 * np.ptp(result["dsm"])
    np.testing.assert_allclose(difference, result["constant"], rtol=0.03)
    # C_σ = (d/σ² - E‖∇ log p_σ‖²)/2 をモンテカルロで独立に求めて比べる
    noisy = ring_of_gaussians().noised(1.0, DSM.sigma)
    x = noisy.sample(200_000, seed=1)
    fisher = np.mean(np.sum(noisy.score(x) ** 2, axis=1))
    assert result["constant"] == pytest.approx(0.5 * (2 / DSM.sigma**2 - fisher), rel=0.01)
    assert 0 < result["relative"] < 2 and result["error"].shape == (11, 11)


def test_dsm_minus_esm_is_the_same_constant_for_every_model():
    result = ch2_dsm.identity_across_models(DSM)
    constant = ch2_dsm.training(DSM)["constant"]
    assert result["models"].shape == (10, 2)
    np.testing.assert_allclose(result["models"][:, 0] - result["models"][:, 1], constant, rtol=0.1)


def test_tweedie_with_the_exact_score_is_the_posterior_mean():
    result = ch2_dsm.tweedie_denoising(DSM)
    panels = result["panels"]
    assert [p["sigma"] for p in panels] == [*DSM.tweedie_sigmas, DSM.sigma]
    assert [p["learned"] for p in panels] == [False, False, True]
    for panel in panels:
        assert panel["noisy"].shape == panel["denoised"].shape == (DSM.n_denoised, 2)
        if not panel["learned"]:
            assert panel["max_gap"] < 1e-10
    assert 0 < panels[-1]["rms_gap"] < 2


# ---- NCSN --------------------------------------------------------------------------------------------

NCSN = ch2_ncsn.NcsnSettings(n_data=200, n_levels=3, steps=10, batch_size=16, hidden=4, n_hidden_layers=1)


def test_score_error_curves_match_a_direct_computation():
    settings = ch2_ncsn.EvaluationSettings(n_points=50, ncsn=NCSN)
    result = ch2_ncsn.score_error_curves(settings)
    sigmas = ch2_ncsn.noise_levels(NCSN)
    np.testing.assert_array_equal(result["sigmas"], sigmas)
    model, _ = ch2_ncsn.trained_ncsn(NCSN)
    mixture = separated_modes_mixture()
    x = mixture.sample(50, seed=11)
    for i, sigma in enumerate(sigmas):
        exact = mixture.noised(1.0, sigma).score(x)
        mse = np.mean(np.sum((model.score_numpy(x, sigma) - exact) ** 2, axis=1))
        assert result["data"][i] == pytest.approx(mse, rel=1e-12)
        assert result["relative_data"][i] == pytest.approx(mse / np.mean(np.sum(exact**2, axis=1)), rel=1e-12)
    for key in ("noised", "relative_noised"):
        assert result[key].shape == (3,) and np.all(np.isfinite(result[key])) and np.all(result[key] > 0)


def test_score_maps_shapes_and_exact_arrows():
    settings = ch2_ncsn.EvaluationSettings(shown_levels=(0, 2), n_grid=9, n_arrows=5, n_shown_data=10,
                                           ncsn=NCSN)
    result = ch2_ncsn.score_maps(settings)
    assert [level["index"] for level in result["levels"]] == [0, 2] and result["data"].shape == (10, 2)
    mixture = separated_modes_mixture()
    for level in result["levels"]:
        assert level["density"].shape == level["error"].shape == (9, 9) and np.all(level["error"] >= 0)
        exact = mixture.noised(1.0, level["sigma"]).score(result["arrows_at"])
        np.testing.assert_allclose(level["exact"], exact)


def test_sampler_comparison_keys_shapes_and_annealing_path():
    settings = ch2_ncsn.SamplerSettings(n_chains=20, n_steps_each=5, seed=2, ncsn=NCSN)
    result = ch2_ncsn.sampler_comparison(settings)
    samples, weights = result["samples"], result["weights"]
    keys = {"plain_exact", "plain_learned", "annealed_exact", "annealed_learned", "reference"}
    assert set(samples) == set(weights) == keys
    mixture = separated_modes_mixture()
    for key in keys:
        assert samples[key].shape == (20, 2)
        np.testing.assert_allclose(weights[key], estimate_mode_weights(mixture, samples[key]))
    path = ch2_ncsn.annealing_path(settings)["path"]
    assert path.shape == (4, 20, 2)
    np.testing.assert_array_equal(path[0], langevin_failure_setting(20, seed=2).x0)
    np.testing.assert_array_equal(path[-1], samples["annealed_learned"])  # 同じ初期値・乱数・モデル


def test_sampler_table_averages_the_repeated_comparisons():
    sampler = ch2_ncsn.SamplerSettings(n_chains=20, n_steps_each=5, ncsn=NCSN)
    table = ch2_ncsn.sampler_table(ch2_ncsn.TableSettings(seeds=(1, 2), floor_pairs=3, sampler=sampler))
    assert table["repeats"] == 2 and table["n_chains"] == 20 and table["floor"].shape == (3,)
    mixture = separated_modes_mixture()
    for key in ch2_ncsn.SAMPLERS:
        runs = [ch2_ncsn.sampler_comparison(replace(sampler, seed=s))["samples"] for s in (1, 2)]
        pi1 = [estimate_mode_weights(mixture, r[key])[0] for r in runs]
        assert table[key]["pi1"] == pytest.approx(np.mean(pi1))
        assert table[key]["ratio"] == pytest.approx(table[key]["distance"] / table["floor"].mean())
