"""gen_lib.core.validation: 各検査関数が良い入力を通し、悪い入力を名前つきの ValueError で止めること。"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gen_lib.core.validation import (as_array, as_points, as_tensor_points, check_count, check_positive,
                                check_weights, make_generator, make_rng)


# ---- as_array -----------------------------------------------------------------------------------

def test_as_array_converts_lists_and_tensors_to_float64():
    a = as_array([[1, 2], [3, 4]], name="a", ndim=2)
    assert a.dtype == np.float64 and a.shape == (2, 2)
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal(as_array(t, name="t", ndim=1), [1.0, 2.0])


@pytest.mark.parametrize("x, ndim, match", [
    (["a", "b"], None, "a must be numeric"),
    ([[1.0, 2.0], [3.0]], None, "a must be numeric"),  # 長さのそろわない入れ子
    (object(), None, "a must be numeric"),
    ([1.0, 2.0], 2, r"a must have 2 dimension\(s\), got shape \(2,\)"),
    ([[1.0]], 1, r"a must have 1 dimension\(s\)"),
    ([1.0, np.nan], None, "a must be finite, got 1 non-finite"),
    ([np.inf, -np.inf], None, "a must be finite, got 2 non-finite"),
])
def test_as_array_rejects_bad_input(x, ndim, match):
    with pytest.raises(ValueError, match=match):
        as_array(x, name="a", ndim=ndim)


# ---- as_points ----------------------------------------------------------------------------------

def test_as_points_accepts_n_by_d():
    assert as_points([[1.0, 2.0, 3.0]], dim=3).shape == (1, 3)


@pytest.mark.parametrize("x, dim, match", [
    ([1.0, 2.0], None, r"x must have 2 dimension\(s\)"),
    (np.zeros((0, 2)), None, "x must hold at least one point"),
    (np.zeros((5, 3)), 2, r"x must have shape \(N, 2\), got \(5, 3\)"),
    ([[np.nan, 0.0]], 2, "x must be finite"),
])
def test_as_points_rejects_bad_input(x, dim, match):
    with pytest.raises(ValueError, match=match):
        as_points(x, dim=dim)


# ---- as_tensor_points ---------------------------------------------------------------------------

def test_as_tensor_points_keeps_tensor_for_autograd_and_converts_arrays():
    t = torch.zeros(3, 2, requires_grad=True)
    assert as_tensor_points(t, dim=2) is t
    converted = as_tensor_points(np.ones((4, 2)), dim=2)
    assert isinstance(converted, torch.Tensor) and converted.dtype == torch.float64


@pytest.mark.parametrize("x, dim, match", [
    (torch.zeros(3), None, r"x must have shape \(N, d\) with N >= 1, got \(3,\)"),
    (torch.zeros(0, 2), None, r"x must have shape \(N, d\) with N >= 1"),
    (torch.zeros(2, 2, 2), None, r"x must have shape \(N, d\)"),
    (torch.zeros(3, 2), 3, r"x must have shape \(N, 3\), got \(3, 2\)"),
    (torch.tensor([[1.0, float("inf")]]), None, "x must be finite, got 1 non-finite"),
    (np.zeros((3, 2)), 3, r"x must have shape \(N, 3\)"),  # numpy 入力は as_points の検査を通る
    ([[np.nan, 1.0]], None, "x must be finite"),
])
def test_as_tensor_points_rejects_bad_input(x, dim, match):
    with pytest.raises(ValueError, match=match):
        as_tensor_points(x, dim=dim)


# ---- check_positive / check_count ---------------------------------------------------------------

def test_check_positive_returns_float():
    assert check_positive(2, name="s") == 2.0 and isinstance(check_positive(np.float32(0.5), name="s"), float)


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), True, "1", None, [1.0]])
def test_check_positive_rejects(value):
    with pytest.raises(ValueError, match="s must be a positive finite number"):
        check_positive(value, name="s")


def test_check_count_accepts_integers_including_numpy():
    assert check_count(3, name="n") == 3
    assert check_count(np.int64(0), name="n", minimum=0) == 0


@pytest.mark.parametrize("value, minimum", [(0, 1), (-2, 1), (1.0, 1), (2.5, 1), (True, 0), ("3", 1),
                                            (None, 1), (4, 5)])
def test_check_count_rejects(value, minimum):
    with pytest.raises(ValueError, match=f"n must be an integer >= {minimum}"):
        check_count(value, name="n", minimum=minimum)


# ---- check_weights ------------------------------------------------------------------------------

def test_check_weights_accepts_a_probability_vector():
    np.testing.assert_allclose(check_weights([0.2, 0.0, 0.8]), [0.2, 0.0, 0.8])


@pytest.mark.parametrize("w, match", [
    ([0.5, 0.6], "must be non-negative and sum to 1"),
    ([1.2, -0.2], "must be non-negative and sum to 1"),
    ([], "must be non-negative and sum to 1"),
    ([[0.5, 0.5]], r"weights must have 1 dimension\(s\)"),
    ([0.5, np.nan], "weights must be finite"),
])
def test_check_weights_rejects(w, match):
    with pytest.raises(ValueError, match=match):
        check_weights(w)


# ---- make_rng / make_generator ------------------------------------------------------------------

def test_make_rng_is_deterministic_and_passes_generators_through():
    assert make_rng(3).random() == make_rng(np.int64(3)).random()
    assert make_rng(3).random() != make_rng(4).random()
    g = np.random.default_rng(0)
    assert make_rng(g) is g


def test_make_generator_is_deterministic_and_passes_generators_through():
    a = torch.randn(3, generator=make_generator(5))
    b = torch.randn(3, generator=make_generator(5))
    assert torch.equal(a, b)
    assert not torch.equal(a, torch.randn(3, generator=make_generator(6)))
    g = torch.Generator()
    assert make_generator(g) is g


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None, True, np.random.RandomState(0), 2**64])
def test_make_rng_rejects(seed):
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*64\) or a numpy.random.Generator"):
        make_rng(seed)


def test_seed_range_and_generators_derive_torch_streams():
    """2^64 - 1 までの int と numpy の Generator を受け付ける。Generator からは torch のシードを引く。"""
    assert make_generator(2**64 - 1).initial_seed() == 2**64 - 1
    a = torch.randn(3, generator=make_generator(np.random.default_rng(5)))
    assert torch.equal(a, torch.randn(3, generator=make_generator(np.random.default_rng(5))))
    assert not torch.equal(a, torch.randn(3, generator=make_generator(np.random.default_rng(6))))


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None, False, np.random.RandomState(0), 2**64])
def test_make_generator_rejects(seed):
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*64\) or a numpy.random.Generator"):
        make_generator(seed)
