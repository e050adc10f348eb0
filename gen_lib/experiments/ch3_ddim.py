r"""第 3 章「DDIM」の実験: 学習した DDPM (``ch3_models``) を DDIM でステップ数を変えてサンプリングし、
厳密なサンプルとの 2 サンプル距離 (エネルギー距離と 2-ワッサースタイン距離) をノイズの床と並べる。

どの実験も、同じ $x_T$ (シード ``seed``) から出発し、同じ厳密なサンプル (シード ``seed + 2``) と比べる。
ノイズの床 (``noise_floors``) は「確率微分方程式による見方」の節も使う。
"""

from __future__ import annotations

# --8<-- [start:imports]
from dataclasses import dataclass

import numpy as np
import torch

from gen_lib.core.experiment import experiment
from gen_lib.core.nn import single_thread
from gen_lib.core.validation import as_points, check_positive
from gen_lib.diffusion.ddpm import exact_epsilon
from gen_lib.diffusion.samplers import ddim_sample
from gen_lib.experiments.ch3_models import (ModelSettings, data_distribution,
                                            schedule, trained_ddpm)
from gen_lib.metrics.two_sample import energy_distance, noise_floor
from gen_lib.metrics.wasserstein import wasserstein2
# --8<-- [end:imports]

__all__ = ["FloorSettings", "DdimSettings", "noise_floors", "outlier_fraction", "step_quality"]


# --8<-- [start:settings]
@dataclass(frozen=True)
class FloorSettings:
    """ノイズの床: 厳密なサンプルどうしの 2 サンプル距離。"""

    n_samples: int = 500  # N, 1 つのサンプル集合の点の数
    n_pairs: int = 10  # 距離を測る組の数
    seed: int = 0  # 乱数のシード


@dataclass(frozen=True)
class DdimSettings:
    """学習した DDPM を DDIM でサンプリングする。"""

    n_samples: int = 500  # N, サンプル数 (x_T の数、比べる厳密なサンプルの数)
    step_counts: tuple[int, ...] = (5, 10, 20, 50, 100)  # S, DDIM のステップ数
    etas: tuple[float, ...] = (0.0, 1.0)  # η, ノイズの量 (0: 決定的、1: DDPM の事後分散)
    spacing: str = "leading"  # 部分列 τ の選び方 (論文の τ_i = (i-1)⌊T/S⌋ + 1)
    shown_steps: tuple[int, ...] = (5, 20, 100)  # サンプルを残す (図に描く) S
    spacing_steps: tuple[int, ...] = (5, 10)  # 部分列の選び方を比べる S (η = 0)
    seed: int = 0  # x_T のシード (η > 0 のノイズは seed + 1、厳密なサンプルは seed + 2)
    model: ModelSettings = ModelSettings()  # 学習した ε_θ の設定
# --8<-- [end:settings]


@experiment(FloorSettings)
def noise_floors(settings: FloorSettings) -> dict[str, np.ndarray]:
    """エネルギー距離 ``energy`` と 2-ワッサースタイン距離 ``w2`` のノイズの床 (各 n_pairs 組)。"""
    sample = data_distribution().sample
    return {name: noise_floor(sample, settings.n_samples, distance=distance,
                              n_pairs=settings.n_pairs, seed=settings.seed)
            for name, distance in (("energy", energy_distance), ("w2", wasserstein2))}


def outlier_fraction(x: np.ndarray, radius: float = 2.0, tolerance: float = 1.0) -> float:
    """円周 (半径 radius) から tolerance 以上離れた点の割合。データでは 6.7σ 以上の外れで、ほぼ 0。"""
    x = as_points(x, name="x")
    radius, tolerance = check_positive(radius, name="radius"), check_positive(tolerance, name="tolerance")
    return float(np.mean(np.abs(np.linalg.norm(x, axis=1) - radius) > tolerance))


def _scores(x: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    return energy_distance(x, reference), wasserstein2(x, reference), outlier_fraction(x)


@experiment(DdimSettings)
def step_quality(settings: DdimSettings) -> dict:
    r"""ステップ数 $S$ と $\eta$ ごとのエネルギー距離・$W_2$・外れ値の割合。

    戻り値: ``energy``, ``w2``, ``outliers`` は $\eta$ → 形 (len(step_counts),)、
    ``samples`` は $\eta$ → {S: (N, 2)} (shown_steps のみ)、``reference`` (N, 2)、
    ``spacing`` は部分列の選び方 → spacing_steps ごとのエネルギー距離 ($\eta = 0$)、
    ``eta0_outliers`` は最大の $S$、$\eta = 0$ の外れ値の出発点と、厳密な $\varepsilon^*$ での外れ値の割合。
    """
    model, _ = trained_ddpm(settings.model)
    sched = schedule(settings.model)
    x_T = torch.randn(settings.n_samples, 2, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(settings.seed))
    reference = data_distribution().sample(settings.n_samples, seed=settings.seed + 2)

    def sample(n_steps, eta, spacing=settings.spacing, eps_model=model):
        return ddim_sample(sched, eps_model, x_T, n_steps, seed=settings.seed + 1, eta=eta,
                           spacing=spacing).numpy()

    out = {key: {} for key in ("energy", "w2", "outliers", "samples")}
    with single_thread():
        runs = {(eta, S): sample(S, eta) for eta in settings.etas for S in settings.step_counts}
        for eta in settings.etas:
            scores = np.array([_scores(runs[eta, S], reference) for S in settings.step_counts])
            for j, key in enumerate(("energy", "w2", "outliers")):
                out[key][eta] = scores[:, j]
            out["samples"][eta] = {S: runs[eta, S] for S in settings.shown_steps}
        out["spacing"] = {spacing: np.array([energy_distance(sample(S, 0.0, spacing), reference)
                                             for S in settings.spacing_steps])
                          for spacing in ("leading", "trailing", "linspace")}
        S = max(settings.step_counts)
        exact = sample(S, 0.0, eps_model=exact_epsilon(data_distribution(), sched))
    far = np.abs(np.linalg.norm(runs[0.0, S], axis=1) - 2.0) > 1.0  # outlier_fraction と同じ判定
    start_norm = float(np.linalg.norm(x_T.numpy()[far], axis=1).min()) if far.any() else np.nan
    out["eta0_outliers"] = {
        "min_start_norm": start_norm,  # 外れ値の出発点 x_T のノルムの最小 r
        "tail_probability": float(np.exp(-start_norm**2 / 2)),  # P(‖x_T‖ ≥ r) = e^{-r²/2} (2 次元)
        "exact_epsilon": outlier_fraction(exact),  # 同じ x_T から厳密な ε* で生成したときの外れ値の割合
    }
    return {**out, "steps": np.array(settings.step_counts),
            "spacing_steps": np.array(settings.spacing_steps), "reference": reference}
