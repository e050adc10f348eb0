r"""前向き過程 (拡散過程): データにガウスノイズを少しずつ加えて壊していく過程。

時刻 $t = 1, \dots, T$ で分散 $\beta_t \in (0, 1)$ のノイズを加えるマルコフ連鎖

$$
q(x_t \mid x_{t-1}) = \mathcal{N}(x_t; \sqrt{1-\beta_t}\, x_{t-1}, \beta_t I)
$$

は、$\bar{\alpha}_t = \prod_{s=1}^t (1-\beta_s)$ とおくと途中を飛ばして閉じた形で書ける。

$$
q(x_t \mid x_0) = \mathcal{N}(x_t; \sqrt{\bar{\alpha}_t}\, x_0, (1-\bar{\alpha}_t) I)
$$

(Sohl-Dickstein et al. 2015; Ho et al. 2020)。学習するパラメータはない (θ を持たない)。

配列の約束: ``betas`` と ``alpha_bar`` は長さ $T$ の 1 次元配列で、``betas[t-1]`` が $\beta_t$、
``alpha_bar[t-1]`` が $\bar{\alpha}_t$ である ($t = 0$ はデータそのもので $\bar{\alpha}_0 = 1$)。
添字のずれを避けたいときは ``alpha_bar_at(alpha_bar, t)`` を使う。
データ分布がガウス混合なら、$x_t$ の周辺分布 $q(x_t)$ もガウス混合で、
``mixture.noised(math.sqrt(a), math.sqrt(1 - a))`` ($a = \bar{\alpha}_t$) で厳密に得られる。
データ $x_0$ は記号一覧の約束どおり形 ``(N, d)`` の配列である。
"""

from __future__ import annotations

# --8<-- [start:imports]
import math
import numbers

import numpy as np

from gen_lib.core.validation import InputError, as_array, as_points, check_bool, check_count, make_rng
# --8<-- [end:imports]

__all__ = ["linear_beta_schedule", "alpha_bar_from_betas", "cosine_alpha_bar", "cosine_beta_schedule",
           "alpha_bar_at", "noise_data", "run_forward_chain"]


# --8<-- [start:schedules]
def _check_betas(betas) -> np.ndarray:
    r"""β_1, ..., β_T がすべて開区間 (0, 1) にあることを確かめる。"""
    b = as_array(betas, name="betas", ndim=1)
    if b.size < 1 or np.any(b <= 0) or np.any(b >= 1):
        raise InputError("betas must be a non-empty 1-D array with every "
                         f"value in (0, 1), got size {b.size}, "
                         f"min {b.min() if b.size else None}, "
                         f"max {b.max() if b.size else None}")
    return b


def _is_number_in(value, low: float, high: float) -> bool:
    """value が bool でない実数で low < value < high なら True。"""
    return (not isinstance(value, bool) and isinstance(value, numbers.Real)
            and low < value < high)


def linear_beta_schedule(T: int = 1000, beta_start: float = 1e-4,
                         beta_end: float = 0.02) -> np.ndarray:
    r"""線形スケジュール (Ho et al. 2020): $\beta_t$ を beta_start から
    beta_end まで等間隔に増やす。

    $\beta_t = \beta_{\mathrm{start}}
    + \frac{t-1}{T-1} (\beta_{\mathrm{end}} - \beta_{\mathrm{start}})$,
    $t = 1, \dots, T$ ($T = 1$ なら $\beta_1$ = beta_start)。形 (T,)。
    """
    T = check_count(T, name="T")
    for name, value in (("beta_start", beta_start), ("beta_end", beta_end)):
        if not _is_number_in(value, 0, 1):
            raise InputError(f"{name} must be a number in (0, 1), "
                             f"got {value!r}")
    return np.linspace(beta_start, beta_end, T)


def alpha_bar_from_betas(betas) -> np.ndarray:
    r"""$\bar{\alpha}_t = \prod_{s=1}^t (1 - \beta_s)$。形 (T,)。"""
    return np.cumprod(1.0 - _check_betas(betas))


def cosine_alpha_bar(T: int = 1000, s: float = 0.008) -> np.ndarray:
    r"""コサインスケジュール (Nichol & Dhariwal 2021) の
    $\bar{\alpha}_1, \dots, \bar{\alpha}_T$。

    $\bar{\alpha}_t = f(t) / f(0)$,
    $f(t) = \cos^2\left(\frac{t/T + s}{1 + s} \cdot \frac{\pi}{2}\right)$。
    式のままなので $\bar{\alpha}_T = f(T)/f(0)$ はほぼ 0 になる。形 (T,)。
    """
    T = check_count(T, name="T")
    if (isinstance(s, bool) or not isinstance(s, numbers.Real)
            or not 0 <= s < math.inf):
        raise InputError(f"s must be a finite number >= 0, got {s!r}")
    t = np.arange(T + 1) / T
    f = np.cos((t + s) / (1 + s) * np.pi / 2) ** 2
    return f[1:] / f[0]


