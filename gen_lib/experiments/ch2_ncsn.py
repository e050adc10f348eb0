r"""第 2 章の NCSN の実験: ランジュバン法が失敗する設定で、焼きなましランジュバン法と学習した NCSN を試す。

- データ分布と連鎖の初期値は ``gen_lib.score_based.langevin.langevin_failure_setting`` と同じ
  ($\tfrac15 \mathcal{N}((-5,-5), I) + \tfrac45 \mathcal{N}((5,5), I)$、箱 $[-8, 8]^2$ の一様分布)。
- ノイズの大きさは $\sigma_1 = 20$ から $\sigma_L = 0.2$ までの等比数列 ($L = 10$)。
  $\sigma_1$ は 2 つのモードの距離 ($10\sqrt{2} \approx 14$) より大きく取る (Song & Ermon 2020)。
- NCSN の学習は実験 ``training`` の結果としてキャッシュされる。図・ノートブック・ベンチマークは
  同じ学習済みモデルを使い、ビルド 1 回につき学習は 1 回で済む。
"""

from __future__ import annotations

# --8<-- [start:imports]
import time
from dataclasses import dataclass, replace

import numpy as np

from gen_lib.core.experiment import experiment
from gen_lib.core.grid import plane_points
from gen_lib.core.types import NoiseConditionalScore
from gen_lib.core.validation import InputError, as_points, check_callable, check_instance, make_rng
from gen_lib.distributions.gaussian_mixture import GaussianMixture
from gen_lib.metrics.mode_weights import estimate_mode_weights, mode_weight_error
from gen_lib.metrics.score_error import relative_score_error
from gen_lib.metrics.two_sample import energy_distance, noise_floor
from gen_lib.score_based.annealed_langevin import annealed_langevin_sample
from gen_lib.score_based.langevin import (
    langevin_failure_setting, langevin_sample, separated_modes_mixture,
)
from gen_lib.score_based.ncsn import (
    NoiseConditionalScoreNet, check_noise_levels,
    exact_noise_conditional_score, geometric_noise_levels, train_ncsn,
)
# --8<-- [end:imports]

__all__ = ["NcsnSettings", "SamplerSettings", "noise_levels", "training", "trained_ncsn", "score_errors",
           "EvaluationSettings", "score_error_curves", "score_maps", "compare_samplers", "sampler_comparison",
           "annealing_path", "TableSettings", "sampler_table", "sampling_time"]


# --8<-- [start:settings]
@dataclass(frozen=True)
class NcsnSettings:
    """NCSN の学習。"""

    n_data: int = 20000  # N, データセット D の大きさ
    data_seed: int = 10  # D を p から引くシード
    sigma_max: float = 20.0  # σ_1, 最大のノイズの大きさ
    sigma_min: float = 0.2  # σ_L, 最小のノイズの大きさ
    n_levels: int = 10  # L, ノイズの大きさの数
    steps: int = 3000  # 学習のステップ数
    batch_size: int = 128  # ミニバッチの大きさ
    lr: float = 1e-2  # Adam の学習率 (余弦で 0 まで下げる)
    hidden: int = 64  # g_θ の隠れ層のユニット数
    n_hidden_layers: int = 3  # g_θ の隠れ層の数
    seed: int = 0  # 初期値・ミニバッチ・ノイズのシード


@dataclass(frozen=True)
class SamplerSettings:
    """焼きなましランジュバン法と、それと比べるサンプラー。"""

    step_size: float = 0.015  # τ, 最後の段 σ_L のステップ幅 (段 i では τ σ_i² / σ_L²)
    n_steps_each: int = 200  # M, 各段のステップ数
    n_chains: int = 1000  # 連鎖の本数 (ランジュバン法の失敗設定と同じ)
    seed: int = 0  # 初期値・ノイズ・比べる相手のシード (langevin_failure_setting)
    ncsn: NcsnSettings = NcsnSettings()  # 使う NCSN の学習の設定


def noise_levels(settings: NcsnSettings = NcsnSettings()) -> np.ndarray:
    r"""実験で使う $\sigma_1 > \cdots > \sigma_L$。"""
    check_instance(settings, NcsnSettings, name="settings")
    return geometric_noise_levels(settings.sigma_max, settings.sigma_min, settings.n_levels)
# --8<-- [end:settings]


