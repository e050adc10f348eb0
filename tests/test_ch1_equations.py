"""第 1 章「生成モデルとはなにか」の KL ダイバージェンスの式: 定義 (式 eq:kl) と、KL の最小化と最尤推定の同値
(式 eq:kl-likelihood)。

データ分布 p は 1 次元の 2 成分ガウス混合、モデルの族は正規分布 q_θ = N(m, s²) (θ = (m, s))。
期待値は細かい格子の台形則 (求積) で計算し、閉じた形・モンテカルロ・格子探索という独立な計算と比べる。
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gen_lib.distributions.gaussian_mixture import GaussianMixture
from gen_lib.generative.maximum_likelihood import average_log_likelihood

WEIGHTS = np.array([0.3, 0.7])
MEANS = np.array([[-2.0], [1.0]])
STDS = np.array([0.5, 0.8])
P = GaussianMixture(WEIGHTS, MEANS, STDS.reshape(2, 1, 1) ** 2)
X = np.linspace(-20.0, 20.0, 40001)  # 求積の格子 (p も候補の q_θ も範囲の外の質量は無視できる)


def normal_log_density(x, m, s):
    return -0.5 * ((x - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)


def expect(values, log_p):
    """E_p[values] を台形則で。"""
    return float(np.trapezoid(np.exp(log_p) * values, X))


def kl_quadrature(log_p, log_q):
    """KL(p || q) = ∫ p (log p - log q) dx を台形則で。"""
    return expect(log_p - log_q, log_p)


def kl_normal(m1, s1, m2, s2):
    """KL(N(m1, s1²) || N(m2, s2²)) の閉じた形。"""
    return math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


# 混合分布の平均と分散 (閉じた形): E[x] = Σ π_k μ_k, Var[x] = Σ π_k (σ_k² + μ_k²) - E[x]²
P_MEAN = float(WEIGHTS @ MEANS[:, 0])
P_VAR = float(WEIGHTS @ (STDS**2 + MEANS[:, 0] ** 2)) - P_MEAN**2


@pytest.mark.equation("eq:kl")
def test_kl_definition_matches_closed_form_and_monte_carlo_for_normals():
    # E_p[log p - log q] (式 eq:kl の左の形) を、求積・モンテカルロ・閉じた形の 3 通りで。
    rng = np.random.default_rng(0)
    for m1, s1, m2, s2 in [(0.0, 1.0, 1.0, 2.0), (0.5, 0.3, -1.0, 1.0), (2.0, 1.5, 2.0, 0.7)]:
        exact = kl_normal(m1, s1, m2, s2)
        quadrature = kl_quadrature(normal_log_density(X, m1, s1), normal_log_density(X, m2, s2))
        assert quadrature == pytest.approx(exact, abs=1e-10)
        x = rng.normal(m1, s1, size=200_000)
        values = normal_log_density(x, m1, s1) - normal_log_density(x, m2, s2)
        standard_error = values.std() / math.sqrt(x.size)
        assert abs(values.mean() - exact) < 4 * standard_error


@pytest.mark.equation("eq:kl")
def test_kl_is_nonnegative_zero_only_for_equal_distributions_and_not_symmetric():
    log_p = P.log_prob(X[:, None])
    assert kl_quadrature(log_p, log_p) == pytest.approx(0.0, abs=1e-12)
    rng = np.random.default_rng(1)
    for _ in range(50):  # 混合分布 p と、ばらばらの正規分布 q
        m, s = rng.uniform(-3, 3), rng.uniform(0.3, 3.0)
        assert kl_quadrature(log_p, normal_log_density(X, m, s)) > 1e-3  # p は正規分布でないので q ≠ p
    # 対称でない: KL(N(0, 1) || N(0, 2²)) = log 2 + 1/8 - 1/2、逆向きは -log 2 + 2 - 1/2
    narrow, wide = normal_log_density(X, 0.0, 1.0), normal_log_density(X, 0.0, 2.0)
    assert kl_quadrature(narrow, wide) == pytest.approx(math.log(2) - 0.375, abs=1e-10)
    assert kl_quadrature(wide, narrow) == pytest.approx(1.5 - math.log(2), abs=1e-10)


@pytest.mark.equation("eq:kl-likelihood")
def test_kl_splits_into_negative_entropy_minus_expected_log_likelihood():
    # KL(p || q_θ) = E_p[log p] - E_p[log q_θ] = -H(p) - E_p[log q_θ]。第 1 項は θ によらない。
    log_p = P.log_prob(X[:, None])
    negative_entropy = expect(log_p, log_p)
    for m, s in [(0.0, 1.0), (0.1, 1.6), (-1.0, 0.5)]:
        log_q = normal_log_density(X, m, s)
        assert kl_quadrature(log_p, log_q) == pytest.approx(negative_entropy - expect(log_q, log_p), abs=1e-10)


@pytest.mark.equation("eq:kl-likelihood")
def test_kl_minimiser_is_the_maximiser_of_expected_log_likelihood_and_the_mle_approaches_it():
    log_p = P.log_prob(X[:, None])
    means = np.linspace(-1.0, 1.5, 51)
    stds = np.linspace(1.0, 2.5, 61)
    kl = np.array([[kl_quadrature(log_p, normal_log_density(X, m, s)) for s in stds] for m in means])
    expected_ll = np.array([[expect(normal_log_density(X, m, s), log_p) for s in stds] for m in means])
    # 同じ θ で最小と最大になる (式 eq:kl-likelihood)
    assert np.unravel_index(kl.argmin(), kl.shape) == np.unravel_index(expected_ll.argmax(), expected_ll.shape)
    # 正規分布の族では、その θ は p の平均と標準偏差 (モーメントの一致、閉じた形) に格子の刻みの範囲で一致する
    i, j = np.unravel_index(kl.argmin(), kl.shape)
    assert abs(means[i] - P_MEAN) <= (means[1] - means[0]) / 2 + 1e-12
    assert abs(stds[j] - math.sqrt(P_VAR)) <= (stds[1] - stds[0]) / 2 + 1e-12
    # 有限のデータでは E_p[log q_θ] を平均対数尤度 L(θ) で近似する。L(θ) を最大にする θ (最尤推定) は
    # サンプル平均とサンプル標準偏差で、データを増やすと KL の最小点に近づく。
    for n, tolerance in [(1_000, 0.15), (100_000, 0.02)]:
        data = P.sample(n, seed=2)
        mle_m, mle_s = float(data.mean()), float(data.std())
        best = average_log_likelihood(lambda x: normal_log_density(x[:, 0], mle_m, mle_s), data)
        for dm, ds in [(0.05, 0.0), (-0.05, 0.0), (0.0, 0.05), (0.0, -0.05)]:  # 最尤解のまわりでは L が下がる
            nearby = average_log_likelihood(lambda x: normal_log_density(x[:, 0], mle_m + dm, mle_s + ds), data)
            assert nearby < best
        assert abs(mle_m - P_MEAN) < tolerance and abs(mle_s - math.sqrt(P_VAR)) < tolerance


# ---- 拡散モデルの概要: コサインスケジュールの頭打ち ------------------------------------------------------

@pytest.mark.equation("eq:cosine-schedule")
def test_clipping_the_cosine_schedule_changes_alpha_bar_from_the_first_clipped_time_onward():
    from gen_lib.diffusion.forward_noising import alpha_bar_from_betas, cosine_alpha_bar, cosine_beta_schedule

    exact = cosine_alpha_bar(1000)  # 式 eq:cosine-schedule の ᾱ_t (t = 1, …, T)
    # 低い上限で切ると、最初に切った時刻 t_0 より前は式どおり、t_0 から先はすべて式より大きい (累積積)
    betas = cosine_beta_schedule(1000, max_beta=0.02)
    clipped = np.flatnonzero(betas >= 0.02)
    t0 = clipped[0] + 1
    assert 1 < t0 < 1000 and np.all(np.diff(clipped) == 1)  # 切るのは途中から最後まで続く時刻
    recovered = alpha_bar_from_betas(betas)
    np.testing.assert_allclose(recovered[: t0 - 1], exact[: t0 - 1], rtol=1e-12)
    assert np.all(recovered[t0 - 1:] > exact[t0 - 1:])
    # 既定の上限 0.999 では、頭打ちになるのは最後の t = T だけ (式では f(T) = cos²(π/2) = 0 なので β_T = 1)
    default = cosine_beta_schedule(1000)
    assert np.flatnonzero(default >= 0.999).tolist() == [999]
    assert exact[-1] < 1e-30
    np.testing.assert_allclose(alpha_bar_from_betas(default)[:-1], exact[:-1], rtol=1e-10)