def cosine_beta_schedule(T: int = 1000, s: float = 0.008,
                         max_beta: float = 0.999) -> np.ndarray:
    r"""コサインスケジュールの
    $\beta_t = \min(1 - \bar{\alpha}_t / \bar{\alpha}_{t-1}, \beta_{\max})$。

    Nichol & Dhariwal (2021) と同じく、$t = T$ 付近で $\beta_t \to 1$ と
    ならないよう上限で切る。``alpha_bar_from_betas`` で戻した $\bar{\alpha}_t$
    は累積積なので、最初に切った時刻から先のすべての時刻で式の値より大きい
    (既定の T = 1000 で切るのは t = T だけ)。形 (T,)。
    """
    if not _is_number_in(max_beta, 0, 1):
        raise InputError(f"max_beta must be a number in (0, 1), "
                         f"got {max_beta!r}")
    alpha_bar = np.concatenate([[1.0], cosine_alpha_bar(T, s)])  # ᾱ_0 = 1
    return np.minimum(1.0 - alpha_bar[1:] / alpha_bar[:-1], max_beta)
# --8<-- [end:schedules]


def alpha_bar_at(alpha_bar, t: int) -> float:
    r"""時刻 t の $\bar{\alpha}_t$ (``alpha_bar[t-1]``)。$t = 0$ では $\bar{\alpha}_0 = 1$。"""
    a = as_array(alpha_bar, name="alpha_bar", ndim=1)
    if a.size < 1 or np.any(a < 0) or np.any(a > 1):
        raise InputError("alpha_bar must be a non-empty 1-D array with values in [0, 1], "
                         f"got size {a.size}")
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or not 0 <= t <= a.size:
        raise InputError(f"t must be an integer in [0, T] = [0, {a.size}], got {t!r}")
    return 1.0 if t == 0 else float(a[t - 1])


# --8<-- [start:closed_form]
def _check_alpha_bar_t(alpha_bar_t, n: int) -> np.ndarray:
    r"""ᾱ_t はスカラーか形 (N,) の配列で、値は [0, 1]。
    形 (N, 1) か () にして返す。"""
    if isinstance(alpha_bar_t, (bool, np.bool_)):
        raise InputError(f"alpha_bar_t must be a number or an array of numbers, got {alpha_bar_t!r}")
    a = as_array(alpha_bar_t, name="alpha_bar_t")
    if a.ndim > 1 or (a.ndim == 1 and a.shape != (n,)):
        raise InputError("alpha_bar_t must be a scalar or have shape "
                         f"({n},), got shape {a.shape}")
    if np.any(a < 0) or np.any(a > 1):
        raise InputError("alpha_bar_t must lie in [0, 1], "
                         f"got min {a.min()}, max {a.max()}")
    return a[:, None] if a.ndim == 1 else a


def noise_data(x0, alpha_bar_t, seed=0, *, return_noise: bool = False):
    r"""$q(x_t \mid x_0)$ から一度に引く:
    $x_t = \sqrt{\bar{\alpha}_t}\, x_0
    + \sqrt{1-\bar{\alpha}_t}\, \varepsilon$,
    $\varepsilon \sim \mathcal{N}(0, I)$。

    x0 は形 (N, d)。alpha_bar_t はスカラー、または点ごとに違う時刻を
    使うなら形 (N,)。return_noise=True なら加えたノイズ $\varepsilon$ も返す
    (拡散モデルの学習で予測する対象)。
    """
    x0 = as_points(x0, name="x0")
    return_noise = check_bool(return_noise, name="return_noise")
    a = _check_alpha_bar_t(alpha_bar_t, x0.shape[0])
    eps = make_rng(seed).standard_normal(x0.shape)
    x_t = np.sqrt(a) * x0 + np.sqrt(1.0 - a) * eps
    return (x_t, eps) if return_noise else x_t
# --8<-- [end:closed_form]


# --8<-- [start:markov_chain]
def run_forward_chain(x0, betas, seed=0, *, return_path: bool = False):
    r"""マルコフ連鎖
    $x_t = \sqrt{1-\beta_t}\, x_{t-1} + \sqrt{\beta_t}\, \varepsilon_t$ を
    $t = 1, \dots, T$ と順に回す。

    既定では $x_T$ (形 (N, d)) を返す。return_path=True なら
    $x_0, x_1, \dots, x_T$ を並べた形 (T+1, N, d) の配列を返す
    (メモリは (T+1)·N·d 個の float64)。
    """
    x = as_points(x0, name="x0")
    return_path = check_bool(return_path, name="return_path")
    b = _check_betas(betas)
    rng = make_rng(seed)
    path = [x] if return_path else None
    for beta_t in b:
        noise = rng.standard_normal(x.shape)
        x = np.sqrt(1.0 - beta_t) * x + np.sqrt(beta_t) * noise
        if return_path:
            path.append(x)
    return np.stack(path) if return_path else x
# --8<-- [end:markov_chain]

