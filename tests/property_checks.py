"""入力の約束を性質として確かめる道具: 公開関数の発見、不正な値の生成 (Hypothesis)、呼び出しの判定。

tests/test_properties.py と scripts/property_report.py が同じものを使う。

- 発見: 主題のサブパッケージの各モジュールの ``__all__`` にある関数・クラス (コンストラクターと公開メソッド)・実験。
  ``__post_init__`` を持たないデータクラス (設定・結果の記録) はコンストラクターを対象にしない (メソッドは対象)。
- 不正な値: 有効な呼び出し (tests/property_registry.py) の 1 つのパラメーターを、値の種類 (kind) に応じて
  生成した不正な値に置き換える。種類は登録簿の指定か、有効な値の型と名前から決める。
- 判定: gen_lib 自身の ``raise`` 文が、パラメーターの名前を含むメッセージで、悪い値・形・範囲には ValueError、
  悪い型には TypeError (``InputError`` は両方の派生クラス) を送出すれば「明確なエラー」。
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import math
import numbers
import pkgutil
import re
import signal
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from hypothesis import strategies as st

from gen_lib.core import validation
from gen_lib.core.experiment import Experiment

SUBJECT_PACKAGES = ("core", "distributions", "generative", "score_based", "diffusion", "metrics", "experiments")
GEN_LIB = Path(validation.__file__).resolve().parents[1]
CALL_LIMIT_S = 20.0  # 1 回の呼び出しの上限。超えたら「止まらない呼び出し」として失敗にする
CI_EXAMPLES = 8  # CI のプロファイルで対象ごとに生成する値の数 (ファイル全体が 2 コアで 1 分ほど)


def exponents() -> st.SearchStrategy:
    """有効な点の集合に掛ける倍率 10^k の k: ふつうの桁 (|k| <= 8) と、float64 の端まで (|k| <= 307)。"""
    return st.one_of(st.integers(-8, 8), st.integers(-307, 307))


# ---- 発見 ---------------------------------------------------------------------------------------

def public_modules() -> list:
    modules = []
    for package_name in SUBJECT_PACKAGES:
        package = importlib.import_module(f"gen_lib.{package_name}")
        for info in pkgutil.iter_modules(package.__path__):
            modules.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    return modules


def _is_record(cls) -> bool:
    return dataclasses.is_dataclass(cls) and "__post_init__" not in vars(cls)


# 対象にしないモジュールと理由 (``__all__`` は持つ)
NOT_FUZZED = {"gen_lib.core.plotting": "the figures' drawing layer: gen_lib.figures calls it with experiment results"}


def discover_targets() -> dict[str, Any]:
    """``"モジュール.名前"`` (メソッドは ``"モジュール.クラス.メソッド"``) → 呼び出せるもの。"""
    targets: dict[str, Any] = {}
    for module in public_modules():
        if module.__name__ in NOT_FUZZED:
            continue
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            key = f"{module.__name__}.{name}"
            if isinstance(value, Experiment) or inspect.isfunction(value):
                targets[key] = value
            elif inspect.isclass(value) and value.__module__ == module.__name__:
                if not _is_record(value) and not inspect.isabstract(value) and not issubclass(value, BaseException):
                    targets[key] = value
                for attribute, member in vars(value).items():
                    if attribute.startswith("_") and attribute != "__call__":
                        continue
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    if inspect.isfunction(member):
                        targets[f"{key}.{attribute}"] = member
    return targets


# ---- 登録簿の項目 -------------------------------------------------------------------------------

@dataclass
class Entry:
    """1 つの対象の有効な呼び出し。``make()`` が (呼ぶもの, キーワード引数) を毎回新しく作る。"""
    target: str
    make: Callable[[], tuple[Callable, dict]]
    kinds: dict[str, str] = field(default_factory=dict)  # パラメーター → 種類 (省けば推定)
    skip: dict[str, str] = field(default_factory=dict)  # 生成しないパラメーター → 理由
    scale: tuple[str, ...] | None = None  # 有効な値の性質で桁を変える点の集合 (None なら 2 次元の浮動小数点配列すべて)
    run_valid: str = ""  # 空でなければ、有効な呼び出しを走らせない理由
    extra: dict[str, list] = field(default_factory=dict)  # パラメーター → 追加の不正な値 (値の問題として扱う)


def parameters(entry: Entry) -> list[inspect.Parameter]:
    function, _ = entry.make()
    target = function.function if isinstance(function, Experiment) else function
    signature = inspect.signature(target)
    return [p for p in signature.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"]


POSITIVE = {"sigma", "std", "step_size", "lr", "bandwidth", "scale", "h", "radius", "noise_std", "sigma_max",
            "sigma_min", "dx", "height", "learning_rate", "n_std", "cap", "lim", "box", "half_width", "data_scale",
            "width", "snr", "tolerance", "beta_max", "t_end"}
UNIT = {"alpha_bar_prev", "beta", "upper_weight", "beta_start", "beta_end", "max_beta", "min_share"}
SEED_NAMES = {"seed", "generator", "reference_seed", "data_seed", "rng"}


def kind_of(entry: Entry, name: str, value) -> str:
    """パラメーターの種類。登録簿の指定が優先し、なければ値の型と名前から決める。"""
    if name in entry.kinds:
        return entry.kinds[name]
    if name in SEED_NAMES:
        return "seed"
    if isinstance(value, (bool, np.bool_)):
        return "flag"
    if isinstance(value, numbers.Integral):
        return "count"
    if isinstance(value, numbers.Real):
        if name in POSITIVE:
            return "positive"
        if name in UNIT:
            return "unit"
        return "real"
    if isinstance(value, str):
        return "choice"
    if isinstance(value, torch.Tensor) and value.ndim >= 2 and entry.target.startswith("gen_lib.diffusion."):
        return "batch"  # 拡散モデルのバッチは形 (N, …): 次元を 1 つ増やしても有効
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return "array"
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, numbers.Real) for v in value):
        return "array"
    if callable(value) and not isinstance(value, type):
        return "callable"
    return "object"


# ---- 不正な値の生成 ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Invalid:
    """不正な値と、それが値の問題 ("value": ValueError) か型の問題 ("type": TypeError) か。"""
    value: Any
    problem: str
    label: str

    def __repr__(self) -> str:
        return f"<{self.problem}: {self.label}>"


def _type_values(*extra) -> st.SearchStrategy:
    return st.sampled_from([Invalid(None, "type", "None"), Invalid("x", "type", "str 'x'"),
                            Invalid(object(), "type", "object()"), *extra])


def _array_variants(value, kind: str = "array") -> st.SearchStrategy:
    """kind: array (形が決まっている)、batch (形 (N, …): 次元を増やしても有効)、finite (どの形でも有効)、
    logweights (finite と同じだが -inf は重み 0 として有効)。"""
    is_tensor = isinstance(value, torch.Tensor)
    array = value.detach().numpy() if is_tensor else np.asarray(value, dtype=np.float64)
    back = (lambda a: torch.as_tensor(a, dtype=value.dtype)) if is_tensor else (lambda a: a)
    shape = array.shape
    options = []
    bad_values = [np.nan, np.inf] if kind == "logweights" else [np.nan, np.inf, -np.inf]  # -inf は重み 0
    if array.size:
        def poisoned(draw_index, bad):
            a = np.array(array, dtype=np.float64, copy=True)
            a.flat[draw_index % a.size] = bad
            return back(a)
        options.append(st.builds(lambda i, bad: Invalid(poisoned(i, bad), "value", f"non-finite {bad}"),
                                 st.integers(0, 10**6), st.sampled_from(bad_values)))
    if kind in ("finite", "logweights"):
        options.append(st.sampled_from([Invalid(np.full(shape, "a") if shape else "a", "type", "strings"),
                                        Invalid(array.astype(np.complex128) + 1j, "type", "complex")]))
        return st.one_of(*options, _type_values())
    if array.size:
        options.append(st.just(Invalid(back(array[:0] if array.ndim else array.reshape(-1)[:0]),
                                       "value", "empty")))
    if kind != "batch":
        options.append(st.just(Invalid(back(array[None]), "value", f"rank {array.ndim + 1}")))
    if array.ndim >= 1:
        options.append(st.just(Invalid(back(array.reshape(-1)[0] if array.ndim == 1 else array.reshape(-1)),
                                       "value", f"rank {max(array.ndim - 1, 0) if array.ndim > 1 else 0}")))
    if array.ndim == 2:
        options.append(st.just(Invalid(back(array[:, :0]), "value", "no coordinates (N, 0)")))
    text = np.full(shape, "a") if shape else "a"
    options.append(st.just(Invalid(text, "type", "strings")))
    complex_value = (torch.as_tensor(array).to(torch.complex128) if is_tensor else array.astype(np.complex128))
    options.append(st.just(Invalid(complex_value + 1j, "type", "complex")))
    options.append(_type_values())
    return st.one_of(options)


def invalid_values(kind: str, value) -> st.SearchStrategy:
    """種類 ``kind`` (有効な値 ``value``) のパラメーターに入れる不正な値。"""
    if kind == "seed":
        return st.one_of(st.integers(max_value=-1).map(lambda v: Invalid(v, "value", "negative seed")),
                         st.integers(min_value=2**64, max_value=2**80).map(lambda v: Invalid(v, "value", "seed >= 2**64")),
                         _type_values(Invalid(1.5, "type", "float 1.5"), Invalid("0", "type", "str '0'")))
    if kind == "flag":
        return st.sampled_from([Invalid("False", "type", "str 'False'"), Invalid("True", "type", "str 'True'"),
                                Invalid(0, "type", "int 0"), Invalid(1, "type", "int 1"),
                                Invalid(None, "type", "None")])
    if kind.startswith("count"):
        minimum = int(kind.split(":")[1]) if ":" in kind else 1
        return st.one_of(
            st.integers(-10**6, minimum - 1).map(lambda v: Invalid(v, "value", f"count {v} < {minimum}")),
            st.integers(validation.MAX_COUNT + 1, 10**15).map(lambda v: Invalid(v, "value", "count > MAX_COUNT")),
            st.floats(0.1, 100.0).filter(lambda v: v != int(v)).map(lambda v: Invalid(v, "type", "float count")),
            _type_values(Invalid(True, "type", "bool True"), Invalid("3", "type", "str '3'")))
    if kind in ("real", "positive", "unit", "nonnegative"):
        options = [st.sampled_from([Invalid(math.nan, "value", "nan"), Invalid(math.inf, "value", "inf"),
                                    Invalid(-math.inf, "value", "-inf")]),
                   _type_values(Invalid(True, "type", "bool True"), Invalid(1 + 1j, "type", "complex"),
                                Invalid("1.0", "type", "str '1.0'"))]
        if kind == "positive":
            options.append(st.floats(max_value=0.0, allow_nan=False, allow_infinity=False)
                           .map(lambda v: Invalid(v, "value", "not positive")))
        if kind == "nonnegative":
            options.append(st.floats(max_value=-1e-300, allow_nan=False, allow_infinity=False)
                           .map(lambda v: Invalid(v, "value", "negative")))
        if kind == "unit":
            options.append(st.one_of(st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
                                     st.floats(min_value=1.0 + 1e-9, allow_nan=False, allow_infinity=False))
                           .map(lambda v: Invalid(v, "value", "outside (0, 1)")))
        return st.one_of(options)
    if kind == "choice":
        return st.one_of(st.just(Invalid("no-such-option", "value", "unknown option")),
                         _type_values(Invalid(3, "type", "int 3")))
    if kind in ("array", "batch", "finite", "logweights"):
        return _array_variants(value, kind)
    if kind == "callable":
        return st.sampled_from([Invalid(None, "type", "None"), Invalid(3, "type", "int 3"),
                                Invalid("f", "type", "str 'f'")])
    if kind == "object":
        return _type_values(Invalid(3, "type", "int 3"))
    if kind in ("settings", "text"):  # 設定は None なら既定の設定、文字列はどんな文字列でもよい
        return st.sampled_from([Invalid(3, "type", "int 3"), Invalid(object(), "type", "object()"),
                                *([Invalid("x", "type", "str 'x'")] if kind == "settings" else [])])
    raise KeyError(f"unknown kind {kind!r}")


def parameter_defaults(entry: Entry) -> dict[str, Any]:
    return {p.name: p.default for p in parameters(entry)}


def fuzzed_parameters(entry: Entry) -> dict[str, Any]:
    """不正な値を入れるパラメーターと、その有効な値 (省略されたものは既定値。既定値が None なら入れない)。"""
    _, kwargs = entry.make()
    chosen = {}
    for parameter in parameters(entry):
        name = parameter.name
        value = kwargs.get(name, parameter.default)
        if name in entry.skip or value is inspect.Parameter.empty or (value is None and name not in entry.kinds):
            continue
        chosen[name] = value
    return chosen


def invalid_cases(entry: Entry) -> st.SearchStrategy:
    """(パラメーター名, Invalid) の組を生成する。"""
    cases = []
    for name, value in fuzzed_parameters(entry).items():
        kind = kind_of(entry, name, value)
        values = invalid_values(kind, value)
        if parameter_defaults(entry).get(name, inspect.Parameter.empty) is None:  # 既定値が None なら None は有効
            values = values.filter(lambda invalid: invalid.value is not None)
        if name in entry.extra:
            values = st.one_of(values, st.sampled_from([Invalid(v, "value", f"extra {v!r}") for v in entry.extra[name]]))
        cases.append(st.tuples(st.just(name), values))
    if not cases:
        return st.nothing()
    return st.one_of(cases)


# ---- 呼び出しと判定 ---------------------------------------------------------------------------------

class CallTimeout(BaseException):
    """呼び出しが ``CALL_LIMIT_S`` 秒を超えた (gen_lib の except に捕まらないよう BaseException)。"""


@contextlib.contextmanager
def time_limit(seconds: float):
    def expire(signum, frame):
        raise CallTimeout(f"call did not finish within {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    """呼び出しの結果の分類。``kind`` は clear / accepted / other / nonfinite / finite / hang。"""
    kind: str
    detail: str = ""


def raised_by_gen_lib(error: BaseException) -> bool:
    """例外が gen_lib 自身のものか: ``InputError``、または gen_lib のソースの ``raise`` 文から送出された例外
    (numpy・torch・インタープリターが gen_lib の行で送出した例外ではない)。"""
    if isinstance(error, validation.InputError):
        return True
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return False
    last = frames[-1]
    if not Path(last.filename).resolve().is_relative_to(GEN_LIB):
        return False
    return (last.line or "").lstrip().startswith("raise")


def names_parameter(message: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) is not None


def call_invalid(entry: Entry, name: str, invalid: Invalid) -> Outcome:
    """不正な値を入れて呼び、明確なエラー (clear) かどうかを判定する。"""
    function, kwargs = entry.make()
    kwargs = dict(kwargs, **{name: invalid.value})
    try:
        with time_limit(CALL_LIMIT_S):
            function(**kwargs)
    except CallTimeout as error:
        return Outcome("hang", str(error))
    except Exception as error:  # noqa: BLE001 (分類するために何でも捕まえる)
        expected = ValueError if invalid.problem == "value" else TypeError
        message = str(error)
        if raised_by_gen_lib(error) and isinstance(error, expected) and names_parameter(message, name):
            return Outcome("clear", f"{type(error).__name__}: {message}")
        where = traceback.extract_tb(error.__traceback__)[-1]
        return Outcome("other", f"{type(error).__name__} at {Path(where.filename).name}:{where.lineno}: "
                                f"{message[:300]}")
    return Outcome("accepted", f"{name}={invalid!r} was accepted")


def non_finite(result, path: str = "result") -> str | None:
    """結果の中の非有限な数を探し、見つかればその場所を返す (モデル・関数・文字列は見ない)。"""
    if isinstance(result, torch.Tensor):
        if result.is_floating_point() or result.is_complex():
            return None if bool(torch.isfinite(result).all()) else path
        return None
    if isinstance(result, np.ndarray):
        if result.dtype.kind in "fc":
            return None if bool(np.all(np.isfinite(result))) else path
        if result.dtype == object:
            return next((p for i, v in enumerate(result.flat) if (p := non_finite(v, f"{path}[{i}]"))), None)
        return None
    if isinstance(result, (bool, np.bool_, str, bytes)) or result is None:
        return None
    if isinstance(result, numbers.Number):
        return None if np.isfinite(complex(result)) else path
    if isinstance(result, dict):
        return next((p for k, v in result.items() if (p := non_finite(v, f"{path}[{k!r}]"))), None)
    if isinstance(result, (list, tuple)):
        return next((p for i, v in enumerate(result) if (p := non_finite(v, f"{path}[{i}]"))), None)
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return next((p for f in dataclasses.fields(result)
                     if (p := non_finite(getattr(result, f.name), f"{path}.{f.name}"))), None)
    return None


def call_valid(entry: Entry, factor: float = 1.0) -> Outcome:
    """有効な呼び出し (点の集合を ``factor`` 倍したもの) を走らせ、結果が有限かを判定する。"""
    function, kwargs = entry.make()
    if factor != 1.0:
        kwargs = {name: (value * factor if name in scaled_parameters(entry, kwargs) else value)
                  for name, value in kwargs.items()}
    try:  # 桁の端では numpy・scipy が途中のあふれを警告する。判定するのは結果なので警告は出さない
        with time_limit(CALL_LIMIT_S), warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            result = function(**kwargs)
    except CallTimeout as error:
        return Outcome("hang", str(error))
    except Exception as error:  # noqa: BLE001
        if raised_by_gen_lib(error) and isinstance(error, ValueError):
            return Outcome("refused", f"{type(error).__name__}: {str(error)[:300]}")
        where = traceback.extract_tb(error.__traceback__)[-1]
        return Outcome("other", f"{type(error).__name__} at {Path(where.filename).name}:{where.lineno}: "
                                f"{str(error)[:300]}")
    where = non_finite(result)
    return Outcome("nonfinite", where) if where else Outcome("finite")


def scaled_parameters(entry: Entry, kwargs: dict) -> tuple[str, ...]:
    """桁を変えてよい引数: 登録簿の ``scale``、なければ 2 次元の浮動小数点の配列・テンソル (点の集合)。"""
    if entry.scale is not None:
        return entry.scale
    return tuple(name for name, value in kwargs.items()
                 if isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 2
                 and (value.dtype.is_floating_point if isinstance(value, torch.Tensor) else value.dtype.kind == "f")
                 and not (isinstance(value, torch.Tensor) and value.requires_grad))
