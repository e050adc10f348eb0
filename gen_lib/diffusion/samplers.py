r"""拡散モデルのサンプラー: DDPM の祖先サンプリング、DDIM、逆向き SDE のオイラー・丸山法と予測子・修正子法。

どれも「ノイズから始めて、ネットワークの出力で少しずつ戻す」ループで、1 ステップの式は
``ddpm.ddpm_step``、``ddim.ddim_step``、``sde.SDE.reverse_drift`` に書いてある。確率フロー ODE と
フローマッチングの生成は ``ode.euler`` / ``ode.heun`` で解く。

- ``model(x, t)``: 離散時刻 $t \in \{1, \dots, T\}$ (形 (N,) の整数) でのネットワークの出力 (ε など)
- ``score(x, t)``: 連続時刻 $t \in [0, 1]$ (形 (N,) の float64) でのスコア $s_\theta(x, t)$

乱数はすべて ``seed`` (int か ``numpy.random.Generator``) から作る。小さなネットワークなので torch は 1 スレッドで動かす。
"""

from __future__ import annotations

# --8<-- [start:imports]
import math
import numbers

import numpy as np
import torch

from gen_lib.core.nn import single_thread
from gen_lib.core.types import DiscreteModel, TimeScore
from gen_lib.core.validation import (InputError, as_batch_tensor, as_matching_batches, check_bool,
                                     check_callable, check_count, check_finite_result, check_instance,
                                     check_real, make_generator, make_rng)
from gen_lib.diffusion.ddim import ddim_step, ddim_timesteps
from gen_lib.diffusion.ddpm import ddpm_step
from gen_lib.diffusion.schedule import NoiseSchedule, broadcast_to
from gen_lib.diffusion.sde import SDE, check_sde, check_time_grid
from gen_lib.score_based.langevin import langevin_step
# --8<-- [end:imports]

__all__ = ["ddpm_sample", "ddim_sample", "forward_paths", "reverse_step", "euler_maruyama",
           "predictor_corrector"]


# --8<-- [start:ddpm_sample]
def ddpm_sample(schedule: NoiseSchedule, model: DiscreteModel, x_T,
                seed=0, *, prediction: str = "epsilon",
                variance: str = "posterior",
                return_path: bool = False) -> torch.Tensor:
    r"""祖先サンプリング: $x_T \sim \mathcal{N}(0, I)$ から
    $t = T, T-1, \dots, 1$ と ``ddpm_step`` を $T$ 回。
    ``return_path`` なら途中もすべて返す (形 (T+1, N, …)、``path[t]`` が $x_t$)。

    ``ddpm_step`` は $x_t$ とネットワークの出力について線形
    ($x_{t-1} = A_t x_t + B_t \hat{f} + \sigma_t z$) なので、
    係数の表 $A_t, B_t, \sigma_t$ を検査つきの ``ddpm_step`` で
    一度だけ作り、ループでは表を引くだけにする。"""
    check_instance(schedule, NoiseSchedule, name="schedule")
    check_callable(model, name="model", signature="(x, t)")
    return_path = check_bool(return_path, name="return_path")
    x = as_batch_tensor(x_T, name="x_T")
    generator = make_generator(seed)
    n = x.shape[0]
    ts = torch.arange(1, schedule.T + 1)  # 表の i 行目は t = i + 1
    one = torch.ones(schedule.T, 1, dtype=x.dtype)
    zero = torch.zeros_like(one)

    def table(x_t, out, z):  # 形 (T,): 1 次元の入力 1 つでステップを評価する
        return ddpm_step(schedule, x_t, ts, out, z, prediction=prediction,
                         variance=variance)[:, 0]

    a, b = table(one, zero, zero), table(zero, one, zero)
    sigma = table(zero, zero, one)
    path = [x]
    with torch.no_grad(), single_thread():
        for t in range(schedule.T, 0, -1):
            out = model(x, torch.full((n,), t))
            if out.shape != x.shape:
                raise InputError(f"model(x, t) must return x's shape {tuple(x.shape)}, "
                                 f"got {tuple(out.shape)}")
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
            x = a[t - 1] * x + b[t - 1] * out + sigma[t - 1] * noise
            if return_path:
                path.append(x)
    if not torch.isfinite(x).all():
        raise InputError("ddpm_sample produced non-finite values: check that "
                         "model(x, t) returns finite values of x's shape")
    return torch.stack(path[::-1]) if return_path else x
