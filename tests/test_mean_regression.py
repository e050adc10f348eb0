"""gen_lib.generative.mean_regression: 2 乗誤差を最小にする決定的な予測は条件付き期待値 E[y|c] になること。"""

from __future__ import annotations

import numpy as np
import pytest

from gen_lib.generative.mean_regression import predict, train_mean_regressor
from gen_lib.distributions.two_mode_conditional import TwoModeConditional, off_mode_fraction

C_GRID = np.linspace(-0.95, 0.95, 39)


@pytest.mark.parametrize("weight", [0.5, 0.8])
@pytest.mark.equation("eq:squared-error-decomposition")
def test_squared_error_is_minimised_by_the_conditional_mean(weight):
    """a ↦ E[(y - a)² | c] を数値積分で計算し、最小点が E[y|c] になる (学習とは独立な確認)。"""
    target = TwoModeConditional(upper_weight=weight)
    y = np.linspace(-4, 4, 4001)
    candidates = np.linspace(-2, 2, 801)  # 刻み 0.005
    for c in [-0.7, 0.0, 0.5]:
        density = np.exp(target.log_prob(y, np.full_like(y, c)))
        risk = np.trapezoid((y[None, :] - candidates[:, None]) ** 2 * density, y, axis=1)
        assert candidates[np.argmin(risk)] == pytest.approx(target.mean([c])[0], abs=0.005)


@pytest.fixture(scope="module", params=[0.5, 0.8], ids=["symmetric", "asymmetric"])
def trained(request):
    target = TwoModeConditional(upper_weight=request.param)
    c, y = target.sample_joint(4000, seed=0)
    return target, train_mean_regressor(y, c, seed=0)


@pytest.mark.equation("eq:two-mode-mean")
def test_trained_regressor_approximates_conditional_mean(trained):
    """対称なら E[y|c] ≈ 0 (モードのあいだ)、w = 0.8 なら E[y|c] = 0.6 g(c)。"""
    target, regressor = trained
    error = predict(regressor, C_GRID) - target.mean(C_GRID)
    assert np.sqrt(np.mean(error**2)) < 0.06
    assert np.max(np.abs(error)) < 0.15


def test_regressor_output_lies_where_no_data_lives():
    """対称な2 つのモードでは、回帰の出力はすべてモードから 3σ 以上離れる。"""
    target = TwoModeConditional()
    c, y = target.sample_joint(2000, seed=3)
    regressor = train_mean_regressor(y, c, seed=0, steps=200)
    assert off_mode_fraction(target, predict(regressor, C_GRID), C_GRID) == 1.0


def test_predict_is_deterministic_and_same_seed_gives_same_weights():
    target = TwoModeConditional()
    c, y = target.sample_joint(300, seed=1)
    a = train_mean_regressor(y, c, steps=20, seed=5)
    b = train_mean_regressor(y, c, steps=20, seed=5)
    other = train_mean_regressor(y, c, steps=20, seed=6)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert np.array_equal(pa.numpy(), pb.numpy()), name
    np.testing.assert_array_equal(predict(a, C_GRID), predict(a, C_GRID))
    assert not np.array_equal(predict(a, C_GRID), predict(other, C_GRID))
    assert predict(a, C_GRID).shape == C_GRID.shape


def test_bad_inputs():
    target = TwoModeConditional()
    c, y = target.sample_joint(10, seed=0)
    with pytest.raises(ValueError, match="steps"):
        train_mean_regressor(y, c, steps=0)
    with pytest.raises(ValueError, match="lr"):
        train_mean_regressor(y, c, lr=-1.0)
    with pytest.raises(ValueError, match="hidden"):
        train_mean_regressor(y, c, hidden=0)
    with pytest.raises(ValueError, match="seed"):
        train_mean_regressor(y, c, seed=-1)
    with pytest.raises(ValueError, match="same shape"):
        train_mean_regressor(y[:5], c)
    with pytest.raises(ValueError, match="finite"):
        train_mean_regressor(np.full(10, np.inf), c)
    regressor = train_mean_regressor(y, c, steps=1)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        predict(regressor, [2.0])
