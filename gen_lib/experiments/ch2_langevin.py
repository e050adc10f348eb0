r"""第 2 章「ランジュバン・モンテカルロ法」の実験: 連鎖の様子、ステップ数と 2 サンプル距離、モードの重みの失敗。

どれも厳密なスコア (``GaussianMixture.score``) を使い、学習はしない。
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from gen_lib.core.experiment import experiment
from gen_lib.core.grid import plane_points
from gen_lib.core.validation import as_points, check_count, check_instance, check_positive, make_rng
from gen_lib.distributions.gaussian_mixture import GaussianMixture, ring_of_gaussians
from gen_lib.metrics.mode_weights import estimate_mode_weights
from gen_lib.metrics.two_sample import energy_distance, mmd_squared, noise_floor
from gen_lib.score_based.langevin import (langevin_failure_setting, langevin_sample,
                                          ula_gaussian_stationary_covariance)

__all__ = ["ring_initial_points", "SnapshotSettings", "snapshots", "within_mode_variance",
           "ConvergenceSettings", "convergence", "FailureSettings", "failure_weights", "UlaVarianceSettings",
           "ula_variance"]


def ring_initial_points(n: int, std: float, seed) -> np.ndarray:
    r"""円周の混合の連鎖の初期値 $\mathcal{N}(0, s^2 I)$ (回転対称なので 8 つのモードに等しく分かれる)。"""
    n, std = check_count(n, name="n"), check_positive(std, name="std")
    return std * make_rng(seed).standard_normal((n, 2))


@dataclass(frozen=True)
class SnapshotSettings:
    """円周上の 8 個のモードの混合をランジュバン法でサンプリングする途中の様子。"""

    n_chains: int = 400  # N, 連鎖の本数
    init_std: float = 1.5  # s, 初期値 N(0, s² I) の標準偏差
    step_size: float = 0.002  # τ, ステップ幅
    shown_steps: tuple[int, ...] = (0, 10, 30, 100, 300)  # 図に示すステップ数 m (最後が連鎖の長さ M)
    lim: float = 3.2  # 等高線を描く範囲 [-lim, lim]^2
    n_grid: int = 121  # 等高線の格子の 1 軸の点数
    seed: int = 0  # 初期値 (seed)、連鎖のノイズ (seed + 1)、厳密なサンプル (seed + 2) のシード


@experiment(SnapshotSettings)
def snapshots(settings: SnapshotSettings) -> dict:
    r"""連鎖 $x^{(m)}$ ($m$ = shown_steps) と厳密なサンプル、等高線用の $\log p$ の格子。"""
    mixture = ring_of_gaussians()
    x0 = ring_initial_points(settings.n_chains, settings.init_std, settings.seed)
    _, path = langevin_sample(mixture.score, x0, settings.step_size, settings.shown_steps[-1],
                              seed=settings.seed + 1, record_every=1)
    axis = np.linspace(-settings.lim, settings.lim, settings.n_grid)
    return {"steps": np.array(settings.shown_steps), "chains": path[list(settings.shown_steps)],
            "exact": mixture.sample(settings.n_chains, seed=settings.seed + 2), "axis": axis,
            "log_p": mixture.log_prob(plane_points(axis)).reshape(axis.size, axis.size)}


def within_mode_variance(mixture: GaussianMixture, x) -> float:
    """各点を最も近い (負担率最大の) モードに割り当て、平均からのずれの 1 成分あたりの分散を求める。"""
    check_instance(mixture, GaussianMixture, name="mixture")
    x = as_points(x, name="x", dim=mixture.dim)
    nearest = np.argmax(mixture.responsibilities(x), axis=1)
    return float(np.mean((x - mixture.means[nearest]) ** 2))


@dataclass(frozen=True)
class ConvergenceSettings:
    """ステップ数・ステップ幅と、厳密なサンプルとの距離・モード内の分散。"""

    n_chains: int = 400  # N, 連鎖の本数 (厳密なサンプルも同じ数)
    init_std: float = 1.5  # s, 初期値 N(0, s² I) の標準偏差
    step_sizes: tuple[float, ...] = (0.002, 0.01, 0.05)  # τ, 距離の曲線を描くステップ幅
    checkpoints: tuple[int, ...] = (1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300)  # k, 距離を測るステップ数
    extra_step_sizes: tuple[float, ...] = (0.02, 0.03, 0.04, 0.06)  # τ, 分散だけを測るステップ幅
    extra_steps: int = 60  # 大きい τ の連鎖のステップ数 (速く収束するので短くてよい)
    bandwidth: float = 0.2  # h, MMD² のカーネルの幅 (モードの標準偏差 0.15 程度: モード内の広がりに敏感)
    floor_pairs: int = 8  # ノイズの床を測る厳密なサンプル集合の組の数
    divergent_step_size: float = 0.1  # τ, 4σ² を超えるステップ幅 (連鎖がモードに留まれない例)
    divergent_steps: int = 300  # その連鎖のステップ数
    seed: int = 0  # 乱数のシード (初期値・連鎖・厳密なサンプル・床をここからずらして作る)


@experiment(ConvergenceSettings)
def convergence(settings: ConvergenceSettings) -> dict:
    r"""ステップ幅ごとの MMD² の曲線、ノイズの床、モード内の分散とガウス分布の理論値。

    戻り値: ``curves`` ({τ: (len(checkpoints),)})、``floor`` (floor_pairs,)、``variances`` ({τ: 分散}、τ の順)、
    ``exact_variance`` (厳密なサンプルのモード内の分散)、``sigma2`` (成分の分散 σ²)、
    ``theory`` (τ の格子 ``step_size`` と、定常分散の比 $1 / (1 - \tau / 4\sigma^2)$ ``ratio``)、
    ``steps_to_floor`` ({τ: MMD² が床の最大値以下になった最初のチェックポイント。届かなければ 0})、
    ``energy_floor`` (同じ組のエネルギー距離、floor_pairs,)、``energy`` ({τ: 連鎖の終わりのエネルギー距離})、
    ``divergent_ratio`` (divergent_step_size で divergent_steps 回動かした連鎖のモード内の分散 / σ²)。
    """
    mixture = ring_of_gaussians()
    reference = mixture.sample(settings.n_chains, seed=settings.seed + 100)
    x0 = ring_initial_points(settings.n_chains, settings.init_std, settings.seed)
    distance = partial(mmd_squared, bandwidth=settings.bandwidth)
    curves, variances, energies = {}, {}, {}
    for i, step_size in enumerate(settings.step_sizes):
        _, path = langevin_sample(mixture.score, x0, step_size, settings.checkpoints[-1],
                                  seed=settings.seed + 1 + i, record_every=1)
        curves[step_size] = np.array([distance(path[k], reference) for k in settings.checkpoints])
        energies[step_size] = energy_distance(path[-1], reference)
        variances[step_size] = within_mode_variance(mixture, path[-1])
    for i, step_size in enumerate(settings.extra_step_sizes):
        x = langevin_sample(mixture.score, x0, step_size, settings.extra_steps, seed=settings.seed + 10 + i)
        variances[step_size] = within_mode_variance(mixture, x)
    sigma2 = float(mixture.covariances[0, 0, 0])
    grid = np.linspace(1e-4, 1.05 * max(variances), 200)
    ratio = [ula_gaussian_stationary_covariance([[sigma2]], step_size)[0, 0] / sigma2 for step_size in grid]
    floor = noise_floor(mixture.sample, settings.n_chains, distance=distance, n_pairs=settings.floor_pairs,
                        seed=settings.seed + 200)
    reached = {step_size: [k for k, value in zip(settings.checkpoints, curve) if value <= floor.max()]
               for step_size, curve in curves.items()}
    divergent = langevin_sample(mixture.score, x0, settings.divergent_step_size, settings.divergent_steps,
                                seed=settings.seed + 300)
    return {"curves": curves, "variances": dict(sorted(variances.items())), "floor": floor,
            "exact_variance": within_mode_variance(mixture, reference), "sigma2": sigma2,
            "theory": {"step_size": grid, "ratio": np.array(ratio)},
            "steps_to_floor": {step_size: (ks[0] if ks else 0) for step_size, ks in reached.items()},
            "energy_floor": noise_floor(mixture.sample, settings.n_chains, distance=energy_distance,
                                        n_pairs=settings.floor_pairs, seed=settings.seed + 200),
            "divergent_ratio": within_mode_variance(mixture, divergent) / sigma2, "energy": energies}


@dataclass(frozen=True)
class FailureSettings:
    """離れた 2 つのモードの重みを取り違える設定 (``langevin_failure_setting``)。"""

    n_chains: int = 1000  # N, 連鎖の本数
    floor_pairs: int = 50  # エネルギー距離のノイズの床を測る組の数 (1 組ごとのばらつきが大きいので多めに)
    long_steps: int = 10000  # 10 倍長く動かす連鎖のステップ数 (重みが変わらないことを確かめる)
    seed: int = 0  # langevin_failure_setting のシード (初期値・連鎖・比べる相手)


@experiment(FailureSettings)
def failure_weights(settings: FailureSettings) -> dict:
    r"""真の重み・厳密なサンプル・初期値・連鎖のモードの重みと、厳密なサンプルとのエネルギー距離。

    戻り値: ``samples`` (連鎖の終わり)、``reference`` (比べる相手の厳密なサンプル)、``step_size``, ``n_steps``、
    ``weights`` ({"true", "exact", "initial", "langevin", "langevin_long"}: (2,))、
    ``energy_distance`` (同じキーごとの、reference とのエネルギー距離。"true" はない)、``floor`` (floor_pairs,)。
    "langevin_long" は同じ連鎖を long_steps 回動かしたもの。
    """
    setting = langevin_failure_setting(settings.n_chains, seed=settings.seed)
    mixture = setting.mixture
    x = langevin_sample(mixture.score, setting.x0, setting.step_size, setting.n_steps, seed=setting.seed)
    x_long = langevin_sample(mixture.score, setting.x0, setting.step_size, settings.long_steps, seed=setting.seed)
    reference = setting.reference_samples()
    exact = mixture.sample(settings.n_chains, seed=setting.reference_seed + 1)
    points = {"exact": exact, "initial": setting.x0, "langevin": x, "langevin_long": x_long}
    return {
        "samples": x, "reference": reference, "step_size": setting.step_size, "n_steps": setting.n_steps,
        "long_steps": settings.long_steps,
        "weights": {"true": mixture.weights, **{key: estimate_mode_weights(mixture, y) for key, y in points.items()}},
        "energy_distance": {key: energy_distance(y, reference) for key, y in points.items()},
        "floor": noise_floor(mixture.sample, settings.n_chains, distance=energy_distance,
                             n_pairs=settings.floor_pairs, seed=settings.seed + 100),
    }


@dataclass(frozen=True)
class UlaVarianceSettings:
    """1 次元のガウス分布 N(μ, σ²) でのランジュバン法の定常分散の偏り。"""

    n_chains: int = 20000  # N, 連鎖の本数 (初期値はすべて μ)
    mean: float = 1.0  # μ, 目標の平均
    variance: float = 1.0  # σ², 目標の分散
    step_size: float = 0.4  # τ, ステップ幅
    n_steps: int = 100  # K, ステップ数
    seed: int = 0  # 連鎖のノイズのシード


@experiment(UlaVarianceSettings)
def ula_variance(settings: UlaVarianceSettings) -> dict:
    r"""サンプル分散、理論値 $\sigma^2 / (1 - \tau / 4\sigma^2)$ と分散の推定の標準誤差。"""
    s = settings
    target = GaussianMixture(np.ones(1), np.full((1, 1), s.mean), np.full((1, 1, 1), s.variance))
    x = langevin_sample(target.score, np.full((s.n_chains, 1), s.mean), s.step_size, s.n_steps,
                        seed=s.seed)
    predicted = s.variance / (1.0 - s.step_size / (4.0 * s.variance))
    return {"sample_variance": float(x.var()), "predicted": predicted,
            "standard_error": predicted * float(np.sqrt(2.0 / s.n_chains))}
