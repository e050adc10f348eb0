r"""常微分方程式 $\frac{dx}{dt} = v(x, t)$ のソルバー: 書き下したオイラー法・ホイン法と、参照用の適応ソルバー。

確率フロー ODE (``probability_flow``) とフローマッチングの速度場が同じソルバーを使う。
$x$ は形 ``(N, …)``、$v(x, t)$ の $t$ は形 ``(N,)`` の float64 テンソル。
時刻の列 ``ts`` は増えても減ってもよい (生成は $t = 1$ から $0$ へ向かって解く)。
オイラー法とホイン法はサンプリング用なので勾配を追わず、torch を 1 スレッドで動かす。
DDIM ($\eta = 0$) は、座標 $(x/\sqrt{\bar\alpha}, \sigma)$ で書いた確率フロー ODE のオイラー法である
(``ddim_ode``)。
"""

from __future__ import annotations

# --8<-- [start:imports]
from typing import Callable

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from gen_lib.core.nn import single_thread
from gen_lib.core.types import DiscreteModel, TimeScore, Velocity
from gen_lib.core.validation import (InputError, as_batch_tensor, as_float_tensor, check_callable,
                                     check_positive, check_real)
from gen_lib.diffusion.schedule import NoiseSchedule, broadcast_to
from gen_lib.diffusion.sde import SDE, check_sde
# --8<-- [end:imports]

__all__ = ["euler", "heun", "solve_reference", "probability_flow", "ddim_ode"]


# --8<-- [start:checks]
def _check_grid(ts) -> torch.Tensor:
    ts = as_float_tensor(ts, name="ts")
    if ts.ndim != 1 or ts.numel() < 2 or not torch.isfinite(ts).all():
        raise InputError(f"ts must be a finite 1-D grid with at least 2 "
                         f"times, got shape {tuple(ts.shape)}")
    steps = torch.diff(ts)
    if not (bool((steps > 0).all()) or bool((steps < 0).all())):
        raise InputError("ts must be strictly increasing or "
                         "strictly decreasing")
    return ts


