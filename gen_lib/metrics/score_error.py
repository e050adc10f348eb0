r"""学習したスコアの誤差: 厳密なスコアとの相対 2 乗誤差。

$$
\mathrm{err}(s) = \frac{\mathbb{E}\,\|s(x) - \nabla_x \log p(x)\|^2}{\mathbb{E}\,\|\nabla_x \log p(x)\|^2}
$$

期待値は点 $x^n$ の (重み $w_n$ 付きの) 平均で近似する: サンプル $x^n \sim p$ なら等しい重み
(モンテカルロ)、格子点なら $w_n = $ 台形則の重み $\times\, p(x^n)$ (数値積分)。
"""

from __future__ import annotations

import numpy as np

from gen_lib.core.validation import InputError, as_array, as_points, check_finite_result

__all__ = ["relative_score_error"]


# --8<-- [start:relative_score_error]
def relative_score_error(estimate, exact, weights=None) -> float:
    r"""$\sum_n w_n \|s^n - s_*^n\|^2 / \sum_n w_n \|s_*^n\|^2$。estimate, exact は (N, d)、weights は (N,) か None。"""
    estimate = as_points(estimate, name="estimate")
    exact = as_points(exact, name="exact", dim=estimate.shape[1])
    if exact.shape != estimate.shape:
        raise InputError(f"estimate and exact must have the same shape, got {estimate.shape} and {exact.shape}")
    w = np.ones(len(exact)) if weights is None else as_array(weights, name="weights", ndim=1)
    if w.shape != (len(exact),) or np.any(w < 0):
        raise InputError(f"weights must be non-negative with shape ({len(exact)},), got shape {w.shape}")
    # 比は共通の倍率で変わらない: 2 のべき 2^k で割ってから 2 乗する (2 乗があふれず、ふつうの値では結果も同じ)
    scale = 2.0 ** float(np.frexp(max(np.max(np.abs(estimate)), np.max(np.abs(exact))))[1])
    estimate, exact = estimate / scale, exact / scale
    denominator = w @ np.sum(exact**2, axis=1)
    if not denominator > 0:
        raise InputError("the exact score is zero everywhere the weights are positive; the relative error is undefined")
    ratio = w @ np.sum((estimate - exact) ** 2, axis=1) / denominator
    return float(check_finite_result(ratio, name="weights"))
# --8<-- [end:relative_score_error]
