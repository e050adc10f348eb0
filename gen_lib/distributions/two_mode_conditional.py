r"""二つのモードを持つ条件付き分布: 白黒画像の着色を 1 次元に縮めたおもちゃの例。

条件 $c \in [-1, 1]$ (灰色の明るさ) に対して、出力 $y$ (色) は二通りありうる。

$$
p(y \mid c) = w \, \mathcal{N}(y; g(c), \sigma^2) + (1 - w) \, \mathcal{N}(y; -g(c), \sigma^2),
\qquad g(c) = 1 + \tfrac{1}{2} \sin(\pi c)
$$

条件は $c \sim \mathcal{U}[-1, 1]$ とし、同時分布は $p(c, y) = p(c)\, p(y \mid c)$ である。
条件 $c$ と出力 $y$ はどちらも形 ``(N,)`` の 1 次元配列で表す。
"""

from __future__ import annotations

# --8<-- [start:imports]
import math
from dataclasses import dataclass

import numpy as np

from gen_lib.core.numerics import logsumexp
from gen_lib.core.validation import InputError, as_array, check_count, check_positive, make_rng

# --8<-- [end:imports]

__all__ = ["as_conditions", "as_pairs", "TwoModeConditional", "off_mode_fraction"]


# --8<-- [start:checks]
def as_conditions(c, *, name: str = "c") -> np.ndarray:
    r"""条件 $c$ を形 (N,) の float64 配列として受け取る。

    $c \in [-1, 1]$ を確かめる。
    """
    c = as_array(c, name=name, ndim=1)
    if c.size < 1:
        raise InputError(f"{name} must hold at least one value, "
                         f"got shape {c.shape}")
    if np.any(np.abs(c) > 1.0):
        raise InputError(f"{name} must lie in [-1, 1], "
                         f"got values in [{c.min()}, {c.max()}]")
    return c


def as_pairs(y, c) -> tuple[np.ndarray, np.ndarray]:
    """出力 $y$ と条件 $c$ を同じ長さの 1 次元配列として受け取る。"""
    c = as_conditions(c)
    y = as_array(y, name="y", ndim=1)
    if y.shape != c.shape:
        raise InputError(f"y and c must have the same shape (N,), "
                         f"got {y.shape} and {c.shape}")
    return y, c
# --8<-- [end:checks]


# --8<-- [start:two_mode]
@dataclass(frozen=True)
class TwoModeConditional:
    r"""2 つのモードを持つ条件付き分布。

    $p(y \mid c) = w \mathcal{N}(y; g(c), \sigma^2)
    + (1-w) \mathcal{N}(y; -g(c), \sigma^2)$。
    """

    noise_std: float = 0.1  # σ: モードの幅
    upper_weight: float = 0.5  # w: 上のモード (y > 0) を選ぶ確率

    def __post_init__(self):
        check_positive(self.noise_std, name="noise_std")
        w = check_positive(self.upper_weight, name="upper_weight")
        if not 0.0 < w < 1.0:
            raise InputError(f"upper_weight must lie in (0, 1), "
                             f"got {self.upper_weight!r}")

    @staticmethod
    def branch(c) -> np.ndarray:
        r"""モードの位置 $g(c) = 1 + \frac{1}{2}\sin(\pi c)$。二つのモードは $\pm g(c)$。"""
        return 1.0 + 0.5 * np.sin(np.pi * as_conditions(c))

    def log_prob(self, y, c) -> np.ndarray:
        r"""厳密な条件付き対数密度 $\log p(y \mid c)$ (logsumexp で安定に)。

        形 (N,)。
        """
        y, c = as_pairs(y, c)
        g, s = self.branch(c), self.noise_std
        log_norm = -0.5 * math.log(2 * math.pi * s**2)
        w = self.upper_weight
        a_up = math.log(w) + log_norm - 0.5 * ((y - g) / s) ** 2
        a_down = math.log(1 - w) + log_norm - 0.5 * ((y + g) / s) ** 2
        return logsumexp(np.stack([a_up, a_down]), axis=0)

    def mean(self, c) -> np.ndarray:
        r"""条件付き期待値 $E[y \mid c] = (2w - 1)\, g(c)$ (対称な $w = 1/2$ なら 0)。"""
        return (2 * self.upper_weight - 1) * self.branch(c)

    def sample(self, c, seed=0) -> np.ndarray:
        r"""各 $c^n$ について $y^n \sim p(y \mid c^n)$。

        符号 $s = \pm 1$ を選び $y = s\, g(c) + \sigma \varepsilon$ とする。
        """
        c = as_conditions(c)
        rng = make_rng(seed)
        sign = np.where(rng.random(c.shape) < self.upper_weight, 1.0, -1.0)
        eps = rng.standard_normal(c.shape)
        return sign * self.branch(c) + self.noise_std * eps

    def sample_joint(self, n: int, seed=0) -> tuple[np.ndarray, np.ndarray]:
        r"""$(c, y) \sim p(c, y) = p(c)\, p(y \mid c)$。

        まず $c \sim \mathcal{U}[-1, 1]$、次に $y \sim p(y \mid c)$ を引く。
        """
        n = check_count(n, name="n")
        rng = make_rng(seed)
        c = rng.uniform(-1.0, 1.0, size=n)
        return c, self.sample(c, seed=rng)
# --8<-- [end:two_mode]


# --8<-- [start:off_mode]
def off_mode_fraction(target: TwoModeConditional, y, c,
                      n_std: float = 3.0) -> float:
    r"""近いほうのモード $\pm g(c)$ から $n_\mathrm{std}\,\sigma$ より遠い点の割合。

    データのない低密度域に落ちた割合である。

    真の分布からのサンプルなら $P(|\varepsilon| > 3) \approx 0.27\%$ である。
    """
    if not isinstance(target, TwoModeConditional):
        raise InputError(f"target must be a TwoModeConditional, "
                         f"got {type(target).__name__}")
    y, c = as_pairs(y, c)
    n_std = check_positive(n_std, name="n_std")
    # min(|y - g(c)|, |y + g(c)|)
    distance = np.abs(np.abs(y) - target.branch(c))
    return float(np.mean(distance > n_std * target.noise_std))
# --8<-- [end:off_mode]
