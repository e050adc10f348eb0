r"""第 3 章「確率微分方程式による見方」の実験: VP・sub-VP・VE の 3 つの過程を円周上の 8 個のモードの混合で比べる。

- 周辺分布の係数 $m(t)$, $s(t)$ と、DDPM の $\bar{\alpha}_t$ が VP の $m(t)^2$ に近づく様子
- 前向きの SDE と逆向きの SDE (厳密なスコア) のサンプルパス
- 逆向きの SDE をオイラー・丸山法 (修正子なし・あり) で解いたサンプルの 2 サンプル距離:
  厳密なスコア (3 つの過程) と、学習した DDPM の $\varepsilon_\theta$ から作ったスコア (VP)

比べる相手の厳密なサンプルとノイズの床は「DDIM」の節 (``ch3_ddim``) と同じ作り方
(シード ``seed + 2`` の N 点) である。
"""

from __future__ import annotations

# --8<-- [start:imports]
from dataclasses import dataclass

import numpy as np
import torch

from gen_lib.core.experiment import experiment
from gen_lib.core.nn import single_thread
from gen_lib.core.validation import check_callable, check_instance
from gen_lib.diffusion.samplers import (euler_maruyama, forward_paths,
                                        predictor_corrector)
from gen_lib.diffusion.schedule import NoiseSchedule
from gen_lib.diffusion.sde import (SDE, SubVPSDE, VESDE, VPSDE, check_sde, exact_score,
                                   score_from_epsilon)
from gen_lib.experiments.ch3_models import (ModelSettings, data_distribution,
                                            trained_ddpm)
from gen_lib.metrics.two_sample import energy_distance
from gen_lib.metrics.wasserstein import wasserstein2
# --8<-- [end:imports]

__all__ = ["ProcessSettings", "QualitySettings", "PathSettings", "processes", "marginal_curves",
           "sample_paths", "reverse_sde_quality", "exact_score_quality", "model_quality"]


# --8<-- [start:settings]
@dataclass(frozen=True)
class ProcessSettings:
    """3 つの SDE の係数。"""

    beta_min: float = 0.1  # β_min = β(0) (VP, sub-VP)。DDPM の T β_1
    beta_max: float = 20.0  # β_max = β(1) (VP, sub-VP)。DDPM の T β_T
    sigma_min: float = 0.01  # σ_min = σ(0) (VE)
    sigma_max: float = 10.0  # σ_max = σ(1) (VE)。データ点どうしの最大距離 (約 4.6) より大きく


@dataclass(frozen=True)
class QualitySettings:
    """逆向きの SDE を解いたサンプルの質。"""

    n_samples: int = 500  # N, サンプル数 (比べる厳密なサンプルも N 点)
    step_counts: tuple[int, ...] = (3, 5, 10, 30)  # 歩数 (t = 1 → 10⁻³)
    snr: float = 0.16  # 修正子 (ランジュバン法 1 歩) の信号雑音比 (Song et al. 2021)
    seed: int = 0  # x_1 のシード (サンプラーのノイズは seed + 1、厳密なサンプルは seed + 2)
    processes: ProcessSettings = ProcessSettings()  # SDE の係数
    model: ModelSettings = ModelSettings()  # 学習した ε_θ の設定 (VP で使う)


@dataclass(frozen=True)
class PathSettings:
    """サンプルパスと周辺分布の曲線。"""

    n_paths: int = 200  # サンプルパスの本数
    n_steps: int = 100  # 前向き・逆向きのオイラー・丸山法の歩数
    n_times: int = 101  # 曲線と密度を描く時刻の数 (0 から 1 まで等間隔)
    n_grid: int = 161  # x_1 の密度の格子の点の数
    # VP の極限を確かめる DDPM の T (β_t = β(t/T)/T < 1 となる T)
    ddpm_steps: tuple[int, ...] = (30, 100, 1000, 10000)
    seed: int = 0  # データ点・事前分布の点・ノイズのシード
    processes: ProcessSettings = ProcessSettings()  # SDE の係数
# --8<-- [end:settings]


def processes(settings: ProcessSettings = ProcessSettings()) -> dict[str, SDE]:
    """名前 (図と表の順) → SDE。"""
    check_instance(settings, ProcessSettings, name="settings")
    return {"VP": VPSDE(settings.beta_min, settings.beta_max),
            "sub-VP": SubVPSDE(settings.beta_min, settings.beta_max),
            "VE": VESDE(settings.sigma_min, settings.sigma_max)}


def _prior_points(sde: SDE, n: int, seed: int) -> torch.Tensor:
    return sde.prior_sample((n, 2), torch.Generator().manual_seed(seed))


