"""数値計算の小さな道具: 桁あふれしない logsumexp。"""

from __future__ import annotations

import numpy as np

from gen_lib.core.validation import InputError, check_bool

__all__ = ["logsumexp"]


def logsumexp(a, axis=None, keepdims: bool = False):
    r"""$\log \sum_j e^{a_j}$ を、最大値 $m = \max_j a_j$ を引いてから計算する: $m + \log \sum_j e^{a_j - m}$。

    ``axis=None`` なら全要素の和で float を、そうでなければその軸で和を取った配列を返す。
    すべて $-\infty$ の並びには $-\infty$ を返す (重み 0 の和)。
    """
    try:
        if np.iscomplexobj(a):
            raise TypeError("complex")
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"a must be a real array, got {type(a).__name__}") from None
    if a.size < 1 or np.isnan(a).any() or np.isposinf(a).any():
        bad = np.count_nonzero(np.isnan(a) | np.isposinf(a))
        raise InputError(f"a must be a non-empty array without NaN or +inf (-inf stands for weight 0), "
                         f"got shape {a.shape} with {bad} NaN/+inf")
    if axis is not None and (isinstance(axis, bool) or not isinstance(axis, (int, np.integer))
                             or not -a.ndim <= axis < a.ndim):
        raise InputError(f"axis must be None or an int in [-{a.ndim}, {a.ndim}), got {axis!r}")
    keepdims = check_bool(keepdims, name="keepdims")
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # すべて -inf なら 0 を引く (結果は -inf)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return float(out) if axis is None and not keepdims else out
