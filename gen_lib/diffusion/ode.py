r"""常微分方程式 $\frac{dx}{dt} = v(x, t)$ のソルバー: 書き下したオイラー法・ホイン法と、参照用の適応ソルバー。

確率フロー ODE (``sde.SDE.reverse_drift(..., probability_flow=True)``) とフローマッチングの速度場が同じ
ソルバーを使う。$x$ は形 ``(N, …)``、$v(x, t)$ の $t$ は形 ``(N,)`` の float64 テンソル。
時刻の列 ``ts`` は増えても減ってもよい (生成は $t = 1$ から $0$ へ向かって解く)。
オイラー法とホイン法はサンプリング用なので勾配を追わず、torch を 1 スレッドで動かす。
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from gen_lib.core.nn import single_thread
from gen_lib.core.types import Velocity



def _check_grid(ts) -> torch.Tensor:
    ts = torch.as_tensor(ts, dtype=torch.float64)
    if ts.ndim != 1 or ts.numel() < 2 or not torch.isfinite(ts).all():
        raise ValueError(f"ts must be a finite 1-D grid with at least 2 times, got shape {tuple(ts.shape)}")
    steps = torch.diff(ts)
    if not (bool((steps > 0).all()) or bool((steps < 0).all())):
        raise ValueError("ts must be strictly increasing or strictly decreasing")
    return ts


def _check_state(x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor of shape (N, ...), got {type(x).__name__} "
                         f"{tuple(getattr(x, 'shape', ()))}")
    if not torch.isfinite(x).all():
        raise ValueError("x must be finite")
    return x


def _velocity(v: Velocity, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    out = v(x, t.expand(x.shape[0]))
    if out.shape != x.shape or not torch.isfinite(out).all():
        raise ValueError(f"velocity returned shape {tuple(out.shape)} (expected {tuple(x.shape)}) "
                         f"or non-finite values at t = {t.item():.6g}")
    return out


# --8<-- [start:euler_heun]
def euler(v: Velocity, x, ts) -> torch.Tensor:
    r"""オイラー法: $x_{k+1} = x_k + (t_{k+1} - t_k)\, v(x_k, t_k)$ (1 ステップに $v$ を 1 回)。"""
    x, ts = _check_state(x), _check_grid(ts)
    with torch.no_grad(), single_thread():
        for t, t_next in zip(ts[:-1], ts[1:]):
            x = x + (t_next - t) * _velocity(v, x, t)
    return x


def heun(v: Velocity, x, ts) -> torch.Tensor:
    r"""ホイン法 (2 次のルンゲ・クッタ法、1 ステップに $v$ を 2 回):

    $\tilde{x} = x_k + h\, v(x_k, t_k)$, $x_{k+1} = x_k + \tfrac{h}{2}\left(v(x_k, t_k) + v(\tilde{x}, t_{k+1})\right)$。
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


def solve_reference(v: Velocity, x, t_start: float, t_end: float, *, rtol: float = 1e-10,
                    atol: float = 1e-10, extra: Callable | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    r"""参照解: scipy の適応ソルバー (DOP853、8 次) を厳しい許容誤差で使う。

    ``extra(x, t)`` を渡すと、その値 (形 (N,)) の時間積分 $\int_{t_{\mathrm{start}}}^{t_{\mathrm{end}}} \mathrm{extra}\, dt$
    も同時に解いて返す (対数尤度の発散の積分に使う)。計算はすべて float64。
    """
    from scipy.integrate import solve_ivp

    x = _check_state(x).to(torch.float64)
    shape, n = x.shape, x.shape[0]
    size = x.numel()

    def rhs(t, y):  # scipy が呼ぶ右辺: 平らにした状態 y (と発散の積分) の時間微分
        state = torch.from_numpy(y[:size].copy()).reshape(shape)
        tt = torch.tensor(t, dtype=torch.float64)
        dx = _velocity(v, state, tt).detach()
        parts = [dx.reshape(-1).numpy()]
        if extra is not None:
            parts.append(extra(state, tt.expand(n)).detach().numpy())
        return np.concatenate(parts)

    y0 = np.concatenate([x.reshape(-1).numpy()] + ([np.zeros(n)] if extra is not None else []))
    with single_thread():
        solution = solve_ivp(rhs, (float(t_start), float(t_end)), y0, method="DOP853", rtol=rtol, atol=atol)
    if not solution.success:
        raise ValueError(f"the reference ODE solver failed: {solution.message}")
    y = torch.from_numpy(solution.y[:, -1].copy())
    return y[:size].reshape(shape), (y[size:] if extra is not None else None)