@experiment(PathSettings)
def marginal_curves(settings: PathSettings) -> dict:
    r"""$m(t)$, $s(t)$ (過程 → 形 (n_times,)) と、DDPM ($\beta_t = \beta(t/T)/T$) の
    $\max_t |\bar{\alpha}_t - m(t/T)^2|$ (T → 値)。``ho`` は Ho et al. の線形スケジュール ($T = 1000$)
    の $\bar{\alpha}_t$ と VP の $m(t/T)^2$ の差の最大。"""
    t = torch.linspace(0, 1, settings.n_times, dtype=torch.float64)
    curves = {name: tuple(v.numpy() for v in sde.marginal(t))
              for name, sde in processes(settings.processes).items()}
    vp = processes(settings.processes)["VP"]
    gaps = {}
    for T in settings.ddpm_steps:
        grid = torch.arange(1, T + 1, dtype=torch.float64) / T
        ddpm = NoiseSchedule((vp.beta(grid) / T).numpy())
        gap = ddpm.alpha_bar(torch.arange(1, T + 1)) - vp.marginal(grid)[0] ** 2
        gaps[T] = gap.abs().max().item()
    ho = NoiseSchedule.linear(1000)
    grid = torch.arange(1, 1001)
    ho_gap = (ho.alpha_bar(grid) - vp.marginal(grid / 1000)[0] ** 2).abs().max().item()
    return {"t": t.numpy(), "curves": curves, "ddpm_gaps": gaps, "ho_gap": ho_gap}


@experiment(PathSettings)
def sample_paths(settings: PathSettings) -> dict:
    r"""過程ごとの前向き・逆向き (厳密なスコア) のサンプルパス (各 (n_steps + 1, n_paths, 2)) と、
    $p_t$ の $x_1$ 方向の周辺密度 (n_times, n_grid)。逆向きの路の時刻は 1 から $10^{-3}$。"""
    mixture = data_distribution()
    x_0 = torch.as_tensor(mixture.sample(settings.n_paths, seed=settings.seed))
    t = np.linspace(0, 1, settings.n_times)
    out = {"t": t, "forward": {}, "reverse": {}, "density": {}, "grid": {}}
    with single_thread():
        for name, sde in processes(settings.processes).items():
            forward = forward_paths(sde, x_0, settings.n_steps, seed=settings.seed + 1)
            out["forward"][name] = forward.numpy()
            x_1 = _prior_points(sde, settings.n_paths, settings.seed + 2)
            reverse = euler_maruyama(sde, exact_score(mixture, sde), x_1, settings.n_steps,
                                     seed=settings.seed + 3, return_path=True)
            out["reverse"][name] = reverse.numpy()
            m, s = (v.numpy() for v in sde.marginal(torch.as_tensor(t)))
            lim = 2.0 + 4.0 * sde.prior_std()  # 円周 (半径 2) と事前分布の 4 σ
            grid = np.linspace(-lim, lim, settings.n_grid)
            # x_1 成分の周辺: Σ_k π_k N(m μ_k1, m² Σ_k11 + s²)
            mean = m[:, None, None] * mixture.means[None, :, 0, None]  # (n_times, K, 1)
            var = (m[:, None, None] ** 2 * mixture.covariances[None, :, 0, 0, None]
                   + s[:, None, None] ** 2)
            # (n_times, K, n_grid)
            dens = np.exp(-0.5 * (grid - mean) ** 2 / var) / np.sqrt(2 * np.pi * var)
            out["density"][name] = np.einsum("k,tkg->tg", mixture.weights, dens)
            out["grid"][name] = grid
    return out


def _distances(x: torch.Tensor, reference: np.ndarray) -> tuple[float, float]:
    x = x.numpy()
    return energy_distance(x, reference), wasserstein2(x, reference)


def reverse_sde_quality(sde: SDE, score, settings: QualitySettings) -> dict:
    r"""逆向きの SDE を歩数 step_counts で解いたサンプルのエネルギー距離と $W_2$。

    ``"EM"`` はオイラー・丸山法だけ、``"PC"`` は各時刻に修正子を 1 歩加えたもの。
    戻り値は {"EM"/"PC": {"energy", "w2"}} (各 (len(step_counts),)) と ``steps``。
    """
    sde = check_sde(sde)
    check_callable(score, name="score", signature="(x, t)")
    check_instance(settings, QualitySettings, name="settings")
    x_1 = _prior_points(sde, settings.n_samples, settings.seed)
    reference = data_distribution().sample(settings.n_samples,
                                           seed=settings.seed + 2)
    samplers = {
        "EM": lambda n: euler_maruyama(sde, score, x_1, n,
                                       seed=settings.seed + 1),
        "PC": lambda n: predictor_corrector(sde, score, x_1, n,
                                            seed=settings.seed + 1,
                                            snr=settings.snr),
    }
    out = {"steps": np.array(settings.step_counts)}
    for name, run in samplers.items():
        d = np.array([_distances(run(n), reference)
                      for n in settings.step_counts])
        out[name] = {"energy": d[:, 0], "w2": d[:, 1]}
    return out


@experiment(QualitySettings)
def exact_score_quality(settings: QualitySettings) -> dict:
    """厳密なスコアで 3 つの過程の逆向きの SDE を解いたときの質 (過程 → ``reverse_sde_quality``)。"""
    mixture = data_distribution()
    with single_thread():
        return {name: reverse_sde_quality(sde, exact_score(mixture, sde), settings)
                for name, sde in processes(settings.processes).items()}


@experiment(QualitySettings)
def model_quality(settings: QualitySettings) -> dict:
    r"""学習した DDPM の $\varepsilon_\theta$ を $s_\theta = -\varepsilon_\theta / s(t)$ で VP のスコアにして
    解いたときの質 (``reverse_sde_quality``)。"""
    model, _ = trained_ddpm(settings.model)
    vp = processes(settings.processes)["VP"]
    with single_thread():
        return reverse_sde_quality(vp, score_from_epsilon(model, vp, settings.model.T), settings)