@experiment(NcsnSettings)
def training(settings: NcsnSettings) -> dict:
    """失敗設定の分布から引いたデータ D で NCSN を学習する。

    戻り値は ``{"state_dict", "history", "seconds"}`` (seconds は学習にかかった時間。ビルドではほかの
    実験と並行して測るので目安である)。
    """
    data = separated_modes_mixture().sample(settings.n_data, seed=settings.data_seed)
    start = time.perf_counter()
    result = train_ncsn(data, noise_levels(settings), steps=settings.steps, batch_size=settings.batch_size,
                        lr=settings.lr, hidden=settings.hidden, n_hidden_layers=settings.n_hidden_layers,
                        seed=settings.seed)
    return {**result, "seconds": time.perf_counter() - start}


def trained_ncsn(settings: NcsnSettings = NcsnSettings()) -> tuple[NoiseConditionalScoreNet, list[float]]:
    """学習した NCSN と損失の履歴 (``training`` の結果から作る。キャッシュがあれば学習しない)。"""
    check_instance(settings, NcsnSettings, name="settings")
    result = training(settings)
    model = NoiseConditionalScoreNet(2, hidden=settings.hidden, n_hidden_layers=settings.n_hidden_layers)
    model.load_state_dict(result["state_dict"])
    model.eval()
    return model, list(result["history"])


# --8<-- [start:score_errors]
def score_errors(score_fn: NoiseConditionalScore, mixture: GaussianMixture, sigmas, x,
                 seed=0) -> dict[str, np.ndarray]:
    r"""各 $\sigma_i$ での平均 2 乗誤差 $\frac1N \sum_n \|s(x^n, \sigma_i) - \nabla \log p_{\sigma_i}(x^n)\|^2$。

    ``data`` はデータ点 $x^n \sim p$ そのもので、``noised`` はノイズを加えた点
    $\tilde{x}^n = x^n + \sigma_i z^n \sim p_{\sigma_i}$ で測る。``relative_*`` は
    厳密なスコアの 2 乗ノルムの平均 $\frac1N \sum_n \|\nabla \log p_{\sigma_i}(x^n)\|^2$ で割った値
    (``relative_score_error``)。
    """
    check_callable(score_fn, name="score_fn", signature="(x, sigma)")
    check_instance(mixture, GaussianMixture, name="mixture")
    x = as_points(x, dim=mixture.dim)
    sigmas = check_noise_levels(sigmas)
    rng = make_rng(seed)
    exact = exact_noise_conditional_score(mixture)
    out = {key: np.zeros(len(sigmas)) for key in ("data", "noised", "relative_data", "relative_noised")}
    for i, sigma in enumerate(sigmas):
        for key, points in (("data", x), ("noised", x + sigma * rng.standard_normal(x.shape))):
            estimate, target = score_fn(points, sigma), exact(points, sigma)
            out[key][i] = np.mean(np.sum((estimate - target) ** 2, axis=1))
            out["relative_" + key][i] = relative_score_error(estimate, target)
    return out
# --8<-- [end:score_errors]


@dataclass(frozen=True)
class EvaluationSettings:
    """学習した NCSN のスコアを厳密なスコアと比べる。"""

    n_points: int = 2000  # 誤差を測るデータ点 x ~ p の数
    shown_levels: tuple[int, ...] = (0, 3, 6, 9)  # 地図を描く σ_i の添字 (0 始まり: σ_1, σ_4, σ_7, σ_10)
    lim: float = 10.0  # 地図の範囲 [-lim, lim]^2
    n_grid: int = 81  # 密度と誤差の格子の 1 軸の点数
    n_arrows: int = 13  # 矢印の格子の 1 軸の点数
    n_shown_data: int = 300  # 地図に重ねるデータ点の数
    near_mode: float = 2.0  # 「モードの近く」とみなす中心からの距離 (成分の標準偏差 1 の 2 倍)
    seed: int = 0  # 乱数のシード (点と加えるノイズはここからずらして作る)
    ncsn: NcsnSettings = NcsnSettings()  # 使う NCSN の学習の設定


@experiment(EvaluationSettings)
def score_error_curves(settings: EvaluationSettings) -> dict:
    """σ ごとのスコアの誤差 (``score_errors``、n_points 点) と ``sigmas``。"""
    mixture = separated_modes_mixture()
    model, _ = trained_ncsn(settings.ncsn)
    sigmas = noise_levels(settings.ncsn)
    x = mixture.sample(settings.n_points, seed=settings.seed + 11)
    return {"sigmas": sigmas, **score_errors(model.score_numpy, mixture, sigmas, x, seed=settings.seed + 12)}


