"""格子: 数値積分 (台形則) の格子 ``Grid`` と、平面に図を描くための格子点 ``plane_points``。

第 1 章の分配関数、第 2 章のスコアマッチングの目的関数の数値積分、図の等高線が同じ格子を使う。
"""

from __future__ import annotations

# --8<-- [start:imports]
from dataclasses import dataclass

import numpy as np

from gen_lib.core.validation import InputError, as_array, check_count

# --8<-- [end:imports]

__all__ = ["Grid", "make_grid", "plane_points"]


# --8<-- [start:grid]
@dataclass(frozen=True)
class Grid:
    r"""箱 $[a_1,b_1]\times\cdots\times[a_d,b_d]$ 上の格子と台形則の重み。

    $\int g(x)\,dx \approx \sum_j w_j\, g(x_j)$。1 次元の重みは
    $h\,(\tfrac12, 1, \dots, 1, \tfrac12)$、d 次元では各軸の重みの積である。
    """

    axes: tuple[np.ndarray, ...]  # 各軸の格子点 (n_i,)
    points: np.ndarray  # 全格子点 (M, d)、M = n_1 ⋯ n_d
    log_weights: np.ndarray  # log w_j (M,)

    @property
    def dim(self) -> int:
        return len(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(a.size for a in self.axes)


def make_grid(low, high, n_points: int) -> Grid:
    """各軸を n_points 点で等分した格子を作る。low, high は長さ d の列。"""
    low = np.atleast_1d(as_array(low, name="low"))
    high = np.atleast_1d(as_array(high, name="high"))
    if low.ndim != 1 or low.shape != high.shape:
        raise InputError(f"low and high must be 1-D of the same length, "
                         f"got {low.shape} and {high.shape}")
    if np.any(high <= low):
        raise InputError(f"high must exceed low on every axis, "
                         f"got low={low.tolist()}, high={high.tolist()}")
    n_points = check_count(n_points, name="n_points", minimum=3)
    axes, log_w_1d = [], []
    for a, b in zip(low, high):
        t = np.linspace(a, b, n_points)
        w = np.full(n_points, (b - a) / (n_points - 1))
        w[[0, -1]] *= 0.5  # 台形則: 両端の重みは半分
        axes.append(t)
        log_w_1d.append(np.log(w))
    mesh = np.meshgrid(*axes, indexing="ij")
    points = np.stack([m.ravel() for m in mesh], axis=1)
    # log Π_i w_i = Σ_i log w_i
    log_weights = sum(np.meshgrid(*log_w_1d, indexing="ij")).ravel()
    return Grid(tuple(axes), points, log_weights)
# --8<-- [end:grid]


def plane_points(axis: np.ndarray) -> np.ndarray:
    """1 次元の目盛り axis (n,) から平面の格子点 (n*n, 2) を作る。

    行の順は ``np.meshgrid(axis, axis)`` と同じなので、点ごとの値を ``reshape(n, n)`` すれば
    ``contourf(axis, axis, values)`` にそのまま渡せる。
    """
    axis = as_array(axis, name="axis", ndim=1)
    if axis.size < 1:
        raise InputError(f"axis must hold at least one value, got shape {axis.shape}")
    return np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
