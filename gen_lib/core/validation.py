"""公開関数の入力検査。間違った形・非有限値・範囲外の値には ValueError を送出する。

エラーメッセージは英語で、悪い値と期待される値を示す。
"""

from __future__ import annotations

import numbers

import numpy as np
import torch


def as_array(x, *, name: str, ndim: int | None = None) -> np.ndarray:
    """``x`` を float64 の ndarray にし、次元数と有限性を確かめる。"""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        raw = np.asarray(x)
        if raw.dtype.kind not in "biuf":  # 真偽・整数・実数のみ (複素数・文字列は不可)
            raise TypeError(f"dtype {raw.dtype} is not real")
        array = raw.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric, got {type(x).__name__}: {error}") from None
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {np.count_nonzero(~np.isfinite(array))} "
                         f"non-finite value(s)")
    return array


def as_points(x, *, name: str = "x", dim: int | None = None) -> np.ndarray:
    """点の集合を ``(N, d)`` の配列として受け取る (記号一覧: データセット D は (N, d) 配列)。"""
    array = as_array(x, name=name, ndim=2)
    if array.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one point, got shape {array.shape}")
    if dim is not None and array.shape[1] != dim:
        raise ValueError(f"{name} must have shape (N, {dim}), got {array.shape}")
    return array


def as_tensor_points(x, *, name: str = "x", dim: int | None = None) -> torch.Tensor:
    """torch 版の ``as_points``。勾配の流れを保つため、テンソルはコピーせずに検査だけする。"""
    if not isinstance(x, torch.Tensor):
        return torch.as_tensor(as_points(x, name=name, dim=dim))
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"{name} must have shape (N, d) with N >= 1, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} must have shape (N, {dim}), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} must be finite, got {int((~torch.isfinite(x)).sum())} non-finite value(s)")
    return x


def check_positive(value, *, name: str) -> float:
    """正の有限な実数であることを確かめて float で返す。"""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_count(value, *, name: str, minimum: int = 1) -> int:
    """``minimum`` 以上の整数であることを確かめる。"""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_weights(weights, *, name: str = "weights") -> np.ndarray:
    """非負で和が 1 の重み (混合比) を確かめる。"""
    w = as_array(weights, name=name, ndim=1)
    if w.size < 1 or np.any(w < 0) or not np.isclose(w.sum(), 1.0, atol=1e-8):
        raise ValueError(f"{name} must be non-negative and sum to 1, got {w.tolist()}")
    return w


SEED_LIMIT = 2**64  # シードは 0 以上 2^64 未満の整数


def check_seed(seed, *, name: str = "seed"):
    """シードは 0 以上 2^64 未満の整数か ``numpy.random.Generator``。"""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"{name} must be an integer in [0, 2**64) or a numpy.random.Generator, got {seed!r}")
    return int(seed)


def make_rng(seed) -> np.random.Generator:
    """シード (int) か ``numpy.random.Generator`` から numpy の乱数生成器を得る (Generator はそのまま使う)。"""
    seed = check_seed(seed)
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def make_generator(seed) -> torch.Generator:
    """シードから torch の乱数生成器を得る。

    int ならそれを torch のシードにし、``numpy.random.Generator`` ならそこから 63 ビットの整数を 1 つ引いて
    シードにする (numpy の乱数の流れから torch の乱数を決める)。内部で作った ``torch.Generator`` はそのまま使う。
    """
    if isinstance(seed, torch.Generator):
        return seed
    seed = check_seed(seed)
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(0, 2**63))
    return torch.Generator().manual_seed(seed)


def as_batch_tensor(x, *, name: str) -> torch.Tensor:
    """形 (N, …) (2 次元以上、N >= 1) の有限な浮動小数点テンソル。配列なら float64 のテンソルにする。"""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"{name} must have shape (N, ...) with N >= 1 and at least 2 dimensions, "
                         f"got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} must be finite, got {int((~torch.isfinite(x)).sum())} non-finite value(s)")
    return x


def check_same_shape(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    """2 つのテンソルの形が同じであることを確かめる。"""
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