# --8<-- [end:ddpm_sample]


# --8<-- [start:ddim_sample]
def ddim_sample(schedule: NoiseSchedule, model: DiscreteModel, x_T,
                n_steps: int, seed=0, *, eta: float = 0.0,
                spacing: str = "leading", steps_offset: int = 0,
                prediction: str = "epsilon") -> torch.Tensor:
    r"""DDIM: 部分列 $\tau_S > \dots > \tau_1$ をたどり、最後は
    $\tau_0 = 0$ ($\bar{\alpha}_0 = 1$) へ。$\eta = 0$ なら乱数を使わない。"""
    check_instance(schedule, NoiseSchedule, name="schedule")
    check_callable(model, name="model", signature="(x, t)")
    x = as_batch_tensor(x_T, name="x_T")
    eta = check_real(eta, name="eta")
    taus = ddim_timesteps(schedule.T, n_steps, spacing, steps_offset)
    generator = make_generator(seed)
    n = x.shape[0]
    with torch.no_grad(), single_thread():
        for t, s in zip(taus, [*taus[1:], 0]):
            tt, ss = torch.full((n,), int(t)), torch.full((n,), int(s))
            noise = None
            if eta > 0:
                noise = torch.randn(x.shape, generator=generator,
                                    dtype=x.dtype)
            x = ddim_step(schedule, x, tt, ss, model(x, tt), eta=eta,
                          noise=noise, prediction=prediction)
    return x
# --8<-- [end:ddim_sample]


# --8<-- [start:forward_paths]
def forward_paths(sde: SDE, x_0, n_steps: int, seed=0) -> torch.Tensor:
    r"""前向きの SDE $dx = f\,dt + g\,dw$ をオイラー・丸山法で
    $t = 0$ から 1 まで ($h = 1/n$):
    $x \leftarrow x + h f(x, t) + g(t) \sqrt{h}\, z$。

    戻り値は全時刻の点 (形 (n_steps + 1, N, …)、先頭は $x_0$)。
    """
    sde = check_sde(sde)
    x = as_batch_tensor(x_0, name="x_0")
    ts = check_time_grid(0.0, 1.0, n_steps)
    generator = make_generator(seed)
    n, path = x.shape[0], [x]
    with torch.no_grad(), single_thread():
        for t, t_next in zip(ts[:-1], ts[1:]):
            tt, h = t.expand(n), (t_next - t).item()
            z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
            g = broadcast_to(sde.diffusion(tt), x)
            x = x + h * sde.drift(x, tt) + g * math.sqrt(h) * z
            path.append(x)
    return torch.stack(path)
# --8<-- [end:forward_paths]


# --8<-- [start:reverse_step]
def reverse_step(sde: SDE, score: TimeScore, x: torch.Tensor,
                 t: torch.Tensor, h: float, noise=None) -> torch.Tensor:
    r"""逆向き SDE のオイラー・丸山法の 1 歩 (時刻の刻み $h < 0$):

    $x \leftarrow x + h\,[f(x, t) - g(t)^2 s(x, t)] + g(t) \sqrt{|h|}\, z$。
    ``noise`` ($z$) が None ならノイズを加えない (最後の 1 歩)。
    """
    sde = check_sde(sde)
    check_callable(score, name="score", signature="(x, t)")
    if check_real(h, name="h") >= 0:
        raise InputError(f"h must be negative (the reverse SDE runs backwards in time), got {h!r}")
    x = as_batch_tensor(x, name="x") if noise is None else as_matching_batches(x=x, noise=noise)[0]
    x = x + h * sde.reverse_drift(x, t, score(x, t))
    if noise is not None:
        x = x + broadcast_to(sde.diffusion(t), x) * math.sqrt(-h) * noise
    return check_finite_result(x, name="x")
# --8<-- [end:reverse_step]