def _check_state(x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise InputError(f"x must be a floating-point tensor of shape "
                         f"(N, ...), got {type(x).__name__}")
    return as_batch_tensor(x, name="x")


def _velocity(v: Velocity, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    check_callable(v, name="v", signature="(x, t)")
    out = v(x, t.expand(x.shape[0]))
    if out.shape != x.shape or not torch.isfinite(out).all():
        raise InputError(f"velocity returned shape {tuple(out.shape)} "
                         f"(expected {tuple(x.shape)}) or non-finite values "
                         f"at t = {t.item():.6g}")
    return out
# --8<-- [end:checks]


# --8<-- [start:euler_heun]
def euler(v: Velocity, x, ts) -> torch.Tensor:
    r"""オイラー法: $x_{k+1} = x_k + (t_{k+1} - t_k)\, v(x_k, t_k)$。

    1 ステップに $v$ を 1 回呼ぶ。
    """
    x, ts = _check_state(x), _check_grid(ts)
    with torch.no_grad(), single_thread():
        for t, t_next in zip(ts[:-1], ts[1:]):
            x = x + (t_next - t) * _velocity(v, x, t)
    return x


def heun(v: Velocity, x, ts) -> torch.Tensor:
    r"""ホイン法 (2 次のルンゲ・クッタ法、1 ステップに $v$ を 2 回):

    $\tilde{x} = x_k + h\, v(x_k, t_k)$,
    $x_{k+1} = x_k + \tfrac{h}{2}(v(x_k, t_k) + v(\tilde{x}, t_{k+1}))$。
    """
    x, ts = _check_state(x), _check_grid(ts)
    with torch.no_grad(), single_thread():
        for t, t_next in zip(ts[:-1], ts[1:]):
            h = t_next - t
            slope = _velocity(v, x, t)
            x_euler = x + h * slope
            x = x + 0.5 * h * (slope + _velocity(v, x_euler, t_next))
    return x
# --8<-- [end:euler_heun]


# --8<-- [start:reference]
def solve_reference(v: Velocity, x, t_start: float, t_end: float, *,
                    rtol: float = 1e-10, atol: float = 1e-10,
                    extra: Callable | None = None):
    r"""参照解: scipy の適応ソルバー DOP853 (8 次) を厳しい許容誤差で。

    ``extra(x, t)`` (形 (N,)) を渡すと、その時間積分
    $\int_{t_{\mathrm{start}}}^{t_{\mathrm{end}}} \mathrm{extra}\, dt$ も同時に解いて
    返す (対数尤度の発散の積分に使う)。計算はすべて float64。
    戻り値は ($x(t_{\mathrm{end}})$, 積分または None)。
    """
    from scipy.integrate import solve_ivp

    x = _check_state(x).to(torch.float64)
    t_start, t_end = check_real(t_start, name="t_start"), check_real(t_end, name="t_end")
    rtol, atol = check_positive(rtol, name="rtol"), check_positive(atol, name="atol")
    if extra is not None:
        check_callable(extra, name="extra", signature="(x, t)")
    shape, n, size = x.shape, x.shape[0], x.numel()

    def rhs(t, y):  # 平らにした状態 y (と発散の積分) の時間微分
        state = torch.from_numpy(y[:size].copy()).reshape(shape)
        tt = torch.tensor(t, dtype=torch.float64)
        parts = [_velocity(v, state, tt).detach().reshape(-1).numpy()]
        if extra is not None:
            parts.append(extra(state, tt.expand(n)).detach().numpy())
        return np.concatenate(parts)

    y0 = x.reshape(-1).numpy()
    if extra is not None:
        y0 = np.concatenate([y0, np.zeros(n)])
    with single_thread():
        solution = solve_ivp(rhs, (float(t_start), float(t_end)), y0,
                             method="DOP853", rtol=rtol, atol=atol)
    if not solution.success:
        raise InputError(f"the reference ODE solver failed: "
                         f"{solution.message}")
    y = torch.from_numpy(solution.y[:, -1].copy())
    return y[:size].reshape(shape), (y[size:] if extra is not None else None)
# --8<-- [end:reference]


# --8<-- [start:probability_flow]
def probability_flow(sde: SDE, score: TimeScore) -> Velocity:
    r"""確率フロー ODE の速度 $v(x, t) = f(x, t) - \tfrac12 g(t)^2 s(x, t)$。

    Song et al. (2021) の式 (13)。$s$ が厳密なスコアなら、$v$ で運んだ点の
    分布は各時刻で SDE の周辺分布 $p_t$ に等しい。
    """
    sde = check_sde(sde)
    check_callable(score, name="score", signature="(x, t)")

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return sde.reverse_drift(x, t, score(x, t), probability_flow=True)

    return velocity
# --8<-- [end:probability_flow]


# --8<-- [start:ddim_ode]
def ddim_ode(schedule: NoiseSchedule, model: DiscreteModel) -> Velocity:
    r"""DDIM ($\eta = 0$) がオイラー法で解く ODE。

    $\frac{dy}{d\sigma} = \varepsilon_\theta(x, t(\sigma))$。座標は
    $y = x / \sqrt{\bar\alpha}$, $\sigma = \sqrt{(1 - \bar\alpha)/\bar\alpha}$
    (したがって $x = y / \sqrt{1 + \sigma^2}$)。時刻 $t(\sigma)$ は表
    $(\sigma_t, t)_{t = 0}^{T}$ の 3 次スプライン補間 (滑らかなので適応ソルバーが
    速い) で、格子の上では整数の $t$ に一致する。
    返す速度 ``v(y, sigma)`` の 2 番目の引数は $\sigma$ (形 (N,)) である。
    """
    if not isinstance(schedule, NoiseSchedule):
        raise InputError(f"schedule must be a NoiseSchedule, "
                         f"got {type(schedule).__name__}")
    check_callable(model, name="model", signature="(x, t)")
    a = schedule.alpha_bars_with_zero.numpy()  # ᾱ_0 = 1, …, ᾱ_T
    time_of = CubicSpline(np.sqrt((1 - a) / a), np.arange(schedule.T + 1.0))

    def velocity(y: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        t = torch.from_numpy(time_of(sigma.numpy()))  # t(σ)、形 (N,)
        x = y / broadcast_to(torch.sqrt(1 + sigma**2), y)
        return model(x, t)

    return velocity
# --8<-- [end:ddim_ode]
