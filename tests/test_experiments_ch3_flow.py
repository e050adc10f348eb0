"""第 3 章「確率フロー ODE と厳密な尤度」「フローマッチング」の実験の結果 (ch3_likelihood, ch3_flow)。

実験はキャッシュから読む (なければ計算する)。ページに載る数値が主張どおりであることを確かめる。
"""

from __future__ import annotations

import numpy as np
import pytest

from gen_lib.experiments import ch3_flow, ch3_likelihood


@pytest.fixture(scope="module")
def exact():
    return ch3_likelihood.exact_likelihood()


@pytest.fixture(scope="module")
def likelihoods():
    return ch3_likelihood.model_likelihoods()


@pytest.mark.equation("eq:pf-change-of-variables")
def test_exact_score_likelihood_matches_log_p_to_solver_tolerance(exact):
    """許容誤差 1e-6 の解で、厳密な p_1 を終端にした対数尤度は log p(x) と 1e-4 以内。"""
    assert exact["max_error"] < 1e-4
    assert exact["prior_gap_max"] < 1e-2  # N(0, I) の事前分布のずれは小さいが 0 ではない
    assert exact["prior_gap_max"] > exact["max_error"] / 100


@pytest.mark.equation("eq:pf-hutchinson")
def test_hutchinson_likelihood_is_unbiased_but_spread(exact):
    assert abs(exact["probe_bias"]) < 4 * exact["probe_bias_se"]
    assert exact["probe_std"] > 0.1  # 1 本の u では対数尤度が目に見えて揺らぐ


@pytest.mark.equation("eq:pf-kl")
def test_kl_of_the_trained_models(likelihoods):
    """KL = NLL − H(p) の推定: 負にならず (標準誤差の 3 倍まで)、平均の NLL − 点ごとの log p と一致する。"""
    for name in ("ddpm", "flow"):
        r = likelihoods[name]
        assert r["kl"] > -3 * r["kl_se"] and r["kl"] < 2.0
        assert np.isclose(r["kl"], r["nll"].mean() + likelihoods["log_p"].mean())
        assert np.all(np.isfinite(r["nll"]))
    assert 1.0 < likelihoods["entropy"] < 1.3 and likelihoods["entropy_se"] < 0.01


@pytest.mark.equation("eq:pf-ddim-euler")
def test_ddim_converges_to_the_ode_solution_at_first_order():
    r = ch3_likelihood.ddim_convergence()
    rms, steps = r["rms"], r["steps"]
    assert np.all(np.diff(rms) < 0)
    slope = np.polyfit(np.log(steps[-4:]), np.log(rms[-4:]), 1)[0]
    assert -1.3 < slope < -0.7


def test_flow_matching_reaches_the_noise_floor_with_few_steps():
    r = ch3_flow.sample_quality()
    floor = r["floor_energy"]
    for name in ("flow_euler", "flow_heun"):
        energy = r[name]["energy"]
        assert energy[0] > 10 * floor.max()  # 1 ステップでは遠い
        assert energy[-1] < 3 * floor.max()
    assert r["ddim"]["energy"][-1] < 3 * floor.max()
    assert r["flow_euler"]["energy"][2] < r["ddim"]["energy"][2]  # 4 ステップでは FM が近い


def test_flow_matching_paths_move_at_a_more_constant_speed():
    r = ch3_flow.trajectories()
    assert r["flow_matching"]["mean_deviation"] < r["probability_flow"]["mean_deviation"]
    for path in (r["flow_matching"]["path"], r["probability_flow"]["path"]):
        assert np.all(np.isfinite(path))


def test_output_gains_match_the_page():
    r"""ページの記述: ε 予測の倍率は t とともに増え、v 予測は t の小さい側で ε 予測と重なり、t = 1 で 0 に近い。"""
    r = ch3_likelihood.output_gains()
    eps, v = r["epsilon"], r["v"]
    assert np.all(np.diff(eps[len(eps) // 10:]) > 0)
    assert abs(v[0] - eps[0]) < 1e-3 * eps[0]
    assert v[-1] < 0.1 < 1 < eps[-1]
    assert r["x0"][0] > 10 * eps[0]
