r"""離散時間の拡散モデルのノイズスケジュール $\beta_1, \dots, \beta_T$ と、そこから決まる定数。

$\alpha_t = 1 - \beta_t$, $\bar{\alpha}_t = \prod_{s=1}^{t} \alpha_s$ (Ho et al. 2020, 式 (4) の記号)。
定数は一度だけ float64 で計算し、モデルの dtype には使う直前に変える (improved-diffusion と同じ方針)。

添字の約束 (論文と配列のずれをここで一度だけ吸収する):

- 時刻は論文どおり $t = 1, \dots, T$ の整数。$t = 0$ はデータそのもので、$\bar{\alpha}_0 = 1$ とする。
- 配列 ``betas`` の ``betas[t - 1]`` が $\beta_t$ (diffusers の ``timestep`` は $t - 1$ にあたる)。
- 点ごとに違う時刻を使えるよう、時刻は形 ``(N,)`` の整数テンソルで受け取り、
  ``(N, 1, …, 1)`` に広げて形 ``(N, …)`` の $x$ に掛ける (2 次元の点でも画像の形でも同じ関数)。
"""

from __future__ import annotations

# --8<-- [start:imports]
import numpy as np
import torch

from gen_lib.core.validation import (InputError, as_array, as_float_tensor, check_bool, check_count,
                                     check_instance, make_generator)
from gen_lib.diffusion.forward_noising import (cosine_beta_schedule,
                                               linear_beta_schedule)
# --8<-- [end:imports]

__all__ = ["NoiseSchedule", "broadcast_to", "uniform_timesteps", "likelihood_timesteps"]


