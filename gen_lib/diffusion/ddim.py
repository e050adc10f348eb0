r"""DDIM (Song, Meng & Ermon 2021): 学習済みの DDPM と同じネットワークで、少ないステップのサンプリング。

時刻の部分列 $\tau_S > \tau_{S-1} > \dots > \tau_1$ ($\subset \{1, \dots, T\}$) をたどり、$\tau_0 = 0$
($\bar{\alpha}_0 = 1$) で終える。1 ステップ (論文の式 (12)、$t = \tau_i$, $s = \tau_{i-1}$):

$$
x_s = \sqrt{\bar{\alpha}_s}\, \hat{x}_0
  + \sqrt{1 - \bar{\alpha}_s - \sigma_t^2}\; \hat{\varepsilon} + \sigma_t z, \qquad
\sigma_t = \eta \sqrt{\frac{1 - \bar{\alpha}_s}{1 - \bar{\alpha}_t}}
  \sqrt{1 - \frac{\bar{\alpha}_t}{\bar{\alpha}_s}}
$$

$\eta = 0$ で決定的 (ノイズを加えない)、$\eta = 1$ で $\sigma_t^2$ は部分列の上の DDPM の事後分散
$\tilde{\beta}$ になる (論文の式 (16))。
"""

from __future__ import annotations

# --8<-- [start:imports]
import math
import numbers

import numpy as np
import torch

from gen_lib.core.validation import InputError, as_batch_tensor, check_count, check_instance, check_same_shape
from gen_lib.diffusion.ddpm import predict_epsilon, predict_x0
from gen_lib.diffusion.schedule import NoiseSchedule, broadcast_to
# --8<-- [end:imports]

__all__ = ["ddim_timesteps", "ddim_sigma", "ddim_step"]

# --8<-- [start:timesteps]
def ddim_timesteps(T: int, n_steps: int, spacing: str = "leading",
                   steps_offset: int = 0) -> np.ndarray:
    r"""$T$ 個の時刻から $S$ = n_steps 個を選んだ部分列
    $\tau_S > \dots > \tau_1$ (論文の時刻 1..T、降順)。

    diffusers の ``timestep_spacing`` と同じ選び方
    (0 始まりの添字 $k = t - 1$ で考える):

    - ``"leading"``: $k = 0, r, 2r, \dots$ ($r = \lfloor T / S \rfloor$)
      に ``steps_offset`` を足す
    - ``"trailing"``: $k = T - 1, T - 1 - T/S, \dots$ (丸め)。
      最後の時刻 $T$ から始まる
    - ``"linspace"``: $k$ を 0 から $T - 1$ まで等間隔 (丸め)
    """
    T = check_count(T, name="T")
    n_steps = check_count(n_steps, name="n_steps")
    if n_steps > T:
        raise InputError(f"n_steps must be at most T = {T}, got {n_steps}")
    if spacing not in ("leading", "trailing", "linspace"):
        raise InputError(f"spacing must be 'leading', 'trailing' or "
                         f"'linspace', got {spacing!r}")
    steps_offset = check_count(steps_offset, name="steps_offset",
                               minimum=0)
    if spacing == "leading":
        k = np.arange(n_steps) * (T // n_steps) + steps_offset
    elif spacing == "trailing":
        k = np.round(np.arange(T, 0, -T / n_steps)).astype(np.int64)
        k = k[::-1] - 1
    else:
        k = np.linspace(0, T - 1, n_steps).round().astype(np.int64)
    if k.max() > T - 1 or len(np.unique(k)) != n_steps:
        raise InputError(f"steps_offset={steps_offset} pushes the "
                         f"timesteps past T = {T} (n_steps={n_steps})")
    return (k + 1)[::-1].astype(np.int64)  # 論文の時刻 t = k + 1、降順
# --8<-- [end:timesteps]


# --8<-- [start:sigma]
def ddim_sigma(schedule: NoiseSchedule, t, s, eta: float) -> torch.Tensor:
    r"""$x_t \to x_s$ のノイズの大きさ (論文の式 (16)):

    $\sigma_t(\eta) = \eta \sqrt{(1 - \bar{\alpha}_s) / (1 - \bar{\alpha}_t)}
    \sqrt{1 - \bar{\alpha}_t / \bar{\alpha}_s}$。

    ``t``, ``s`` は形 (N,) の整数テンソル ($0 \le s < t$)。形 (N,) の float64。
    """
    if (isinstance(eta, bool) or not isinstance(eta, numbers.Real)
            or not math.isfinite(eta) or eta < 0):
        raise InputError(f"eta must be a finite number >= 0, got {eta!r}")
    check_instance(schedule, NoiseSchedule, name="schedule")
    t = schedule.check_t(t)
    s = schedule.check_t(s, name="s", allow_zero=True)
    if s.shape != t.shape or bool((s >= t).any()):
        raise InputError(f"s must have the shape of t and satisfy s < t, "
                         f"got s={s.tolist()[:5]}, t={t.tolist()[:5]}")
    a_t, a_s = schedule.alpha_bar(t), schedule.alpha_bar(s)
    return eta * torch.sqrt((1 - a_s) / (1 - a_t) * (1 - a_t / a_s))
# --8<-- [end:sigma]


# --8<-- [start:step]
def ddim_step(schedule: NoiseSchedule, x_t, t, s, model_output, *,
              eta: float = 0.0, noise=None,
              prediction: str = "epsilon") -> torch.Tensor:
    r"""DDIM の 1 ステップ $x_t \to x_s$ ($s < t$、$s = 0$ なら
    $\bar{\alpha}_0 = 1$)。論文の式 (12)。

    1. 出力から $\hat{x}_0$ と $\hat{\varepsilon}$ を作る
       (``predict_x0``, ``predict_epsilon``)。
    2. $\sigma_t$ を $\eta$ から決める (``ddim_sigma``)。
    3. $x_s = \sqrt{\bar{\alpha}_s}\hat{x}_0
       + \sqrt{1 - \bar{\alpha}_s - \sigma_t^2}\,\hat{\varepsilon}
       + \sigma_t z$。

    ``t``, ``s`` は形 (N,) の整数テンソル。$\eta > 0$ なら ``noise``
    ($z$、x_t と同じ形) が要る。
    """
    x0_hat = predict_x0(schedule, x_t, t, model_output, prediction)
    eps_hat = predict_epsilon(schedule, x_t, t, model_output, prediction)
    sigma = ddim_sigma(schedule, t, s, eta)  # (N,)
    a_s = schedule.alpha_bar(s)
    direction = (1 - a_s - sigma**2).clamp(min=0).sqrt()  # x_t を指す向き
    out = (broadcast_to(a_s.sqrt(), x0_hat) * x0_hat
           + broadcast_to(direction, x0_hat) * eps_hat)
    if eta > 0:
        if noise is None:
            raise InputError("noise must be given when eta > 0")
        noise = as_batch_tensor(noise, name="noise")
        check_same_shape(x0_hat, noise, "x_t and noise")
        out = out + broadcast_to(sigma, x0_hat) * noise
    return out
# --8<-- [end:step]
