r"""第 3 章「フローマッチング」の実験: ODE のステップ数とサンプルの質 (フローマッチングのオイラー法・
ホイン法と DDIM)、確率フロー ODE とフローマッチングの軌跡のまっすぐさ。

学習済みのモデルは ``ch3_models`` の 2 つ (同じネットワーク・データ・予算)。軌跡は経路そのものの形を
見るため、厳密な速度場 (データがガウス混合なので計算できる) で描く。
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gen_lib.core.experiment import experiment
from gen_lib.core.nn import single_thread
from gen_lib.core.validation import InputError, as_array, as_float_tensor
from gen_lib.diffusion.flow_matching import exact_velocity
from gen_lib.diffusion.ode import euler, heun, probability_flow
from gen_lib.diffusion.samplers import ddim_sample
from gen_lib.diffusion.sde import VPSDE, exact_score
from gen_lib.experiments.ch3_models import data_distribution, schedule, trained_ddpm, trained_flow
from gen_lib.metrics.two_sample import energy_distance, noise_floor
from gen_lib.metrics.wasserstein import wasserstein2

__all__ = ["QualitySettings", "sample_quality", "TrajectorySettings", "record_path", "path_measures",
           "trajectories"]


@dataclass(frozen=True)
class QualitySettings:
    """ODE のステップ数を変えてサンプルの質を測る設定。"""

    n_samples: int = 500  # N, 1 つのサンプラーのサンプル数 (比べる厳密なサンプルも N 点)
    steps: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)  # ODE のステップ数 S
    n_floor_pairs: int = 5  # ノイズの床を測る厳密なサンプルの組の数
    far: float = 4.0  # 原点からこれより遠いサンプルを「外れた点」と数える (モードは半径 2)
    seed: int = 0  # x_1 ~ N(0, I) と厳密なサンプルのシード


def _distances(x: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    return energy_distance(x, reference), wasserstein2(x, reference)


@experiment(QualitySettings)
def sample_quality(settings: QualitySettings) -> dict:
    r"""同じ $x_1 \sim \mathcal{N}(0, I)$ から、3 つの ODE サンプラーで S ステップ。

    - ``flow_euler``, ``flow_heun``: フローマッチングの $v_\theta$ を $t = 1$ から $0$ へ
      (ホイン法は 1 ステップに $v_\theta$ を 2 回呼ぶ)
    - ``ddim``: DDPM の $\varepsilon_\theta$ で DDIM ($\eta = 0$、間隔 trailing)

    戻り値: ``steps``、サンプラーごとの ``{"energy", "w2", "n_far", "samples"}`` (energy・w2・
    外れた点の数 n_far は (S,)、
    samples は最後のステップ数のもの)、厳密なサンプル ``reference``、ノイズの床
    ``floor_energy``, ``floor_w2`` (n_floor_pairs 組)。
    """
    p = data_distribution()
    flow, _ = trained_flow()
    ddpm, _ = trained_ddpm()
    sched = schedule()
    rng = np.random.default_rng(settings.seed)
    x_1 = torch.as_tensor(rng.standard_normal((settings.n_samples, 2)))
    reference = p.sample(settings.n_samples, seed=rng)
    samplers = {
        "flow_euler": lambda s: euler(flow, x_1, torch.linspace(1, 0, s + 1, dtype=torch.float64)),
        "flow_heun": lambda s: heun(flow, x_1, torch.linspace(1, 0, s + 1, dtype=torch.float64)),
        "ddim": lambda s: ddim_sample(sched, ddpm, x_1, s, spacing="trailing"),
    }
    out = {"n_samples": settings.n_samples, "steps": np.array(settings.steps),
           "reference": reference}
    with single_thread():
        for name, run in samplers.items():
            samples = [run(s).numpy() for s in settings.steps]
            energy, w2 = zip(*(_distances(x, reference) for x in samples))
            far = [int((np.linalg.norm(x, axis=1) > settings.far).sum()) for x in samples]
            out[name] = {"energy": np.array(energy), "w2": np.array(w2), "n_far": np.array(far),
                         "samples": samples[-1]}
    floor = noise_floor(p.sample, settings.n_samples, n_pairs=settings.n_floor_pairs,
                        seed=settings.seed + 1, distance=lambda x, y: np.array(_distances(x, y)))
    out["floor_energy"], out["floor_w2"] = floor[:, 0], floor[:, 1]
    return out


@dataclass(frozen=True)
class TrajectorySettings:
    """厳密な速度場で、確率フロー ODE とフローマッチングの ODE の軌跡を比べる設定。"""

    n_paths: int = 200  # 軌跡の本数 (まっすぐさの統計に使う。図に描くのは一部)
    n_steps: int = 100  # ホイン法のステップ数 (軌跡を記録する時刻の数 - 1)
    t_top: float = 0.999  # フローマッチングを始める時刻 (t = 1 では速度の式が 0 で割る)
    seed: int = 3  # 出発点 x_1 ~ N(0, I) のシード


def record_path(v, x: torch.Tensor, ts: torch.Tensor) -> np.ndarray:
    """ホイン法で ts の各時刻の状態を記録する。形 (len(ts), N, d)。"""
    ts = as_float_tensor(ts, name="ts", ndim=1)
    if ts.numel() < 2:
        raise InputError(f"ts must hold at least 2 times, got shape {tuple(ts.shape)}")
    states = [x]
    for t, t_next in zip(ts[:-1], ts[1:]):
        states.append(heun(v, states[-1], torch.stack([t, t_next])))
    return torch.stack(states).numpy()


def path_measures(path: np.ndarray, ts: np.ndarray) -> dict:
    r"""軌跡のまっすぐさの 2 つの尺度 (どちらも点ごと、形 (N,))。

    - ``length_ratio``: 長さ / 始点と終点の距離 (道の形だけを見る。直線なら 1)
    - ``deviation``: $\int \|\dot{x}(t) - \bar{v}\|^2 dt$ (Liu et al. 2023 の straightness)。
      $\bar{v}$ は始点から終点への一定の速度。ODE の時刻で等速の直線なら 0 で、オイラー法の
      誤差に効くのはこちら

    要約として ``median_length_ratio`` と ``mean_deviation`` も返す。
    """
    path, ts = as_array(path, name="path", ndim=3), as_array(ts, name="ts", ndim=1)
    if ts.size < 2 or path.shape[0] != ts.size or ts[-1] == ts[0]:
        raise InputError(f"path must have shape (len(ts), N, d) and ts at least 2 distinct ends, "
                         f"got path {path.shape} and ts {ts.shape}")
    steps = np.diff(path, axis=0)  # (K, N, d)
    dt = np.diff(ts)[:, None, None]
    mean_velocity = (path[-1] - path[0]) / (ts[-1] - ts[0])
    length = np.linalg.norm(steps, axis=-1).sum(axis=0)
    ratio = length / np.linalg.norm(path[-1] - path[0], axis=-1)
    deviation = (np.abs(dt) * (steps / dt - mean_velocity) ** 2).sum(axis=(0, 2))
    return {"length_ratio": ratio, "deviation": deviation,
            "median_length_ratio": np.median(ratio), "mean_deviation": deviation.mean()}


@experiment(TrajectorySettings)
def trajectories(settings: TrajectorySettings) -> dict:
    r"""同じ出発点 $x_1$ からの 2 つの ODE の軌跡 (厳密な速度場、ホイン法)。

    - ``probability_flow``: VP SDE の確率フロー ODE ($t = 1 \to 0$)
    - ``flow_matching``: 直線の経路の周辺の速度場 $u_t$ ($t$ = t_top $\to 0$、出発点に
      t_top を掛けて $t$ = t_top の周辺分布にほぼ合わせる)

    戻り値: それぞれの ``path`` (n_steps + 1, N, 2)、時刻 ``ts`` と ``path_measures`` の尺度。
    """
    p, sde = data_distribution(), VPSDE()
    generator = torch.Generator().manual_seed(settings.seed)
    x_1 = torch.randn(settings.n_paths, 2, generator=generator, dtype=torch.float64)
    grid = torch.linspace(0, 1, settings.n_steps + 1, dtype=torch.float64).flip(0)
    times = {"probability_flow": grid, "flow_matching": settings.t_top * grid}
    with single_thread():
        paths = {"probability_flow": record_path(probability_flow(sde, exact_score(p, sde)),
                                                 x_1, grid),
                 "flow_matching": record_path(exact_velocity(p), settings.t_top * x_1,
                                              times["flow_matching"])}
    return {name: {"path": path, "ts": times[name].numpy(),
                   **path_measures(path, times[name].numpy())}
            for name, path in paths.items()}
