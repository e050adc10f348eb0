"""gen_lib.score_based.score_matching: 「スコアマッチング」のページの式を数値で確かめる。

- 厳密なヤコビアンのトレース = 自動微分で作った全ヤコビアンのトレース
- J_ESM − J_ISM = C (θ によらない): ガウス分布 + 線形モデルの閉形式、ガウス混合 + MLP の数値積分とモンテカルロ
- 部分積分の境界項: 有界な箱では「差 + 境界の流束」が一定
- スライス化スコアマッチングは ISM の不偏推定量
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

from gen_lib.core.grid import make_grid
from gen_lib.distributions.gaussian_mixture import asymmetric_mixture
from gen_lib.core.nn import make_mlp, single_thread
from gen_lib.score_based.score_matching import (evaluate_score, explicit_score_matching_loss, implicit_score_matching_loss,
                                    jacobian_trace, sliced_score_matching_loss)


@pytest.fixture(autouse=True)
def one_thread():
    """小さな行列ではスレッドを増やしても速くならず、CPU を取り合うと遅くなる。"""
    with single_thread():
        yield


def scaled_mlp(d, hidden, scale, seed):
    mlp = make_mlp(d, d, hidden=hidden, seed=seed)
    return lambda x: scale * mlp(x)


def linear_model(a, b):
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    return lambda x: x @ a.T + b


def mixed_models(d=2, seed=0):
    """いろいろなスコアモデル (乱数初期化の MLP を拡大したものと線形モデル)。"""
    rng = np.random.default_rng(seed)
    models = [scaled_mlp(d, h, s, seed + k) for k, (h, s) in enumerate([(8, 1.0), (16, 4.0), (32, 8.0), (16, 0.3)])]
    models += [linear_model(rng.normal(scale=1.5, size=(d, d)), rng.normal(size=d)) for _ in range(3)]
    return models


# ---- ヤコビアンのトレース ---------------------------------------------------------------------------

@pytest.mark.equation("eq:ism")
def test_jacobian_trace_matches_trace_of_full_autograd_jacobian():
    model = scaled_mlp(4, 16, 3.0, seed=1)
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    trace, s = jacobian_trace(model, x)
    expected = [torch.trace(torch.autograd.functional.jacobian(lambda z: model(z[None])[0], x[n])) for n in range(6)]
    torch.testing.assert_close(trace, torch.stack(expected), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(s, model(x))


@pytest.mark.equation("eq:ism")
def test_jacobian_trace_of_linear_model_is_trace_of_matrix():
    a = np.array([[1.5, -2.0, 0.3], [0.7, -4.0, 1.0], [2.0, 0.1, 0.25]])
    trace, _ = jacobian_trace(linear_model(a, np.zeros(3)), torch.ones(5, 3, dtype=torch.float64))
    torch.testing.assert_close(trace, torch.full((5,), np.trace(a), dtype=torch.float64))


def test_constant_model_has_zero_trace_and_sliced_term():
    constant = lambda x: torch.ones_like(x) * 2.0  # noqa: E731  (x によらない)
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    trace, _ = jacobian_trace(constant, x)
    assert torch.all(trace == 0)
    assert implicit_score_matching_loss(constant, x).item() == pytest.approx(0.5 * 12.0)
    assert sliced_score_matching_loss(constant, x, 3, 0).item() == pytest.approx(0.5 * 12.0)


# ---- 閉形式: ガウス分布 N(μ, Σ) と線形モデル s(x) = A x + b ---------------------------------------------

MU = np.array([0.5, -1.0, 2.0])
SIGMA = np.array([[1.0, 0.3, -0.2], [0.3, 0.5, 0.1], [-0.2, 0.1, 2.0]])
PRECISION = np.linalg.inv(SIGMA)


def closed_form_esm_ism(a, b):
    """E‖Mx + c‖² = tr(M Σ M^T) + ‖M μ + c‖² を使った閉形式。真のスコアは -Σ^{-1}(x - μ)。"""
    m, c = a + PRECISION, b - PRECISION @ MU
    esm = 0.5 * (np.trace(m @ SIGMA @ m.T) + np.sum((m @ MU + c) ** 2))
    ism = np.trace(a) + 0.5 * (np.trace(a @ SIGMA @ a.T) + np.sum((a @ MU + b) ** 2))
    return esm, ism


@pytest.mark.equation("eq:esm-ism")
def test_gaussian_linear_closed_form_gap_is_half_trace_of_precision():
    rng = np.random.default_rng(0)
    gaps = [np.subtract(*closed_form_esm_ism(rng.normal(scale=2, size=(3, 3)), rng.normal(size=3)))
            for _ in range(5)]
    np.testing.assert_allclose(gaps, 0.5 * np.trace(PRECISION), rtol=1e-12)  # C = ½ E‖∇log p‖² = ½ tr Σ^{-1}


@pytest.mark.equation("eq:esm", "eq:ism")
def test_losses_agree_with_gaussian_closed_form_by_monte_carlo():
    rng = np.random.default_rng(1)
    x = rng.multivariate_normal(MU, SIGMA, size=100_000)
    true_score = -(x - MU) @ PRECISION
    for _ in range(3):
        a, b = rng.normal(size=(3, 3)), rng.normal(size=3)
        model = linear_model(a, b)
        esm, ism = closed_form_esm_ism(a, b)
        s = x @ a.T + b
        per_esm = 0.5 * np.sum((s - true_score) ** 2, axis=1)
        per_ism = np.trace(a) + 0.5 * np.sum(s**2, axis=1)
        mc_esm = explicit_score_matching_loss(model, x, true_score).item()
        mc_ism = implicit_score_matching_loss(model, x).item()
        assert mc_esm == pytest.approx(per_esm.mean(), rel=1e-10)
        assert mc_ism == pytest.approx(per_ism.mean(), rel=1e-10)
        assert abs(mc_esm - esm) < 5 * per_esm.std() / math.sqrt(len(x))
        assert abs(mc_ism - ism) < 5 * per_ism.std() / math.sqrt(len(x))


# ---- ガウス混合 + MLP: 数値積分で厳密に、モンテカルロで誤差の範囲で ------------------------------------

def quadrature_terms(model, mixture, grid):
    """格子上の w_j p(x_j) で重みを付けた ESM, ISM, ½E‖s‖², ISM からトレース項を除いたもの。"""
    w = np.exp(mixture.log_prob(grid.points) + grid.log_weights)
    true = mixture.score(grid.points)
    trace, s = jacobian_trace(model, grid.points, create_graph=False)
    trace, s = trace.detach().numpy(), s.detach().numpy()
    return {"esm": w @ (0.5 * np.sum((s - true) ** 2, axis=1)), "ism": w @ (trace + 0.5 * np.sum(s**2, axis=1)),
            "constant": w @ (0.5 * np.sum(true**2, axis=1)), "no_trace": w @ (0.5 * np.sum(s**2, axis=1)),
            "s": s, "w": w}


@pytest.mark.equation("eq:esm-ism", "eq:cross-term")
def test_esm_minus_ism_is_the_same_constant_for_every_model_by_quadrature():
    mixture = asymmetric_mixture()
    grid = make_grid([-5.0, -5.0], [5.0, 5.0], 101)
    terms = [quadrature_terms(m, mixture, grid) for m in mixed_models()]
    gaps = np.array([t["esm"] - t["ism"] for t in terms])
    np.testing.assert_allclose(gaps, terms[0]["constant"], atol=1e-6)
    # トレース項を落とすと差はモデルごとに大きく変わる (この検査はそれを見逃さない)
    wrong = np.array([t["esm"] - t["no_trace"] for t in terms])
    assert np.ptp(wrong) > 1.0


def boundary_flux(model, mixture, low, high, n):
    """箱の境界での流束 ∮ p(x) s_θ(x)·n dS (各辺で台形則)。"""
    t = np.linspace(low, high, n)
    w = np.full(n, (high - low) / (n - 1))
    w[[0, -1]] *= 0.5
    total = 0.0
    for axis in (0, 1):
        for value, sign in ((high, 1.0), (low, -1.0)):
            points = np.empty((n, 2))
            points[:, axis] = value
            points[:, 1 - axis] = t
            with torch.no_grad():
                s = model(torch.as_tensor(points)).numpy()
            total += sign * np.sum(w * np.exp(mixture.log_prob(points)) * s[:, axis])
    return total


@pytest.mark.equation("eq:integration-by-parts")
def test_integration_by_parts_needs_the_boundary_term():
    """箱 [-1.2, 1.2]² に限ると差はモデルごとに違うが、境界の流束を足すと一定 (部分積分の式そのもの)。"""
    mixture = asymmetric_mixture()
    low, high, n = -1.2, 1.2, 161
    grid = make_grid([low, low], [high, high], n)
    gaps, corrected = [], []
    for model in mixed_models():
        t = quadrature_terms(model, mixture, grid)
        gaps.append(t["esm"] - t["ism"])
        corrected.append(t["esm"] - t["ism"] + boundary_flux(model, mixture, low, high, n))
    assert np.ptp(gaps) > 0.5
    np.testing.assert_allclose(corrected, quadrature_terms(mixed_models()[0], mixture, grid)["constant"], atol=1e-4)


@pytest.mark.equation("eq:esm-ism")
def test_esm_minus_ism_by_monte_carlo_is_constant_within_its_error():
    mixture = asymmetric_mixture()
    x = mixture.sample(20_000, seed=3)
    true = mixture.score(x)
    constant = quadrature_terms(mixed_models()[0], mixture, make_grid([-5.0, -5.0], [5.0, 5.0], 101))["constant"]
    for model in mixed_models():
        gap = (explicit_score_matching_loss(model, x, true) - implicit_score_matching_loss(model, x)).item()
        trace, s = jacobian_trace(model, x, create_graph=False)
        per_point = (0.5 * np.sum((s.detach().numpy() - true) ** 2, axis=1)
                     - trace.detach().numpy() - 0.5 * np.sum(s.detach().numpy() ** 2, axis=1))
        assert abs(gap - constant) < 5 * per_point.std() / math.sqrt(len(x))


@pytest.mark.equation("eq:ism")
def test_ism_stationary_point_for_linear_gaussian_model_is_inverse_sample_covariance():
    """線形モデルの経験 ISM は A = -S^{-1}, b = S^{-1} x̄ で勾配 0 (S はサンプル共分散; 最尤推定と一致)。"""
    rng = np.random.default_rng(4)
    x = rng.multivariate_normal(MU, SIGMA, size=500)
    mean, cov = x.mean(axis=0), np.cov(x.T, bias=True)
    a = torch.tensor(-np.linalg.inv(cov), requires_grad=True)
    b = torch.tensor(np.linalg.inv(cov) @ mean, requires_grad=True)
    loss = implicit_score_matching_loss(lambda z: z @ a.T + b, x)
    loss.backward()
    assert a.grad.abs().max() < 1e-10 and b.grad.abs().max() < 1e-10
    a.grad = None
    implicit_score_matching_loss(lambda z: z @ (a.T * 0.9) + b, x).backward()
    assert a.grad.abs().max() > 1e-2


# ---- スライス化スコアマッチング -------------------------------------------------------------------------

@pytest.mark.equation("eq:ssm")
def test_sliced_loss_matches_manual_computation_with_the_same_projections():
    a = np.array([[1.0, 2.0, 0.0], [-1.0, 0.5, 0.3], [0.2, 0.0, -2.0]])
    b = np.array([0.1, -0.2, 0.3])
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    v = torch.randn((4, 5, 3), generator=torch.Generator().manual_seed(9), dtype=torch.float64).numpy()
    s = (x.numpy() @ a.T + b)[None]
    vav = np.einsum("mni,ij,mnj->mn", v, a, v)
    for reduced, second in ((True, np.broadcast_to(np.sum(s**2, axis=2), vav.shape)),
                            (False, np.einsum("mni,mni->mn", v, np.broadcast_to(s, v.shape)) ** 2)):
        loss = sliced_score_matching_loss(linear_model(a, b), x, 4, 9, variance_reduced=reduced)
        assert loss.item() == pytest.approx(np.mean(vav + 0.5 * second), rel=1e-12)


@pytest.mark.parametrize("variance_reduced", [True, False])
@pytest.mark.equation("eq:trace-estimator", "eq:ssm")
def test_sliced_score_matching_is_unbiased_for_ism(variance_reduced):
    model = scaled_mlp(3, 16, 3.0, seed=5)
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    ism = implicit_score_matching_loss(model, x).item()
    generator = torch.Generator().manual_seed(4)
    estimates = np.array([sliced_score_matching_loss(model, x, 8, generator, variance_reduced=variance_reduced).item()
                          for _ in range(300)])
    standard_error = estimates.std() / math.sqrt(len(estimates))
    assert abs(estimates.mean() - ism) < 4.5 * standard_error
    # トレース項を落とした値 (½‖s‖² の平均) とははっきり違う: 検査は偏りを見分けられる
    no_trace = 0.5 * (model(x) ** 2).sum(dim=1).mean().item()
    assert abs(no_trace - ism) > 20 * standard_error


def test_sliced_loss_is_deterministic_given_the_seed():
    model = scaled_mlp(2, 8, 1.0, seed=0)
    x = torch.randn(10, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    first = sliced_score_matching_loss(model, x, 3, 123)
    assert torch.equal(first, sliced_score_matching_loss(model, x, 3, 123))
    assert not torch.equal(first, sliced_score_matching_loss(model, x, 3, 124))
    generator = torch.Generator().manual_seed(5)
    assert not torch.equal(sliced_score_matching_loss(model, x, 3, generator),
                           sliced_score_matching_loss(model, x, 3, generator))  # Generator は進む


def test_losses_are_differentiable_in_theta():
    model = make_mlp(2, 2, hidden=8, seed=0)
    x = torch.randn(20, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    true = -x
    for loss in (explicit_score_matching_loss(model, x, true), implicit_score_matching_loss(model, x),
                 sliced_score_matching_loss(model, x, 2, 0)):
        model.zero_grad()
        loss.backward()
        grads = [p.grad for p in model.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert any(g.abs().sum() > 0 for g in grads)


# ---- 悪い入力 --------------------------------------------------------------------------------------

GOOD_X = torch.zeros(4, 2, dtype=torch.float64)
IDENTITY = lambda x: -x  # noqa: E731


@pytest.mark.parametrize("call", [
    lambda x: explicit_score_matching_loss(IDENTITY, x, np.zeros((4, 2))),
    lambda x: implicit_score_matching_loss(IDENTITY, x),
    lambda x: sliced_score_matching_loss(IDENTITY, x, 1, 0),
    lambda x: jacobian_trace(IDENTITY, x),
], ids=["esm", "ism", "ssm", "trace"])
@pytest.mark.parametrize("x, match", [
    (np.zeros(4), "shape"),
    (np.zeros((0, 2)), "at least one point|N >= 1"),
    (np.array([[0.0, np.nan], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]), "finite"),
    (torch.tensor([[0.0, np.inf], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0]], dtype=torch.float64), "finite"),
], ids=["1d", "empty", "nan", "inf-tensor"])
def test_bad_points_are_rejected(call, x, match):
    with pytest.raises(ValueError, match=match):
        call(x)


@pytest.mark.parametrize("loss", [
    lambda m: implicit_score_matching_loss(m, GOOD_X),
    lambda m: sliced_score_matching_loss(m, GOOD_X, 1, 0),
    lambda m: explicit_score_matching_loss(m, GOOD_X, np.zeros((4, 2))),
], ids=["ism", "ssm", "esm"])
@pytest.mark.parametrize("model, match", [
    (lambda x: x[:, :1], "shape"),
    (lambda x: x.sum(dim=1), "shape"),
    (lambda x: x.detach().numpy(), "tensor of shape"),
    (lambda x: x * float("nan"), "non-finite"),
    ("not a model", "callable"),
], ids=["narrow", "scalar", "numpy", "nan", "not-callable"])
def test_bad_models_are_rejected(loss, model, match):
    with pytest.raises(ValueError, match=match):
        loss(model)


def test_true_score_must_match_x():
    with pytest.raises(ValueError, match="true_score must have the shape"):
        explicit_score_matching_loss(IDENTITY, GOOD_X, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="true_score must be finite"):
        explicit_score_matching_loss(IDENTITY, GOOD_X, np.full((4, 2), np.inf))


@pytest.mark.parametrize("n_projections", [0, -1, 1.5, True, "2"])
def test_n_projections_must_be_a_positive_integer(n_projections):
    with pytest.raises(ValueError, match="n_projections must be an integer >= 1"):
        sliced_score_matching_loss(IDENTITY, GOOD_X, n_projections, 0)


@pytest.mark.parametrize("generator", [-1, 1.5, None, "seed"])
def test_sliced_generator_must_be_a_seed_or_torch_generator(generator):
    with pytest.raises(ValueError, match=r"generator must be an integer in \[0, 2\*\*64\) or a numpy.random.Generator "
                                         r"or a torch.Generator"):
        sliced_score_matching_loss(IDENTITY, GOOD_X, 1, generator)


def test_evaluate_score_and_signatures():
    torch.testing.assert_close(evaluate_score(IDENTITY, GOOD_X + 1), -(GOOD_X + 1))
    assert list(inspect.signature(sliced_score_matching_loss).parameters) == [
        "score_model", "x", "n_projections", "generator", "variance_reduced"]
