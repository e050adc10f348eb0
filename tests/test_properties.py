"""入力の約束を Hypothesis の性質として確かめる (README「入力の約束」、issue 11)。

- すべての公開関数・メソッド・実験 (各モジュールの ``__all__`` から発見する) に登録簿の項目があること。
- 不正な値 (形・次元・dtype・型・NaN/inf・範囲外・空・巨大な個数・文字列の真偽・呼び出せないもの) を
  1 つのパラメーターに入れると、gen_lib 自身がそのパラメーターを名指しするエラーを送出すること
  (値の問題は ValueError、型の問題は TypeError。``InputError`` は両方の派生クラス)。
- 有効な入力 (点の集合を 10^-307〜10^307 倍したものも) では、結果が有限か、float64 であふれるなら gen_lib が
  原因の入力を名指して止めること (黙った NaN/inf は失敗)。学習・実験は小さな大きさで 1 回走らせる。
- 2 サンプル距離は平行移動 (1e8 まで) と並べ替えで変わらず、点の倍率に比例すること (1e±300 でも)。

プロファイル: 既定は CI 用の ``ci`` (決定的、1 分ほど)。``HYPOTHESIS_PROFILE=thorough`` で長く走らせる。
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from property_checks import (CI_EXAMPLES, call_invalid, call_valid, discover_targets, exponents, fuzzed_parameters,
                             invalid_cases, public_modules, scaled_parameters)
from property_registry import REGISTRY

settings.register_profile("ci", derandomize=True, max_examples=CI_EXAMPLES, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck), print_blob=True)
settings.register_profile("thorough", max_examples=80, deadline=None,
                          suppress_health_check=list(HealthCheck), print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TARGETS = discover_targets()
REGISTERED = sorted(name for name in REGISTRY if name in TARGETS)
FUZZED = [name for name in REGISTERED if fuzzed_parameters(REGISTRY[name])]  # 引数を取らない関数は除く
VALID = [name for name in REGISTERED if not REGISTRY[name].run_valid]
SCALED = [name for name in VALID if scaled_parameters(REGISTRY[name], REGISTRY[name].make()[1])]  # 点の集合を取る
FIXED = [name for name in VALID if name not in SCALED]  # 学習・実験など: 有効な呼び出しを 1 回


@pytest.fixture(autouse=True, scope="module")
def _private_cache(tmp_path_factory):
    """実験・キャッシュの呼び出しは一時ディレクトリに書く (手元のキャッシュを汚さない)。"""
    previous = os.environ.get("GEN_LIB_MODEL_CACHE")
    os.environ["GEN_LIB_MODEL_CACHE"] = str(tmp_path_factory.mktemp("property-cache"))
    yield
    if previous is None:
        os.environ.pop("GEN_LIB_MODEL_CACHE", None)
    else:
        os.environ["GEN_LIB_MODEL_CACHE"] = previous


def test_every_public_module_declares_all():
    missing = [module.__name__ for module in public_modules() if not hasattr(module, "__all__")]
    assert not missing, f"modules without __all__: {missing}"


def test_every_public_callable_has_a_registry_entry():
    missing = sorted(set(TARGETS) - set(REGISTRY))
    stale = sorted(set(REGISTRY) - set(TARGETS))
    assert not missing, f"add valid example calls to tests/property_registry.py for: {missing}"
    assert not stale, f"registry entries for names no longer public: {stale}"


@pytest.mark.parametrize("target", FUZZED)
@given(data=st.data())
def test_invalid_input_raises_a_named_error(target, data):
    entry = REGISTRY[target]
    name, invalid = data.draw(invalid_cases(entry), label="parameter and invalid value")
    outcome = call_invalid(entry, name, invalid)
    assert outcome.kind == "clear", f"{target}({name}={invalid!r}): {outcome.kind}: {outcome.detail}"


@pytest.mark.parametrize("target", SCALED)
@given(exponent=exponents())
def test_valid_input_gives_finite_results(target, exponent):
    outcome = call_valid(REGISTRY[target], factor=10.0 ** exponent)
    assert outcome.kind in ("finite", "refused"), f"{target} (points x 1e{exponent}): {outcome.kind}: {outcome.detail}"


@pytest.mark.parametrize("target", FIXED)
def test_valid_call_gives_a_finite_result(target):
    outcome = call_valid(REGISTRY[target])
    assert outcome.kind == "finite", f"{target}: {outcome.kind}: {outcome.detail}"


# ---- 2 サンプル距離の不変性 ------------------------------------------------------------------------------

def _samples(seed: int, n: int, d: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def _metrics():
    from gen_lib.metrics.two_sample import energy_distance, mmd_squared
    from gen_lib.metrics.wasserstein import wasserstein2
    return {"energy_distance": energy_distance, "mmd_squared": lambda x, y: mmd_squared(x, y, 1.0),
            "wasserstein2": wasserstein2}


@pytest.mark.parametrize("metric", ["energy_distance", "mmd_squared", "wasserstein2"])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 12), m=st.integers(2, 12), d=st.integers(1, 3),
       offset=st.floats(-1e8, 1e8), direction=st.integers(0, 2**32 - 1))
def test_two_sample_distances_are_translation_invariant(metric, seed, n, m, d, offset, direction):
    x, y = _samples(seed, n, d), _samples(seed + 1, m, d) + 0.5
    shift = offset * np.random.default_rng(direction).uniform(-1.0, 1.0, size=d)
    distance = _metrics()[metric]
    before, after = distance(x, y), distance(x + shift, y + shift)
    # 1e8 ずらすと座標そのものが 1e8·2^-52 ≈ 2e-8 の丸めを受ける: それより十分大きい許容幅で比べる
    np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("metric", ["energy_distance", "mmd_squared", "wasserstein2"])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 12), m=st.integers(2, 12), d=st.integers(1, 3),
       exponent=st.integers(-300, 300))
def test_two_sample_distances_scale_with_the_points(metric, seed, n, m, d, exponent):
    """E と W₂ は点の倍率 s に比例し、MMD² は幅も s 倍すれば変わらない (1e±300 でも、あふれず 0 にもならない)。"""
    from gen_lib.metrics.two_sample import mmd_squared
    x, y, scale = _samples(seed, n, d), _samples(seed + 1, m, d) + 0.5, 10.0 ** exponent
    if metric == "mmd_squared":
        before, after = mmd_squared(x, y, 1.0), mmd_squared(scale * x, scale * y, scale)
    else:
        distance = _metrics()[metric]
        before, after = scale * distance(x, y), distance(scale * x, scale * y)
    np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-6 * abs(before) if metric != "mmd_squared" else 1e-9)


@pytest.mark.parametrize("metric", ["energy_distance", "mmd_squared", "wasserstein2"])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 12), m=st.integers(2, 12), d=st.integers(1, 3),
       order=st.randoms(use_true_random=False))
def test_two_sample_distances_are_permutation_invariant(metric, seed, n, m, d, order):
    x, y = _samples(seed, n, d), _samples(seed + 1, m, d)
    px, py = list(range(n)), list(range(m))
    order.shuffle(px)
    order.shuffle(py)
    distance = _metrics()[metric]
    # 距離は ‖x‖² + ‖y‖² − 2x·y の展開で計算するので、近い点どうしの距離には √(丸め誤差) ≈ 1e-8 の揺れがある
    np.testing.assert_allclose(distance(x[px], y[py]), distance(x, y), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(distance(y, x), distance(x, y), rtol=1e-7, atol=1e-9)