# --8<-- [start:euler_maruyama]
def euler_maruyama(sde: SDE, score: TimeScore, x_1, n_steps: int,
                   seed=0, *, t_end: float = 1e-3,
                   return_path: bool = False) -> torch.Tensor:
    r"""逆向き SDE を ``reverse_step`` で $t = 1$ から $t_{\mathrm{end}}$ まで
    n_steps 歩で解く。最後の 1 歩はノイズを加えない。

    ``return_path`` なら全時刻の点 (形 (n_steps + 1, N, …)) を返す。
    """
    sde = check_sde(sde)
    check_callable(score, name="score", signature="(x, t)")
    return_path = check_bool(return_path, name="return_path")
    x = as_batch_tensor(x_1, name="x_1")
    ts = check_time_grid(1.0, t_end, n_steps)
    generator = make_generator(seed)
    n, path = x.shape[0], [x]
    with torch.no_grad(), single_thread():
        for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
            noise = None
            if i < n_steps - 1:
                noise = torch.randn(x.shape, generator=generator,
                                    dtype=x.dtype)
            h = (t_next - t).item()
            x = reverse_step(sde, score, x, t.expand(n), h, noise)
            path.append(x)
    return torch.stack(path) if return_path else x
# --8<-- [end:euler_maruyama]


# --8<-- [start:predictor_corrector]
def predictor_corrector(sde: SDE, score: TimeScore, x_1, n_steps: int,
                        seed=0, *, n_corrector: int = 1,
                        snr: float = 0.16,
                        t_end: float = 1e-3) -> torch.Tensor:
    r"""予測子・修正子法 (Song et al. 2021, アルゴリズム 1, 4, 5)。各時刻で

    1. 修正子: 第 2 章のランジュバン法の 1 歩 ``langevin_step``
       ($x + \tfrac{\tau}{2} s + \sqrt{\tau} z$) を $s(\cdot, t)$ で
       ``n_corrector`` 回 (その時刻の $p_t$ に近づける)。ステップ幅は
       スコアの項とノイズの項の大きさの比が snr になるよう
       $\tau = 4\,(\mathrm{snr}\, \|z\| / \|s\|)^2$
       ($\|z\| \approx \sqrt{D}$、$\|s\|$ は点の平均) とする。
    2. 予測子: 逆向き SDE のオイラー・丸山法の 1 歩 ``reverse_step``。
    """
    sde = check_sde(sde)
    check_callable(score, name="score", signature="(x, t)")
    x = as_batch_tensor(x_1, name="x_1")
    ts = check_time_grid(1.0, t_end, n_steps)
    n_corrector = check_count(n_corrector, name="n_corrector", minimum=0)
    if (isinstance(snr, bool) or not isinstance(snr, numbers.Real)
            or not 0 < snr < math.inf):
        raise InputError(f"snr must be a positive finite number, "
                         f"got {snr!r}")
    rng = make_rng(seed)
    generator = make_generator(rng)
    n, shape = x.shape[0], x.shape
    with torch.no_grad(), single_thread():
        for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:])):
            tt = t.expand(n)

            def score_np(points: np.ndarray) -> np.ndarray:  # (N, D)
                x_t = torch.from_numpy(points).reshape(shape)
                return score(x_t, tt).reshape(n, -1).numpy()

            for k in range(n_corrector):
                x_flat = x.reshape(n, -1).numpy()  # 第 2 章は numpy の (N, D)
                s_norm = np.linalg.norm(score_np(x_flat), axis=1).mean()
                z_norm = math.sqrt(x_flat.shape[1])  # ‖z‖ ≈ √D
                step_size = 4 * (snr * z_norm / max(s_norm, 1e-12)) ** 2
                x_flat = langevin_step(score_np, x_flat, step_size, rng,
                                       where=f"t={t.item():.4f}, k={k}")
                x = torch.from_numpy(x_flat).reshape(shape)
            noise = None
            if i < n_steps - 1:
                noise = torch.randn(shape, generator=generator,
                                    dtype=x.dtype)
            x = reverse_step(sde, score, x, tt, (t_next - t).item(), noise)
    return x
# --8<-- [end:predictor_corrector]