@experiment(EvaluationSettings)
def score_maps(settings: EvaluationSettings) -> dict:
    r"""shown_levels の $\sigma_i$ ごとの $p_{\sigma_i}$、厳密なスコアと学習したスコア、その誤差の地図。

    誤差は $\sigma$ を掛けて $\sigma$ によらず比べられる大きさにした $\sigma \|s_\theta - \nabla \log p_\sigma\|$。

    戻り値: ``axis`` (n,)、矢印の位置 ``arrows_at`` (M, 2)、データ点 ``data``、``levels`` の各要素が
    ``{"index", "sigma", "density" (n, n), "exact" (M, 2), "learned" (M, 2), "error" (n, n)}`` と、
    誤差の要約 ``max_error``・``median_error``・``near_mode_max_error`` (モードの中心から near_mode 以内の格子点での最大)。
    """
    mixture = separated_modes_mixture()
    model, _ = trained_ncsn(settings.ncsn)
    exact = exact_noise_conditional_score(mixture)
    sigmas = noise_levels(settings.ncsn)
    axis = np.linspace(-settings.lim, settings.lim, settings.n_grid)
    grid = plane_points(axis)
    arrows_at = plane_points(np.linspace(-settings.lim, settings.lim, settings.n_arrows))
    near = np.min(np.linalg.norm(grid[:, None, :] - mixture.means[None], axis=2), axis=1) <= settings.near_mode
    levels = []
    for i in settings.shown_levels:
        sigma = float(sigmas[i])
        error = sigma * np.linalg.norm(model.score_numpy(grid, sigma) - exact(grid, sigma), axis=1)
        density = np.exp(mixture.noised(1.0, sigma).log_prob(grid))  # p_σ
        levels.append({"index": i, "sigma": sigma, "density": density.reshape(axis.size, axis.size),
                       "exact": exact(arrows_at, sigma), "learned": model.score_numpy(arrows_at, sigma),
                       "error": error.reshape(axis.size, axis.size),
                       "max_error": float(error.max()), "median_error": float(np.median(error)),
                       "near_mode_max_error": float(error[near].max())})
    return {"axis": axis, "arrows_at": arrows_at, "levels": levels,
            "data": mixture.sample(settings.n_shown_data, seed=settings.seed)}


# --8<-- [start:compare_samplers]
def compare_samplers(model: NoiseConditionalScoreNet, settings: SamplerSettings) -> dict[str, np.ndarray]:
    r"""失敗設定 (同じ初期値 $x_0$) で 4 つのサンプラーを走らせた結果 (各 (N, 2))。

    総ステップ数はそろえる: ランジュバン法も焼きなましと同じ $L T$ ステップ回す。

    - ``plain_exact``: ランジュバン法 + 厳密なスコア $\nabla \log p$ (τ = 0.1)
    - ``plain_learned``: ランジュバン法 + 学習したスコア $s_\theta(x, \sigma_L)$ (同じ τ)
    - ``annealed_exact``: 焼きなましランジュバン法 + 厳密な $\nabla \log p_{\sigma_i}$
    - ``annealed_learned``: 焼きなましランジュバン法 + 学習した $s_\theta(x, \sigma_i)$
    - ``reference``: 比べる相手の厳密なサンプル $x \sim p$
    """
    if not isinstance(model, NoiseConditionalScoreNet):  # サンプラーを走らせる前に確かめる
        raise InputError(f"model must be a NoiseConditionalScoreNet, got {type(model).__name__}")
    if not isinstance(settings, SamplerSettings):
        raise InputError(f"settings must be a SamplerSettings, got {type(settings).__name__}")
    setting = langevin_failure_setting(settings.n_chains, seed=settings.seed)
    mixture, sigmas, T = setting.mixture, noise_levels(settings.ncsn), settings.n_steps_each
    sigma_min = float(sigmas[-1])

    def plain(score_fn):
        return langevin_sample(score_fn, setting.x0, setting.step_size, len(sigmas) * T, seed=setting.seed)

    def annealed(score_fn):
        return annealed_langevin_sample(score_fn, setting.x0, sigmas, settings.step_size, T,
                                        seed=setting.seed)

    return {
        "plain_exact": plain(mixture.score),
        "plain_learned": plain(lambda x: model.score_numpy(x, sigma_min)),
        "annealed_exact": annealed(exact_noise_conditional_score(mixture)),
        "annealed_learned": annealed(model.score_numpy),
        "reference": setting.reference_samples(),
    }
# --8<-- [end:compare_samplers]


REPEAT_SEEDS = (0, 10, 20)  # 比較を繰り返すときの初期値・ノイズのシード (1 回 12 s ほどかかるので 3 回)


