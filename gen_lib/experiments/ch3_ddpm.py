r"""第 3 章「DDPM」「なぜ小さなステップを重ねるのか」「DDPM とスコア」の実験。

データ分布 $p$ は円周上の 8 個のモードの混合 (``ch3_models.data_distribution``)、学習済みの $\varepsilon_\theta$ は
``ch3_models.trained_ddpm`` (線形スケジュール、$T = 1000$) を読み込む (ここでは学習しない)。
$p$ はガウス混合なので、$q(x_t)$ も理想的な $\varepsilon^*$ (``exact_epsilon``) も、エントロピー $H(p)$ も
厳密に (または数値積分で) 分かる。
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from gen_lib.core.experiment import experiment
from gen_lib.core.grid import make_grid
from gen_lib.core.nn import single_thread
from gen_lib.core.validation import check_callable, check_instance, check_positive, make_rng
from gen_lib.diffusion.ddpm import exact_epsilon, q_sample, variational_bound_terms
from gen_lib.diffusion.samplers import ddpm_sample
from gen_lib.diffusion.schedule import NoiseSchedule
from gen_lib.diffusion.small_steps import (reverse_conditional, reverse_conditional_gaussian_kl,
                                           small_step_kl_asymptote)
from gen_lib.distributions.gaussian_mixture import GaussianMixture, isotropic_mixture
from gen_lib.experiments.ch3_models import ModelSettings, data_distribution, schedule, trained_ddpm
from gen_lib.metrics.score_error import relative_score_error
from gen_lib.metrics.two_sample import energy_distance, noise_floor
from gen_lib.metrics.wasserstein import wasserstein2

__all__ = ["DdpmSettings", "expected_prior_kl", "prior_terms", "remember_outputs", "entropy",
           "variational_bound", "ancestral_samples", "epsilon_error", "SmallStepsSettings",
           "small_steps_mixture", "reverse_step_kl"]

VARIANCES = ("posterior", "beta")  # σ_t² = β̃_t と σ_t² = β_t
ERROR_TIMES = tuple(int(t) for t in np.unique(np.geomspace(1, 1000, 30).round()))  # 1..T を対数的に


@dataclass(frozen=True)
class DdpmSettings:
    """学習済みの DDPM の変分下界・祖先サンプリング・ε の誤差を測る設定。"""

    model: ModelSettings = ModelSettings()  # 共有の学習済み ε_θ の設定 (ch3_models)
    prior_T: tuple[int, ...] = (50, 100, 250, 1000)  # L_T の表の T (線形は β_1, β_T を固定)
    n_bound: int = 100  # N_b, 変分下界を平均する x_0 ~ p の数
    n_samples: int = 400  # N_s, 分散の選び方ごとの祖先サンプリングの点の数
    n_floor_pairs: int = 5  # エネルギー距離のノイズの床を測る厳密なサンプルの組の数
    n_w2_floor_pairs: int = 3  # W2 の床を測る組の数 (1 組 1 秒ほどかかる)
    entropy_box: float = 4.0  # H(p) の数値積分の箱 [-b, b]^2
    entropy_points: int = 401  # その格子の 1 軸の点数
    error_times: tuple[int, ...] = ERROR_TIMES  # ε_θ と ε* を比べる時刻 t
    n_error: int = 2000  # 時刻ごとに比べる x_t ~ q(x_t) の数
    seed: int = 0  # 乱数のシード (用途ごとにずらして使う)


def expected_prior_kl(schedule: NoiseSchedule, mixture: GaussianMixture) -> float:
    r"""$\mathbb{E}_{p(x_0)} L_T$ [nats] を厳密な 2 次モーメントで:
    $\tfrac12(\bar{\alpha}_T \mathbb{E}\|x_0\|^2 - d \bar{\alpha}_T - d \log(1 - \bar{\alpha}_T))$,
    $\mathbb{E}\|x_0\|^2 = \sum_k \pi_k (\|\mu_k\|^2 + \operatorname{tr} \Sigma_k)$。
    """
    check_instance(schedule, NoiseSchedule, name="schedule")
    check_instance(mixture, GaussianMixture, name="mixture")
    a = schedule.alpha_bars_with_zero[-1].item()
    second_moment = float(mixture.weights @ (np.sum(mixture.means**2, axis=1)
                                             + np.trace(mixture.covariances, axis1=1, axis2=2)))
    d = mixture.dim
    return 0.5 * (a * second_moment - d * a - d * math.log1p(-a))


@experiment(DdpmSettings)
def prior_terms(settings: DdpmSettings) -> dict:
    r"""事前分布の項 $\mathbb{E}_p L_T$ と $\bar{\alpha}_T$: 線形 (β 1e-4 → 0.02) とコサイン、T ごと。

    戻り値: ``{"linear": {T: L_T}, "cosine": {T: L_T}, "alpha_bar_T": {"linear": {T: ᾱ_T}, …}}``。
    期待値は厳密な 2 次モーメント (``expected_prior_kl``) で取る。
    """
    p = data_distribution()
    out = {"linear": {}, "cosine": {}, "alpha_bar_T": {"linear": {}, "cosine": {}}}
    for T in settings.prior_T:
        for name, sched in (("linear", NoiseSchedule.linear(T)), ("cosine", NoiseSchedule.cosine(T))):
            out[name][T] = expected_prior_kl(sched, p)
            out["alpha_bar_T"][name][T] = sched.alpha_bars_with_zero[-1].item()
    return out


def remember_outputs(model):
    """直前の呼び出しの ``model(x, t)`` を覚え、同じ x と t で呼ばれたら計算し直さない。

    2 つの分散の選び方の変分下界は、同じシードで同じ x_t (すべての時刻をまとめた 1 回の呼び出し) を
    使うので、ネットワークの評価を共有できる。
    """
    check_callable(model, name="model", signature="(x, t)")
    last = {}

    def remembered(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not last or not (torch.equal(last["x"], x) and torch.equal(last["t"], t)):
            last.update(x=x.clone(), t=t.clone(), out=model(x, t))
        return last["out"]

    return remembered


def entropy(mixture: GaussianMixture, box: float, n_points: int) -> float:
    r"""微分エントロピー $H(p) = -\int p \log p\, dx$ [nats] (箱 $[-b, b]^d$ の台形則)。"""
    check_instance(mixture, GaussianMixture, name="mixture")
    box = check_positive(box, name="box")
    grid = make_grid([-box] * mixture.dim, [box] * mixture.dim, n_points)
    log_p = mixture.log_prob(grid.points)
    return float(-np.exp(log_p + grid.log_weights) @ log_p)


@experiment(DdpmSettings)
def variational_bound(settings: DdpmSettings) -> dict:
    r"""変分下界 (負の対数尤度の上界) の各項 [nats]: 学習済み ε_θ と厳密な ε*、分散 β̃_t と β_t。

    戻り値: ``{"entropy": H(p), "n": N_b, "trained"|"exact": {"posterior"|"beta": {"prior", "diffusion",
    "decoder", "total", "se", "per_t"}}}``。``diffusion`` は $\sum_{t=2}^T L_{t-1}$ の平均、
    ``se`` は total の標準誤差、``per_t`` は $t = 2, \dots, T$ の $L_{t-1}$ の平均 (T-1,)。
    どの組み合わせも同じ x_0 と同じノイズを使う (差が比べやすい)。
    """
    p, sched = data_distribution(), schedule(settings.model)
    x0 = torch.as_tensor(p.sample(settings.n_bound, seed=settings.seed + 1))
    models = {"trained": remember_outputs(trained_ddpm(settings.model)[0]),
              "exact": remember_outputs(exact_epsilon(p, sched))}
    out = {"entropy": entropy(p, settings.entropy_box, settings.entropy_points), "n": settings.n_bound}
    with single_thread():
        for name, model in models.items():
            out[name] = {}
            for variance in VARIANCES:
                terms = variational_bound_terms(sched, model, x0, seed=settings.seed + 2, variance=variance)
                total = terms["prior"] + terms["diffusion"].sum(dim=1) + terms["decoder"]
                out[name][variance] = {
                    "prior": terms["prior"].mean().item(), "diffusion": terms["diffusion"].sum(dim=1).mean().item(),
                    "decoder": terms["decoder"].mean().item(), "total": total.mean().item(),
                    "se": total.std().item() / math.sqrt(len(total)),
                    "per_t": terms["diffusion"].mean(dim=0).numpy()}
    return out


@experiment(DdpmSettings)
def ancestral_samples(settings: DdpmSettings) -> dict:
    r"""学習済み ε_θ の祖先サンプリング (分散 β̃_t と β_t、同じ x_T と同じノイズ) と 2 サンプル距離。

    戻り値: ``exact`` (厳密なサンプル)、``samples`` {variance: (N_s, 2)}、``energy`` / ``w2``
    {variance: 厳密なサンプルとの距離}、``energy_floor`` / ``w2_floor`` (厳密なサンプルどうしの距離の組)
    とその平均 ``energy_floor_mean`` / ``w2_floor_mean``。
    """
    p, sched = data_distribution(), schedule(settings.model)
    model = trained_ddpm(settings.model)[0]
    n = settings.n_samples
    exact = p.sample(n, seed=settings.seed + 3)
    x_T = torch.randn(n, 2, generator=torch.Generator().manual_seed(settings.seed + 4), dtype=torch.float64)
    samples = {v: ddpm_sample(sched, model, x_T, seed=settings.seed + 5, variance=v).numpy()
               for v in VARIANCES}
    energy_floor = noise_floor(p.sample, n, n_pairs=settings.n_floor_pairs, seed=settings.seed + 6)
    w2_floor = noise_floor(p.sample, n, distance=wasserstein2, n_pairs=settings.n_w2_floor_pairs,
                           seed=settings.seed + 6)
    return {"exact": exact, "samples": samples,
            "energy": {v: energy_distance(x, exact) for v, x in samples.items()},
            "w2": {v: wasserstein2(x, exact) for v, x in samples.items()},
            "energy_floor": energy_floor, "energy_floor_mean": float(energy_floor.mean()),
            "w2_floor": w2_floor, "w2_floor_mean": float(w2_floor.mean())}


@experiment(DdpmSettings)
def epsilon_error(settings: DdpmSettings) -> dict:
    r"""時刻ごとの学習済み ε_θ と厳密な ε* の比較 ($x_t \sim q(x_t)$ を n_error 点)。

    戻り値 (どれも形 (len(error_times),)): ``t``、相対誤差 ``relative``
    $\mathbb{E}\|\varepsilon_\theta - \varepsilon^*\|^2 / \mathbb{E}\|\varepsilon^*\|^2$、
    1 次元あたりの損失 ``loss`` $\mathbb{E}\|\varepsilon - \varepsilon_\theta\|^2 / d$ と
    その下限 ``floor`` $\mathbb{E}\|\varepsilon - \varepsilon^*\|^2 / d$ (どれも同じ点で測る)。
    """
    p, sched = data_distribution(), schedule(settings.model)
    model, exact = trained_ddpm(settings.model)[0], exact_epsilon(p, sched)
    rng = make_rng(settings.seed + 7)
    out = {"t": np.array(settings.error_times), "relative": [], "loss": [], "floor": []}
    with torch.no_grad(), single_thread():
        for t in settings.error_times:
            x0 = torch.as_tensor(p.sample(settings.n_error, seed=rng))
            eps = torch.as_tensor(rng.standard_normal(x0.shape))
            tt = torch.full((settings.n_error,), t)
            x_t = q_sample(sched, x0, tt, eps)
            learned, ideal = model(x_t, tt), exact(x_t, tt)
            out["relative"].append(relative_score_error(learned.numpy(), ideal.numpy()))
            out["loss"].append(((eps - learned) ** 2).mean().item())
            out["floor"].append(((eps - ideal) ** 2).mean().item())
    return {key: np.asarray(value) for key, value in out.items()}


@dataclass(frozen=True)
class SmallStepsSettings:
    """2 つのモードを持つ 1 次元のデータで、逆向きの 1 歩 q(x_{t-1} | x_t) とそのガウス近似の KL を測る設定。"""

    means: tuple[float, ...] = (-2.0, 2.0)  # μ_k, データ分布 p の成分の平均
    std: float = 0.5  # 成分の標準偏差
    weights: tuple[float, ...] = (0.3, 0.7)  # π_k, 混合比
    alpha_bar_prev: float = 1.0  # ᾱ_{t-1} (1 なら x_{t-1} = x_0、データに戻る最後の 1 歩)
    betas: tuple[float, ...] = tuple(float(b) for b in np.geomspace(1e-4, 0.5, 25))  # 測る β
    x_ts: tuple[float, ...] = (0.0, 0.5)  # 条件にする x_t (2 つのモードの境目の近く)
    panel_betas: tuple[float, ...] = (0.3, 0.01)  # 密度を描く β (大きい・小さい)
    panel_x_t: float = 0.0  # 密度を描く x_t


def small_steps_mixture(settings: SmallStepsSettings) -> GaussianMixture:
    """2 つのモードを持つ 1 次元の混合分布 p。"""
    check_instance(settings, SmallStepsSettings, name="settings")
    return isotropic_mixture([[m] for m in settings.means], settings.std, weights=list(settings.weights))


@experiment(SmallStepsSettings)
def reverse_step_kl(settings: SmallStepsSettings) -> dict:
    r"""$D_{\mathrm{KL}}(q(x_{t-1} \mid x_t) \| \text{同じ平均・分散のガウス分布})$ を β と x_t ごとに。

    戻り値: ``betas`` (B,)、``kl`` と漸近形 ``asymptote`` (len(x_ts), B)、``panels`` (panel_betas の順に
    ``{"beta", "grid", "density", "gaussian", "kl"}``: 厳密な密度とモーメントを合わせたガウス分布)。
    """
    p, a = small_steps_mixture(settings), settings.alpha_bar_prev
    kl = [[reverse_conditional_gaussian_kl(p, a, b, x) for b in settings.betas] for x in settings.x_ts]
    asymptote = [[small_step_kl_asymptote(p, a, b, x) for b in settings.betas] for x in settings.x_ts]
    panels = []
    for beta in settings.panel_betas:
        grid, log_q = reverse_conditional(p, a, beta, settings.panel_x_t, half_width=6.0, n_points=1201)
        q, h = np.exp(log_q), grid[1] - grid[0]
        mean = h * np.sum(q * grid)
        var = h * np.sum(q * (grid - mean) ** 2)
        gaussian = np.exp(-0.5 * (grid - mean) ** 2 / var) / math.sqrt(2 * math.pi * var)
        panels.append({"beta": beta, "grid": grid, "density": q, "gaussian": gaussian,
                       "kl": reverse_conditional_gaussian_kl(p, a, beta, settings.panel_x_t)})
    return {"betas": np.array(settings.betas), "x_ts": np.array(settings.x_ts), "kl": np.array(kl),
            "asymptote": np.array(asymptote), "panels": panels}
