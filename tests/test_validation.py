"""gen_lib.core.validation: 各検査関数が良い入力を通し、悪い入力を名前つきの ValueError で止めること。"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gen_lib.core import validation
from gen_lib.core.validation import (as_array, as_batch_tensor, as_points, as_tensor_points, check_bool,
                                     check_callable, check_count, check_positive, check_weights, make_generator,
                                     make_rng)


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
    t = torch.zeros(3, 2, dtype=torch.float64, requires_grad=True)
    assert as_tensor_points(t, dim=2) is t
    converted = as_tensor_points(np.ones((4, 2)), dim=2)
    assert isinstance(converted, torch.Tensor) and converted.dtype == torch.float64


# ---- 入力の約束: d >= 1、dtype の変換、個数の上限、bool、callable (issue 11) -----------------------------

@pytest.mark.parametrize("check", [as_points, as_tensor_points])
@pytest.mark.parametrize("x", [np.zeros((3, 0)), torch.zeros(3, 0), torch.zeros(3, 0, dtype=torch.float64)])
def test_points_without_coordinates_are_rejected(check, x):
    with pytest.raises(ValueError, match=r"x must have .*d >= 1"):
        check(x)


@pytest.mark.parametrize("x", [torch.zeros(3, 0), torch.zeros(3, 2, 0), np.zeros((3, 0))])
def test_batch_without_coordinates_is_rejected(x):
    with pytest.raises(ValueError, match="x0 must have shape .*no empty axis"):
        as_batch_tensor(x, name="x0")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_floating_tensors_of_any_precision_become_float64(dtype):
    t = torch.tensor([[1.0, 2.0], [3.0, 0.5]], dtype=dtype, requires_grad=True)
    for check in (lambda x: as_tensor_points(x, dim=2), lambda x: as_batch_tensor(x, name="x")):
        out = check(t)
        assert out.dtype == torch.float64 and torch.equal(out, t.detach().double())
        out.sum().backward()  # 変換しても勾配は元のテンソルへ流れる
        assert t.grad is not None
        t.grad = None
    a = as_array(t, name="a", ndim=2)  # bfloat16 は numpy にないので TypeError になっていた
    assert a.dtype == np.float64 and a.tolist() == [[1.0, 2.0], [3.0, 0.5]]
    np.testing.assert_array_equal(as_points(t, dim=2), a)


def test_float64_model_accepts_float32_data():
    """float64 のモデルに torch 既定の float32 のデータを渡しても dtype の食い違いで落ちない。"""
    from gen_lib.score_based.ncsn import NoiseConditionalScoreNet, ncsn_loss
    model = NoiseConditionalScoreNet(dim=2, hidden=8)
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(0))  # float32
    loss = ncsn_loss(model, x, [1.0, 0.1], generator=0)
    assert loss.dtype == torch.float64 and torch.isfinite(loss)


def test_integer_and_complex_tensors_are_rejected_with_the_dtype():
    with pytest.raises(ValueError, match="x must be a floating-point tensor, got dtype torch.int64"):
        as_tensor_points(torch.zeros(3, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="a must be numeric"):
        as_array(torch.zeros(3, dtype=torch.complex64), name="a")


def test_counts_have_an_upper_bound_that_can_be_raised(monkeypatch):
    assert validation.MAX_COUNT == 10**7
    assert check_count(10**7, name="n") == 10**7
    with pytest.raises(ValueError, match=r"n must be an integer <= 10000000, got 1000000000000 .*MAX_COUNT"):
        check_count(10**12, name="n")
    assert check_count(10**12, name="n", maximum=10**12) == 10**12
    monkeypatch.setattr(validation, "MAX_COUNT", 10**8)  # 明示的に上げれば通る
    assert check_count(10**8, name="n") == 10**8


def test_huge_counts_fail_fast_in_public_functions():
    from gen_lib.distributions.gaussian_mixture import isotropic_mixture
    from gen_lib.score_based.langevin import langevin_sample
    mixture = isotropic_mixture([[0.0, 0.0]], std=1.0)
    with pytest.raises(ValueError, match="n must be an integer <= 10000000"):
        mixture.sample(10**12)
    with pytest.raises(ValueError, match="n_steps must be an integer <= 10000000"):
        langevin_sample(mixture.score, [[0.0, 0.0]], 0.1, 10**12)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), np.bool_(False)])
def test_check_bool_accepts_bools(value):
    assert check_bool(value, name="flag") is bool(value)


@pytest.mark.parametrize("value", ["False", "True", 0, 1, None, 1.0, np.array([True])])
def test_check_bool_rejects_non_bools(value):
    with pytest.raises(ValueError, match=r"flag must be a bool \(True or False\)"):
        check_bool(value, name="flag")


def test_flags_reject_strings_instead_of_doing_the_opposite():
    """return_path="False" などは以前は黙って True として扱われた。"""
    from gen_lib.diffusion.forward_noising import noise_data, run_forward_chain
    from gen_lib.distributions.gaussian_mixture import isotropic_mixture
    from gen_lib.generative.gan import generator_loss
    from gen_lib.metrics.two_sample import mmd_squared
    from gen_lib.score_based.annealed_langevin import annealed_langevin_sample
    mixture = isotropic_mixture([[0.0, 0.0]], std=1.0)
    x = np.zeros((3, 2))
    calls = {
        "return_path": lambda: run_forward_chain(x, [0.1, 0.2], return_path="False"),
        "return_noise": lambda: noise_data(x, 0.5, return_noise="False"),
        "unbiased": lambda: mmd_squared(x, x + 1, 1.0, unbiased="False"),
        "saturating": lambda: generator_loss(torch.zeros(4), saturating="False"),
        "return_labels": lambda: mixture.sample(3, return_labels="False"),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=f"{name} must be a bool"):
            call()
    with pytest.raises(ValueError, match="return_path must be a bool"):
        annealed_langevin_sample(lambda y, s: -y, x, [1.0, 0.5], 0.1, 2, return_path="False")


@pytest.mark.parametrize("value", [None, 3, "f", np.zeros(2)])
def test_check_callable_names_the_parameter(value):
    with pytest.raises(ValueError, match=r"score must be callable as score\(x, t\), got "):
        check_callable(value, name="score", signature="(x, t)")
    with pytest.raises(ValueError, match="f must be callable, got "):
        check_callable(value, name="f")
    check_callable(len, name="f")


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


# ---- issue 11 の個別の指摘 -------------------------------------------------------------------------

def test_mixture_score_far_away_raises_instead_of_nan():
    from gen_lib.distributions.gaussian_mixture import isotropic_mixture
    mixture = isotropic_mixture([[0.0, 0.0], [1.0, 1.0]], std=1.0)
    for method in (mixture.score, mixture.responsibilities, mixture.log_prob):
        with pytest.raises(ValueError, match="x is too far from every component"):
            method([[1e200, 0.0]])
    assert np.all(np.isfinite(mixture.score([[1e150, 1e150]])))  # 大きくても表せるなら有限な値を返す


def test_mixture_with_tiny_std_raises_instead_of_nan_scores():
    from gen_lib.distributions.gaussian_mixture import isotropic_mixture
    with pytest.raises(ValueError, match="covariances are too small or ill-conditioned.*std\\*\\*2"):
        isotropic_mixture([[0.0, 0.0]], std=1e-160)
    small = isotropic_mixture([[0.0, 0.0]], std=1e-100)  # 表せる範囲なら厳密なスコア
    np.testing.assert_allclose(small.score([[1e-100, 0.0]]), [[-1e100, 0.0]])


def test_ncsn_loss_with_extreme_sigmas_raises_clearly():
    from gen_lib.score_based.ncsn import NoiseConditionalScoreNet, ncsn_loss
    model = NoiseConditionalScoreNet(dim=2, hidden=8)
    for sigmas in ([1e-200], [1e200], [1.0, 1e-160]):
        with pytest.raises(ValueError, match=r"sigmas must lie in about \[1e-150, 1e150\]"):
            ncsn_loss(model, np.zeros((4, 2)), sigmas, generator=0)
    with pytest.raises(ValueError, match="model must be callable as model.*got NoneType"):
        ncsn_loss(None, np.zeros((4, 2)), [1.0], generator=0)
    assert torch.isfinite(ncsn_loss(model, np.zeros((4, 2)), [1e-100], generator=0))


def test_value_function_with_empty_d_x_gives_gen_lib_message():
    from gen_lib.generative.gan import value_function
    p = np.full(10, 0.1)
    with pytest.raises(ValueError, match=r"d_x must hold 10 values in \[0, 1\], got 0 values$"):
        value_function(p, p, [], 1.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"step_size": 0.1 + 0.1j}, "step_size must be a positive finite number"),
    ({"step_size": -0.1}, "step_size must be a positive finite number"),
    ({"step_size": float("nan")}, "step_size must be a positive finite number"),
    ({"step_size": True}, "step_size must be a positive finite number"),
    ({"x": np.array([[np.nan, 0.0]])}, "x must be finite"),
    ({"x": np.zeros(2)}, r"x must have 2 dimension\(s\)"),
    ({"x": np.zeros((3, 0))}, "d >= 1"),
    ({"score_fn": None}, "score_fn must be callable"),
    ({"rng": 0}, "rng must be a numpy.random.Generator"),
    ({"where": None}, "where must be a str"),
])
def test_langevin_step_validates_its_inputs(kwargs, match):
    from gen_lib.score_based.langevin import langevin_step
    call = {"score_fn": lambda y: -y, "x": np.zeros((3, 2)), "step_size": 0.1,
            "rng": np.random.default_rng(0), "where": "step 0"} | kwargs
    with pytest.raises(ValueError, match=match):
        langevin_step(call["score_fn"], call["x"], call["step_size"], call["rng"], where=call["where"])


def test_compare_samplers_checks_model_before_running_samplers(monkeypatch):
    from gen_lib.experiments import ch2_ncsn

    def must_not_run(*args, **kwargs):
        raise AssertionError("a sampler ran before the model was checked")

    monkeypatch.setattr(ch2_ncsn, "langevin_sample", must_not_run)
    monkeypatch.setattr(ch2_ncsn, "annealed_langevin_sample", must_not_run)
    with pytest.raises(ValueError, match="model must be a NoiseConditionalScoreNet, got NoneType"):
        ch2_ncsn.compare_samplers(None, ch2_ncsn.SamplerSettings())
    with pytest.raises(ValueError, match="settings must be a SamplerSettings, got dict"):
        ch2_ncsn.compare_samplers(ch2_ncsn.NoiseConditionalScoreNet(dim=2, hidden=8), {})


@pytest.mark.parametrize("logits, match", [
    (torch.tensor([0.0, float("nan")]), "must be finite, got 1 non-finite"),
    (torch.tensor([float("inf")]), "must be finite"),
    (torch.zeros(3, 1), r"must have shape \(N,\) with N >= 1, got \(3, 1\)"),
    (torch.zeros(0), r"must have shape \(N,\) with N >= 1"),
    (np.zeros(3), "must be a floating-point torch.Tensor, got ndarray"),
    (torch.zeros(3, dtype=torch.int64), "must be a floating-point torch.Tensor"),
])
def test_gan_losses_check_their_logits(logits, match):
    from gen_lib.generative.gan import discriminator_loss, generator_loss
    good = torch.zeros(3)
    with pytest.raises(ValueError, match="real_logits " + match):
        discriminator_loss(logits, good)
    with pytest.raises(ValueError, match="fake_logits " + match):
        discriminator_loss(good, logits)
    for saturating in (False, True):
        with pytest.raises(ValueError, match="fake_logits " + match):
            generator_loss(logits, saturating=saturating)


# ---- 入力の約束の続き: 1 つのエラークラス、モデルの forward、SDE の 1 歩、キャッシュと実験の引数 (issue 11) ----------

def test_input_error_is_both_a_value_error_and_a_type_error():
    from gen_lib.core.validation import InputError
    assert issubclass(InputError, ValueError) and issubclass(InputError, TypeError)
    with pytest.raises(TypeError, match="flag must be a bool"):  # 悪い型は except TypeError でも捕まる
        check_bool("False", name="flag")
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        check_count(0, name="n")


def test_gan_networks_check_their_input_and_keep_float32():
    from gen_lib.generative.gan import Discriminator, Generator
    generator, discriminator = Generator(hidden=8), Discriminator(hidden=8)
    z = torch.zeros(4, 2, dtype=torch.float64, requires_grad=True)
    x = generator(z)
    assert x.dtype == torch.float32 and discriminator(x).dtype == torch.float32
    x.sum().backward()  # float32 への変換も勾配を通す
    assert z.grad is not None
    with pytest.raises(ValueError, match="z must be finite"):
        generator(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\), got \(4, 3\)"):
        discriminator(torch.zeros(4, 3))
    with pytest.raises(TypeError, match="z must be numeric"):
        generator("z")


def test_reverse_step_checks_its_inputs_before_stepping():
    from gen_lib.diffusion.samplers import reverse_step
    from gen_lib.diffusion.sde import VPSDE
    x, t = torch.zeros(3, 2, dtype=torch.float64), torch.full((3,), 0.5, dtype=torch.float64)
    with pytest.raises(ValueError, match="h must be negative"):  # 以前は math domain error
        reverse_step(VPSDE(), lambda x, t: -x, x, t, 0.1, noise=torch.zeros(3, 2))
    with pytest.raises(TypeError, match="sde must be an SDE"):
        reverse_step(None, lambda x, t: -x, x, t, -0.1)
    with pytest.raises(TypeError, match="score must be callable"):
        reverse_step(VPSDE(), None, x, t, -0.1)


def test_cache_and_experiment_arguments_are_checked():
    from gen_lib.core import cache
    from gen_lib.core.experiment import Experiment, experiment
    with pytest.raises(TypeError, match="compute must be callable"):
        cache.cached("ring", {"n": 3}, 3, depends_on="gen_lib.core.grid")
    with pytest.raises(TypeError, match="depends_on must be a module name or an iterable of module names"):
        cache.result_path("ring", {"n": 3}, depends_on=3)
    with pytest.raises(TypeError, match="module must be a module name"):
        cache.module_file(None)
    from gen_lib.experiments.ch1_notation import ToySettings
    with pytest.raises(TypeError, match="variants must be an iterable of settings"):
        experiment(ToySettings, variants=None)
    with pytest.raises(TypeError, match="function must be callable"):
        Experiment(None, dict, False, ())