@experiment(SamplerSettings, variants=tuple(SamplerSettings(seed=s) for s in REPEAT_SEEDS[1:]))
def sampler_comparison(settings: SamplerSettings) -> dict[str, dict[str, np.ndarray]]:
    r"""学習した NCSN での ``compare_samplers`` のサンプル ``samples`` と、モードの重み ``weights`` $\hat{\pi}$。"""
    samples = compare_samplers(trained_ncsn(settings.ncsn)[0], settings)
    mixture = separated_modes_mixture()
    weights = {key: estimate_mode_weights(mixture, x) for key, x in samples.items()}
    return {"samples": samples, "weights": weights}


@experiment(SamplerSettings)
def annealing_path(settings: SamplerSettings) -> dict[str, np.ndarray]:
    """学習した NCSN での焼きなましランジュバン法の各段の終わりの点 ``path`` (L+1, N, 2、先頭は初期値)。"""
    setting = langevin_failure_setting(settings.n_chains, seed=settings.seed)
    sigmas = noise_levels(settings.ncsn)
    model, _ = trained_ncsn(settings.ncsn)
    path = annealed_langevin_sample(model.score_numpy, setting.x0, sigmas, settings.step_size,
                                    settings.n_steps_each, seed=setting.seed, return_path=True)
    return {"sigmas": sigmas, "path": path}


@dataclass(frozen=True)
class TableSettings:
    """4 つのサンプラーを、初期値・ノイズ・比べる相手を変えて繰り返し比べる (ページの表)。"""

    seeds: tuple[int, ...] = REPEAT_SEEDS  # 繰り返しごとの SamplerSettings.seed
    floor_pairs: int = 100  # ノイズの床を平均する組の数 (1 組ごとのばらつきが大きいので多めに)
    floor_seed: int = 5000  # ノイズの床のシード
    sampler: SamplerSettings = SamplerSettings()  # 比べるサンプラーの設定 (seed 以外)


SAMPLERS = ("plain_exact", "plain_learned", "annealed_exact", "annealed_learned")


@experiment(TableSettings)
def sampler_table(settings: TableSettings) -> dict:
    r"""``sampler_comparison`` を seeds ごとに走らせた平均。

    戻り値: サンプラーごとの ``distance`` (エネルギー距離の平均)、``ratio`` (床の平均との比)、
    ``weight_error`` (全変動距離の平均)、``pi1`` ($\hat{\pi}_1$ の平均)、``pi1_se`` (その標準誤差
    $\sqrt{0.2 \cdot 0.8 / (RN)}$ ではなく、繰り返しのサンプル標準偏差 $/\sqrt{R}$)、``floor`` (floor_pairs,)、
    ``repeats`` $R$、``n_chains`` $N$。
    """
    if len(settings.seeds) < 2:  # 標準誤差は 2 回以上の繰り返しで決まる (1 回では NaN になる)
        raise InputError(f"settings.seeds must hold at least 2 seeds, got {settings.seeds!r}")
    distances = {key: [] for key in SAMPLERS}
    errors = {key: [] for key in SAMPLERS}
    pi1 = {key: [] for key in SAMPLERS}
    mixture = separated_modes_mixture()
    for seed in settings.seeds:
        result = sampler_comparison(replace(settings.sampler, seed=seed))
        samples = result["samples"]
        for key in SAMPLERS:
            distances[key].append(energy_distance(samples[key], samples["reference"]))
            errors[key].append(mode_weight_error(mixture, samples[key]))
            pi1[key].append(result["weights"][key][0])
    floor = noise_floor(mixture.sample, settings.sampler.n_chains, distance=energy_distance,
                        n_pairs=settings.floor_pairs, seed=settings.floor_seed)
    repeats = len(settings.seeds)
    return {
        key: {"distance": float(np.mean(distances[key])), "ratio": float(np.mean(distances[key]) / floor.mean()),
              "weight_error": float(np.mean(errors[key])), "pi1": float(np.mean(pi1[key])),
              "pi1_se": float(np.std(pi1[key], ddof=1) / np.sqrt(repeats))}
        for key in SAMPLERS
    } | {"floor": floor, "repeats": repeats, "n_chains": settings.sampler.n_chains}


@experiment(SamplerSettings, timing=True)
def sampling_time(settings: SamplerSettings) -> dict:
    """学習した NCSN での焼きなましランジュバン法 1 回 (n_chains 本 × L T ステップ) の時間 ``seconds``。"""
    setting = langevin_failure_setting(settings.n_chains, seed=settings.seed)
    model, _ = trained_ncsn(settings.ncsn)
    start = time.perf_counter()
    annealed_langevin_sample(model.score_numpy, setting.x0, noise_levels(settings.ncsn), settings.step_size,
                             settings.n_steps_each, seed=setting.seed)
    return {"seconds": time.perf_counter() - start}
