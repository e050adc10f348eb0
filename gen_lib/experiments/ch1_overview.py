r"""第 1 章「拡散モデルの概要」の実験: 前向き過程でデータがノイズに変わっていく様子 (学習なし) と、
第 3 章で学習した DDPM がノイズからデータを作る生成過程。

データ分布がガウス混合なら、$x_t$ の周辺分布
$q(x_t) = \sum_k \pi_k \mathcal{N}(\sqrt{\bar\alpha_t}\,\mu_k, \bar\alpha_t \Sigma_k + (1 - \bar\alpha_t) I)$
は ``mixture.noised(√ᾱ_t, √(1 - ᾱ_t))`` で厳密に分かる。サンプルは閉じた形 (一度に) とマルコフ連鎖の
2 通りで作る。
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from gen_lib.core.experiment import experiment
from gen_lib.core.grid import plane_points
from gen_lib.core.validation import make_generator
from gen_lib.diffusion.forward_noising import (alpha_bar_at, alpha_bar_from_betas, cosine_beta_schedule,
                                               linear_beta_schedule, noise_data, run_forward_chain)
from gen_lib.diffusion.samplers import ddpm_sample
from gen_lib.distributions.gaussian_mixture import isotropic_mixture, ring_of_gaussians
from gen_lib.experiments import ch3_models

__all__ = ["ForwardSettings", "forward_process", "ScheduleSettings", "schedules", "LatentSettings",
           "latent_marginals", "GenerationSettings", "generation_process"]


@dataclass(frozen=True)
class ForwardSettings:
    """円周上の 8 個のモードのデータに線形スケジュールでノイズを加える。"""

    n: int = 400  # N, データ x_0 の数
    T: int = 1000  # T, 時刻の数 (線形スケジュール β_1 = 10^{-4} … β_T = 0.02)
    shown_times: tuple[int, ...] = (0, 50, 100, 200, 400, 1000)  # 図に示す時刻 t
    lim: float = 3.5  # log q(x_t) を計算する範囲 [-lim, lim]^2
    n_grid: int = 91  # その格子の 1 軸の点数
    seed: int = 0  # x_0 (seed)、マルコフ連鎖 (seed + 1)、閉じた形のノイズ ε (seed + 2) のシード


@experiment(ForwardSettings)
def forward_process(settings: ForwardSettings) -> dict:
    r"""時刻 $t$ (``times``) ごとの $\bar\alpha_t$ (``alpha_bar``)、閉じた形のサンプル ``closed_form`` と
    連鎖のサンプル ``chain`` (どちらも (len(times), N, 2))、``axis`` と厳密な $\log q(x_t)$ ``log_q``
    ((len(times), n_grid, n_grid)、行が $x_2$)。"""
    data = ring_of_gaussians()
    x0 = data.sample(settings.n, seed=settings.seed)
    betas = linear_beta_schedule(settings.T)
    alpha_bar = alpha_bar_from_betas(betas)
    path = run_forward_chain(x0, betas, seed=settings.seed + 1, return_path=True)  # (T+1, N, 2)
    axis = np.linspace(-settings.lim, settings.lim, settings.n_grid)
    times = list(settings.shown_times)
    alphas = [alpha_bar_at(alpha_bar, t) for t in times]
    return {"times": np.array(times), "alpha_bar": np.array(alphas),
            "closed_form": np.stack([noise_data(x0, a, seed=settings.seed + 2) for a in alphas]),
            "chain": path[times], "axis": axis,
            "log_q": np.stack([data.noised(math.sqrt(a), math.sqrt(1.0 - a)).log_prob(plane_points(axis))
                               .reshape(axis.size, axis.size) for a in alphas])}  # 厳密な log q(x_t)


@dataclass(frozen=True)
class ScheduleSettings:
    """線形スケジュール (Ho et al. 2020) とコサインスケジュール (Nichol & Dhariwal 2021)。"""

    T: int = 1000  # T, 時刻の数


@experiment(ScheduleSettings)
def schedules(settings: ScheduleSettings) -> dict:
    r"""``t`` (1, …, T) と、スケジュールごと ({"linear", "cosine"}) の ``betas`` ($\beta_t$) と
    ``alpha_bar`` ($\bar\alpha_t$)。"""
    out = {"t": np.arange(1, settings.T + 1)}
    for name, schedule in [("linear", linear_beta_schedule), ("cosine", cosine_beta_schedule)]:
        betas = schedule(settings.T)
        out[name] = {"betas": betas, "alpha_bar": alpha_bar_from_betas(betas)}
    return out


@dataclass(frozen=True)
class LatentSettings:
    """3 つのモードを持つ 1 次元のデータ分布から出発した $q(x_t)$ の時間変化と、サンプルの経路。"""

    data_means: tuple[float, ...] = (-2.0, 0.5, 2.5)  # μ_k, データ分布のモードの位置
    data_std: float = 0.3  # モードの標準偏差
    data_weights: tuple[float, ...] = (0.3, 0.5, 0.2)  # π_k, モードの重み
    T: int = 1000  # T, 時刻の数 (線形スケジュール)
    time_stride: int = 5  # 密度を計算する時刻の間隔
    x_limit: float = 4.0  # 密度を計算する範囲 [-x_limit, x_limit]
    n_grid: int = 241  # その格子点の数
    n_candidates: int = 50  # 各モードから 1 点ずつ x_0 を選ぶために引く点の数
    seed: int = 0  # x_0 (seed) と連鎖 (seed + 1) のシード


@experiment(LatentSettings)
def latent_marginals(settings: LatentSettings) -> dict:
    r"""``times``、``xs``、密度 ``density`` ($q(x_t)$ (len(xs), len(times)))、各モードから 1 点ずつ出発した
    経路 ``path`` ((T+1, K))。"""
    data = isotropic_mixture([[m] for m in settings.data_means], std=settings.data_std,
                             weights=list(settings.data_weights))
    betas = linear_beta_schedule(settings.T)
    alpha_bar = alpha_bar_from_betas(betas)
    times = np.arange(0, settings.T + 1, settings.time_stride)
    xs = np.linspace(-settings.x_limit, settings.x_limit, settings.n_grid)
    density = []  # q(x_t) の列を時刻ごとに並べる: (x, t)
    for t in times:
        a = alpha_bar_at(alpha_bar, int(t))
        density.append(np.exp(data.noised(math.sqrt(a), math.sqrt(1.0 - a)).log_prob(xs[:, None])))
    x0, labels = data.sample(settings.n_candidates, seed=settings.seed, return_labels=True)
    x0 = x0[[np.flatnonzero(labels == k)[0] for k in range(len(settings.data_means))]]  # 各モードから 1 点ずつ
    path = run_forward_chain(x0, betas, seed=settings.seed + 1, return_path=True)  # (T+1, K, 1)
    return {"times": times, "xs": xs, "density": np.stack(density, axis=1), "path": path[:, :, 0]}


@dataclass(frozen=True)
class GenerationSettings:
    """第 3 章で学習した DDPM (``ch3_models``) で、ノイズから逆向きに生成する過程を記録する。"""

    n: int = 400  # N, 生成する点の数
    shown_times: tuple[int, ...] = ForwardSettings.shown_times  # 記録する時刻 t (前向き過程の図と同じ)
    seed: int = 0  # x_T (seed) と各ステップのノイズ z (seed + 1) のシード


@experiment(GenerationSettings)
def generation_process(settings: GenerationSettings) -> dict:
    r"""祖先サンプリング (``ddpm_sample``) の途中の $x_t$ を ``shown_times`` で記録する。
    戻り値は ``times`` と ``samples`` ((len(times), N, 2))。"""
    schedule = ch3_models.schedule()
    model, _ = ch3_models.trained_ddpm()
    x_T = torch.randn((settings.n, 2), generator=make_generator(settings.seed), dtype=torch.float64)
    path = ddpm_sample(schedule, model, x_T, seed=settings.seed + 1, return_path=True).numpy()
    times = list(settings.shown_times)
    return {"times": np.array(times), "samples": path[times]}
