"""公開関数の入力検査。間違った形・型・非有限値・範囲外の値には ValueError を送出する。

エラーメッセージは英語で、悪い値と期待される値を示す。入力の約束 (README「入力の約束」):

- 点の集合は形 (N, d) で N >= 1、d >= 1。配列・テンソルは float64 に変換して計算する
  (float16・bfloat16・float32 のテンソルも float64 にする。自動微分はそのまま流れる)。
- 個数 (点の数・ステップ数など) は ``MAX_COUNT`` (既定 10^7) 以下。大きな計算は
  ``gen_lib.core.validation.MAX_COUNT`` を明示的に上げて行う。
- シードは 0 以上 2^64 未満の整数か ``numpy.random.Generator``。真偽のフラグは bool だけ。

検査に通らない入力には ``InputError`` を送出する。``ValueError`` と ``TypeError`` の両方の派生クラスなので、
悪い値・形・範囲は ``except ValueError`` で、悪い型は ``except TypeError`` で捕まえられる。
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from gen_lib.core.errors import InputError, check_bool, check_callable  # noqa: F401 (ここからも使える)
__all__ = ["as_array", "as_points", "as_tensor_points", "as_float_tensor",
           "check_finite_result", "check_real", "check_positive", "check_count",
           "check_instance", "check_weights", "check_seed", "make_rng", "make_generator",
           "as_batch_tensor", "as_matching_batches", "check_same_shape"]


def as_array(x, *, name: str, ndim: int | None = None) -> np.ndarray:
    """``x`` を float64 の ndarray にし、次元数と有限性を確かめる (テンソルはどの浮動小数点型でも float64 にする)。"""
    try:
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu()
            x = (x.to(torch.float64) if x.is_floating_point() else x).numpy()
        raw = np.asarray(x)
        if raw.dtype.kind not in "biuf":  # 真偽・整数・実数のみ (複素数・文字列は不可)
            raise TypeError(f"dtype {raw.dtype} is not real")
        array = raw.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(f"{name} must be numeric, got {type(x).__name__}: {error}") from None
    if ndim is not None and array.ndim != ndim:
        raise InputError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name} must be finite, got {np.count_nonzero(~np.isfinite(array))} "
                         f"non-finite value(s)")
    return array


def as_points(x, *, name: str = "x", dim: int | None = None) -> np.ndarray:
    """点の集合を ``(N, d)`` の配列として受け取る (記号一覧: データセット D は (N, d) 配列)。"""
    array = as_array(x, name=name, ndim=2)
    if array.shape[0] < 1:
        raise InputError(f"{name} must hold at least one point, got shape {array.shape}")
    if array.shape[1] < 1:
        raise InputError(f"{name} must have at least one coordinate (shape (N, d) with d >= 1), "
                         f"got shape {array.shape}")
    if dim is not None and array.shape[1] != dim:
        raise InputError(f"{name} must have shape (N, {dim}), got {array.shape}")
    return array


def as_tensor_points(x, *, name: str = "x", dim: int | None = None) -> torch.Tensor:
    """torch 版の ``as_points``。float64 のテンソルはコピーせずに検査だけし (勾配の流れを保つ)、
    ほかの浮動小数点型 (float16・bfloat16・float32) は float64 に変換する (変換も自動微分を通す)。"""
    if not isinstance(x, torch.Tensor):
        return torch.as_tensor(as_points(x, name=name, dim=dim))
    if x.ndim != 2 or x.shape[0] < 1:
        raise InputError(f"{name} must have shape (N, d) with N >= 1, got {tuple(x.shape)}")
    if x.shape[1] < 1:
        raise InputError(f"{name} must have shape (N, d) with d >= 1, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    x = x.to(torch.float64)
    if dim is not None and x.shape[1] != dim:
        raise InputError(f"{name} must have shape (N, {dim}), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise InputError(f"{name} must be finite, got {int((~torch.isfinite(x)).sum())} non-finite value(s)")
    return x


def as_float_tensor(x, *, name: str, ndim: int | None = None, shape: tuple | None = None) -> torch.Tensor:
    """実数のテンソルか配列を float64 のテンソルにし、次元数 (か形) と有限性を確かめる (テンソルの勾配は保つ)。"""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(as_array(x, name=name, ndim=ndim))
    if x.is_complex():
        raise InputError(f"{name} must be a real tensor, got dtype {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise InputError(f"{name} must have {ndim} dimension(s), got shape {tuple(x.shape)}")
    if shape is not None and tuple(x.shape) != tuple(shape):
        raise InputError(f"{name} must have shape {tuple(shape)}, got {tuple(x.shape)}")
    x = x.to(torch.float64)
    if not torch.isfinite(x).all():
        raise InputError(f"{name} must be finite, got {int((~torch.isfinite(x)).sum())} non-finite value(s)")
    return x


def check_real(value, *, name: str) -> float:
    """有限な実数 (bool は不可) であることを確かめて float で返す。"""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise InputError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def check_finite_result(result, *, name: str, source=None):
    """有限な入力から計算した結果が float64 に収まったかを確かめ、あふれたら原因の入力 ``name`` を名指して止める。

    ``source`` (その入力の値) を渡すと、メッセージにその最大の大きさを書く。結果をそのまま返す。
    """
    try:
        if isinstance(result, torch.Tensor):
            values = result.detach()
            if values.is_complex():
                raise TypeError("complex")
        elif np.iscomplexobj(result):
            raise TypeError("complex")
        else:
            values = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must give a numeric result, got {type(result).__name__}") from None
    if not bool((torch.isfinite(values) if isinstance(values, torch.Tensor) else np.isfinite(values)).all()):
        largest = ""
        if source is not None:
            magnitude = (source.detach().abs().max().item() if isinstance(source, torch.Tensor)
                         else np.max(np.abs(source)))
            largest = f" (largest |{name}| = {float(magnitude):.3g})"
        raise InputError(f"{name} is too large in magnitude: the result overflowed float64{largest}; "
                         f"rescale the input")
    return result


def check_positive(value, *, name: str) -> float:
    """正の有限な実数であることを確かめて float で返す。"""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise InputError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


MAX_COUNT = 10**7  # 個数 (点の数・ステップ数など) の既定の上限。大きな計算ではこの値を明示的に上げる


def check_count(value, *, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """``minimum`` 以上 ``maximum`` 以下の整数であることを確かめる (``maximum`` の既定は呼んだ時点の ``MAX_COUNT``)。"""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    maximum = MAX_COUNT if maximum is None else maximum
    if value > maximum:
        raise InputError(f"{name} must be an integer <= {maximum}, got {value!r} (the limit is "
                         f"gen_lib.core.validation.MAX_COUNT; raise it explicitly for larger runs)")
    return int(value)


def check_instance(value, expected: type | tuple[type, ...], *, name: str, hint: str = ""):
    """``expected`` の型 (例: ``GaussianMixture``) であることを確かめて ``value`` を返す (``hint`` は作り方の案内)。"""
    if not isinstance(value, expected):
        types = expected if isinstance(expected, tuple) else (expected,)
        names = " or ".join(t.__name__ for t in types)
        raise InputError(f"{name} must be a {names}{hint}, got {type(value).__name__}")
    return value


def check_weights(weights, *, name: str = "weights") -> np.ndarray:
    """非負で和が 1 の重み (混合比) を確かめる。"""
    w = as_array(weights, name=name, ndim=1)
    if w.size < 1 or np.any(w < 0) or not np.isclose(w.sum(), 1.0, atol=1e-8):
        raise InputError(f"{name} must be non-negative and sum to 1, got {w.tolist()}")
    return w


SEED_LIMIT = 2**64  # シードは 0 以上 2^64 未満の整数


def check_seed(seed, *, name: str = "seed", generators: str = "a numpy.random.Generator"):
    """シードは 0 以上 2^64 未満の整数か ``numpy.random.Generator`` (``generators`` はメッセージに書く受け付ける生成器)。"""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < SEED_LIMIT:
        raise InputError(f"{name} must be an integer in [0, 2**64) or {generators}, got {seed!r}")
    return int(seed)


def make_rng(seed) -> np.random.Generator:
    """シード (int) か ``numpy.random.Generator`` から numpy の乱数生成器を得る (Generator はそのまま使う)。"""
    seed = check_seed(seed)
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def make_generator(seed, *, name: str = "seed") -> torch.Generator:
    """シードから torch の乱数生成器を得る。

    int ならそれを torch のシードにし、``numpy.random.Generator`` ならそこから 63 ビットの整数を 1 つ引いて
    シードにする (numpy の乱数の流れから torch の乱数を決める)。内部で作った ``torch.Generator`` はそのまま使う。
    """
    if isinstance(seed, torch.Generator):
        return seed
    seed = check_seed(seed, name=name, generators="a numpy.random.Generator or a torch.Generator")
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(0, 2**63))
    return torch.Generator().manual_seed(seed)


def as_batch_tensor(x, *, name: str) -> torch.Tensor:
    """形 (N, …) (2 次元以上、N >= 1、各軸の長さ >= 1) の有限なテンソルを float64 で返す。

    配列は float64 のテンソルにし、ほかの浮動小数点型のテンソル (float16・bfloat16・float32) も float64 に変換する。
    """
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(as_array(x, name=name), dtype=torch.float64)
        except (TypeError, RuntimeError) as error:
            raise InputError(f"{name} must be numeric, got {type(x).__name__}: {error}") from None
    if x.ndim < 2 or 0 in x.shape:
        raise InputError(f"{name} must have shape (N, ...) with N >= 1, at least 2 dimensions and no empty "
                         f"axis, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    x = x.to(torch.float64)
    if not torch.isfinite(x).all():
        raise InputError(f"{name} must be finite, got {int((~torch.isfinite(x)).sum())} non-finite value(s)")
    return x


def as_matching_batches(**named) -> list[torch.Tensor]:
    """名前つきのバッチ (例 ``x0=…, noise=…``) をそれぞれ ``as_batch_tensor`` で受け取り、同じ形かを確かめる。"""
    tensors = [as_batch_tensor(value, name=name) for name, value in named.items()]
    for (name, _), tensor in zip(list(named.items())[1:], tensors[1:]):
        check_same_shape(tensors[0], tensor, f"{next(iter(named))} and {name}")
    return tensors


def check_same_shape(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    """2 つのテンソルの形が同じであることを確かめる。"""
    shapes = [getattr(value, "shape", None) for value in (a, b)]
    if None in shapes or shapes[0] != shapes[1]:
        got = " and ".join(str(tuple(shape)) if shape is not None else type(value).__name__
                           for shape, value in zip(shapes, (a, b)))
        raise InputError(f"{names} must be arrays of the same shape, got {got}")
