"""第 3 章「DDPM」「なぜ小さなステップを重ねるのか」「DDPM とスコア」の実験の結果 (gen_lib.experiments.ch3_ddpm)。

結果はキャッシュから読む (初回は学習済みモデルの読み込みとサンプリングで数十秒かかる)。
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gen_lib.diffusion.ddpm import prior_kl
from gen_lib.diffusion.schedule import NoiseSchedule
from gen_lib.experiments import ch3_ddpm
from gen_lib.experiments.ch3_models import data_distribution


@pytest.mark.equation("eq:ddpm-prior-kl")
@pytest.mark.parametrize("schedule", [NoiseSchedule.linear(50), NoiseSchedule.linear(250),
                                      NoiseSchedule.cosine(100)], ids=["linear50", "linear250", "cosine100"])
def test_expected_prior_kl_matches_monte_carlo(schedule):
    """厳密なモーメントによる E_p L_T と、20 万点の prior_kl のサンプル平均 (標準誤差の 5 倍以内)。"""
    p = data_distribution()
    values = prior_kl(schedule, torch.as_tensor(p.sample(200000, seed=0))).numpy()
    exact = ch3_ddpm.expected_prior_kl(schedule, p)
    assert abs(values.mean() - exact) < 5 * values.std() / np.sqrt(len(values)) + 1e-15


def test_prior_terms_table():
    result = ch3_ddpm.prior_terms()
    linear = [result["linear"][T] for T in (50, 100, 250, 1000)]
    assert all(a > b for a, b in zip(linear, linear[1:]))  # T を増やすほど N(0, I) に近い
    assert linear[0] > 1.0 and linear[-1] < 1e-3  # T = 50 は遠い、T = 1000 はほぼ 0
    assert max(result["cosine"].values()) < 1e-4
    assert result["alpha_bar_T"]["linear"][50] > 0.5


def test_variational_bound_is_above_the_entropy():
    result = ch3_ddpm.variational_bound()
    entropy = result["entropy"]
    assert entropy == pytest.approx(np.log(8) + 1 + np.log(2 * np.pi * 0.15**2), abs=1e-3)  # モードは重ならない
    for name in ("trained", "exact"):
        for variance in ch3_ddpm.VARIANCES:
            row = result[name][variance]
            assert row["total"] == pytest.approx(row["prior"] + row["diffusion"] + row["decoder"])
            assert row["total"] > entropy - 3 * row["se"], (name, variance)
            assert row["per_t"].shape == (999,) and np.all(row["per_t"] >= 0)
    assert result["trained"]["posterior"]["total"] > entropy + 3 * result["trained"]["posterior"]["se"]


def test_ancestral_samples_are_close_to_the_data():
    result = ch3_ddpm.ancestral_samples()
    for variance in ch3_ddpm.VARIANCES:
        x = result["samples"][variance]
        assert x.shape == result["exact"].shape and np.all(np.isfinite(x))
        assert np.abs(np.linalg.norm(x, axis=1).mean() - 2.0) < 0.1  # 半径 2 の円周の上
        assert result["energy"][variance] < 5 * result["energy_floor_mean"]
        assert result["w2"][variance] < 3 * result["w2_floor_mean"]


def test_epsilon_error_falls_with_t_and_loss_is_above_floor():
    result = ch3_ddpm.epsilon_error()
    assert result["relative"][0] > 1 > 0.05 > np.median(result["relative"][-8:])
    assert np.all(result["loss"] >= result["floor"] - 0.05)  # 同じ点での下限 (サンプルのゆらぎを許す)


def test_reverse_step_kl_shrinks_with_beta():
    result = ch3_ddpm.reverse_step_kl()
    kl = result["kl"][0]  # x_t = 0
    assert np.all(np.diff(kl) > 0) and kl[-1] > 0.3 and kl[0] < 1e-7
    big, small = result["panels"]
    assert big["kl"] > 0.3 > 0.01 > small["kl"]
