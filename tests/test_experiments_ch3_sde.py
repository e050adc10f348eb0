"""第 3 章「DDIM」「確率微分方程式による見方」の実験 (ch3_ddim, ch3_sde) の結果を、小さな設定で確かめる。"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gen_lib.diffusion.samplers import ddim_sample
from gen_lib.experiments import ch3_ddim, ch3_sde
from gen_lib.experiments.ch3_models import ModelSettings, data_distribution, schedule, trained_ddpm
from gen_lib.metrics.two_sample import energy_distance

SMALL_MODEL = ModelSettings(n_data=500, T=100, steps=30, batch_size=64, hidden=16, n_hidden_layers=1)


def test_sample_sizes_match_the_noise_floor():
    """2 サンプル距離は N に依存するので、どの実験も床と同じ N で測る。"""
    n = ch3_ddim.FloorSettings().n_samples
    assert ch3_ddim.DdimSettings().n_samples == n == ch3_sde.QualitySettings().n_samples


def test_noise_floors_are_distances_between_exact_samples():
    result = ch3_ddim.noise_floors(ch3_ddim.FloorSettings(n_samples=50, n_pairs=3))
    assert set(result) == {"energy", "w2"}
    for values in result.values():
        assert values.shape == (3,) and np.all(values > 0)


def test_ddim_step_quality_reruns_from_the_same_start():
    settings = ch3_ddim.DdimSettings(n_samples=40, step_counts=(2, 5), shown_steps=(5,), spacing_steps=(2,),
                                     model=SMALL_MODEL)
    result = ch3_ddim.step_quality(settings)
    for key in ("energy", "w2", "outliers"):
        assert set(result[key]) == {0.0, 1.0} and all(v.shape == (2,) for v in result[key].values())
    reference = data_distribution().sample(40, seed=2)
    np.testing.assert_array_equal(result["reference"], reference)
    model, _ = trained_ddpm(SMALL_MODEL)
    x_T = torch.randn(40, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = ddim_sample(schedule(SMALL_MODEL), model, x_T, 5, seed=12345).numpy()  # η = 0: シードは効かない
    np.testing.assert_allclose(result["samples"][0.0][5], expected, rtol=1e-12)
    assert result["energy"][0.0][1] == pytest.approx(energy_distance(expected, reference))
    assert result["spacing"]["leading"][0] == pytest.approx(result["energy"][0.0][0])
    assert set(result["spacing"]) == {"leading", "trailing", "linspace"}


def test_outlier_fraction_counts_points_off_the_ring():
    x = np.array([[2.0, 0.0], [0.0, -2.5], [3.5, 0.0], [0.1, 0.1]])
    assert ch3_ddim.outlier_fraction(x) == 0.5
    assert ch3_ddim.outlier_fraction(data_distribution().sample(2000, seed=0)) == 0.0


def test_marginal_curves_and_the_ddpm_limit():
    result = ch3_sde.marginal_curves(ch3_sde.PathSettings(n_times=11, ddpm_steps=(100, 1000)))
    for name, (m, s) in result["curves"].items():
        assert m.shape == s.shape == (11,) and m[0] == pytest.approx(1.0) and s[0] == pytest.approx(0.0)
    gaps = result["ddpm_gaps"]
    assert 9 < gaps[100] / gaps[1000] < 11  # O(1/T)
    assert 0 < result["ho_gap"] < 2e-3


def test_sample_paths_start_at_the_data_and_densities_are_normalised():
    settings = ch3_sde.PathSettings(n_paths=30, n_steps=20, n_times=5, n_grid=401)
    result = ch3_sde.sample_paths(settings)
    x_0 = data_distribution().sample(30, seed=0)
    for name in ("VP", "sub-VP", "VE"):
        assert result["forward"][name].shape == result["reverse"][name].shape == (21, 30, 2)
        np.testing.assert_allclose(result["forward"][name][0], x_0)
        mass = np.trapezoid(result["density"][name], result["grid"][name], axis=1)
        np.testing.assert_allclose(mass, 1.0, atol=1e-3)


def test_reverse_sde_quality_improves_with_steps():
    """厳密なスコアなら、30 歩のほうが 2 歩より厳密なサンプルに近い (どの過程でも、修正子の有無によらず)。"""
    settings = ch3_sde.QualitySettings(n_samples=200, step_counts=(2, 30))
    result = ch3_sde.exact_score_quality(settings)
    assert list(result) == ["VP", "sub-VP", "VE"]
    for per_process in result.values():
        for scores in (per_process["EM"], per_process["PC"]):
            assert scores["energy"][1] < scores["energy"][0] and scores["w2"][1] < scores["w2"][0]


def test_model_quality_shapes():
    settings = ch3_sde.QualitySettings(n_samples=30, step_counts=(3,), model=SMALL_MODEL)
    result = ch3_sde.model_quality(settings)
    assert set(result) == {"EM", "PC", "steps"} and list(result["steps"]) == [3]
    assert all(np.all(np.isfinite(result[k]["energy"])) and result[k]["w2"].shape == (1,) for k in ("EM", "PC"))