class NoiseSchedule:
    r"""$\beta_1, \dots, \beta_T \in (0, 1)$ から決まる定数の表 (すべて float64、形 (T,) か (T+1,))。"""

    def __init__(self, betas):
        b = as_array(betas, name="betas", ndim=1)
        if b.size < 1:
            raise InputError(f"betas must hold at least one value (T >= 1), got shape {b.shape}")
        if np.any(b <= 0) or np.any(b >= 1):
            raise InputError(f"betas must lie in (0, 1), got min {b.min()}, max {b.max()}")
        alpha_bar = np.cumprod(1.0 - b)
        if not np.all(np.diff(alpha_bar) < 0) or alpha_bar[-1] <= 0:
            raise InputError("alpha_bar must be strictly decreasing and positive, "
                             f"got last value {alpha_bar[-1]}")
        self.betas = torch.as_tensor(b)  # β_t = betas[t-1]
        # ᾱ_0 = 1 を先頭に置いた表: alpha_bars_with_zero[t] = ᾱ_t (t = 0, …, T)
        self.alpha_bars_with_zero = torch.cat([torch.ones(1, dtype=torch.float64),
                                               torch.as_tensor(alpha_bar)])

    @classmethod
    def linear(cls, T: int = 1000, beta_start: float = 1e-4,
               beta_end: float = 0.02) -> "NoiseSchedule":
        """線形スケジュール (Ho et al. 2020): β を beta_start から beta_end まで等間隔に。"""
        return cls(linear_beta_schedule(T, beta_start, beta_end))

    @classmethod
    def cosine(cls, T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> "NoiseSchedule":
        """コサインスケジュール (Nichol & Dhariwal 2021, 式 (17))。β は max_beta で切る。"""
        return cls(cosine_beta_schedule(T, s, max_beta))

    @property
    def T(self) -> int:
        return int(self.betas.numel())

    def check_t(self, t, *, name: str = "t", allow_zero: bool = False) -> torch.Tensor:
        """時刻を形 (N,) の int64 テンソルとして受け取り、範囲 [1, T] (allow_zero なら [0, T])
        を確かめる。"""
        allow_zero = check_bool(allow_zero, name="allow_zero")
        if not isinstance(t, torch.Tensor):
            as_array(t, name=name)  # 数でなければ名前つきで止める
            if np.asarray(t).dtype.kind not in "iu":
                raise InputError(f"{name} must hold integers, got dtype {np.asarray(t).dtype}")
            t = torch.as_tensor(np.asarray(t))
        if t.ndim != 1 or t.numel() < 1:
            raise InputError(f"{name} must have shape (N,) with N >= 1, got shape {tuple(t.shape)}")
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise InputError(f"{name} must hold integers, got dtype {t.dtype}")
        low = 0 if allow_zero else 1
        if int(t.min()) < low or int(t.max()) > self.T:
            raise InputError(f"{name} must lie in [{low}, T] = [{low}, {self.T}], "
                             f"got min {int(t.min())}, max {int(t.max())}")
        return t.to(torch.int64)

    def alpha_bar(self, t) -> torch.Tensor:
        r"""$\bar{\alpha}_t$ (t は形 (N,)、$t = 0$ なら 1)。形 (N,) の float64。"""
        return self.alpha_bars_with_zero[self.check_t(t, allow_zero=True)]

    def beta(self, t) -> torch.Tensor:
        r"""$\beta_t$ (t は形 (N,)、1 以上)。形 (N,) の float64。"""
        return self.betas[self.check_t(t) - 1]

    def posterior_variance(self, t) -> torch.Tensor:
        r"""$\tilde{\beta}_t = \frac{1 - \bar{\alpha}_{t-1}}{1 - \bar{\alpha}_t} \beta_t$
        (Ho et al. 2020, 式 (7))。形 (N,)。"""
        t = self.check_t(t)
        return (1 - self.alpha_bar(t - 1)) / (1 - self.alpha_bar(t)) * self.beta(t)

    def sigma(self, t) -> torch.Tensor:
        r"""NCSN の座標でのノイズの大きさ $\sigma_t = \sqrt{(1 - \bar{\alpha}_t) / \bar{\alpha}_t}$。形 (N,)。

        $x_t / \sqrt{\bar{\alpha}_t} = x_0 + \sigma_t \varepsilon$ なので、$x_t/\sqrt{\bar{\alpha}_t}$ は
        第 2 章の $p_\sigma$ ($\sigma = \sigma_t$) に従う。
        """
        a = self.alpha_bar(t)
        return torch.sqrt((1 - a) / a)

    def __repr__(self) -> str:
        return (f"NoiseSchedule(T={self.T}, beta_1={self.betas[0].item():.3g}, "
                f"beta_T={self.betas[-1].item():.3g}, "
                f"alpha_bar_T={self.alpha_bars_with_zero[-1].item():.3g})")


def broadcast_to(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """点ごとの値 (N,) を x (N, …) の形に掛けられるよう (N, 1, …, 1) にし、x の dtype にする。"""
    if not isinstance(x, torch.Tensor) or x.ndim < 1:
        raise InputError(f"x must be a torch.Tensor of shape (N, ...), got {type(x).__name__}")
    values = as_float_tensor(values, name="values")
    if values.shape != x.shape[:1]:
        raise InputError(f"values must have shape ({x.shape[0]},) to match x, got {tuple(values.shape)}")
    return values.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))


def uniform_timesteps(n: int, T: int, generator: torch.Generator) -> torch.Tensor:
    """学習用に $t \\sim \\mathrm{Uniform}\\{1, \\dots, T\\}$ を n 個引く。形 (n,) の int64。"""
    n = check_count(n, name="n")
    T = check_count(T, name="T")
    return torch.randint(1, T + 1, (n,), generator=make_generator(generator, name="generator"))


def likelihood_timesteps(n: int, schedule: NoiseSchedule, generator: torch.Generator) -> torch.Tensor:
    r"""学習用に $t$ を $p(t) \propto \beta_t / (1 - \bar{\alpha}_t)$ で n 個引く。形 (n,) の int64。

    連続時間の尤度の重み $\lambda(t) = g(t)^2$ (Song et al. 2021b) を ε の損失に直すと
    $\beta(t) / (1 - \bar{\alpha}(t))$ 倍になる。その重みで $t$ を引けば、重みのない ε の損失の勾配が
    重み付きの損失の勾配の不偏推定になる (重点サンプリング)。$t = 1$ の重みは 1、$t = T$ は約 $\beta_T$。
    """
    n = check_count(n, name="n")
    check_instance(schedule, NoiseSchedule, name="schedule")
    t = torch.arange(1, schedule.T + 1)
    weights = schedule.beta(t) / (1 - schedule.alpha_bar(t))
    generator = make_generator(generator, name="generator")
    return torch.multinomial(weights, n, replacement=True, generator=generator) + 1

