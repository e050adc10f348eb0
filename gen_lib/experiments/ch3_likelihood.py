r"""第 3 章「確率フロー ODE と厳密な尤度」の実験: 厳密なスコアでの検算、Hutchinson の推定量の揺らぎ、
学習した DDPM とフローマッチングの負の対数尤度、DDIM ($\eta = 0$) が ODE の解に近づくこと。

データは円周上の 8 個のモードの混合 (``ch3_models.data_distribution``)。ガウス混合なので、前向き過程の周辺分布 $p_t$、
そのスコア、データの対数密度 $\log p(x)$ がすべて厳密に分かる。過程は DDPM の線形スケジュールの
連続版の VP SDE ($\beta_{\min} = 0.1$, $\beta_{\max} = 20$)。
"""

from __future__ import annotations

# --8<-- [start:imports]
from dataclasses import dataclass

import numpy as np
import torch

from gen_lib.core.experiment import experiment
from gen_lib.core.nn import single_thread
from gen_lib.core.validation import InputError, as_array, as_batch_tensor, check_finite_result
from gen_lib.diffusion.likelihood import (divergence_exact, ode_log_likelihood,
                                         sde_kl_bound)
from gen_lib.diffusion.ode import ddim_ode, probability_flow, solve_reference
from gen_lib.diffusion.samplers import ddim_sample
from gen_lib.diffusion.sde import VPSDE, exact_score, output_gain, score_from_epsilon
from gen_lib.experiments.ch3_models import (data_distribution, schedule,
                                            trained_ddpm, trained_flow)
# --8<-- [end:imports]

__all__ = ["ExactSettings", "exact_likelihood", "LikelihoodSettings", "model_nll", "model_likelihoods",
           "BoundSettings", "sde_bound", "GainSettings", "output_gains", "DdimSettings", "ddim_convergence"]


@dataclass(frozen=True)
class ExactSettings:
    """厳密なスコアで確率フロー ODE の対数尤度を検算し、Hutchinson の推定量の揺らぎを測る設定。"""

    n_points: int = 200  # 対数尤度を求める x ~ p の数
    n_probe_points: int = 48  # Hutchinson の推定量を試す点の数
    n_probes: int = 8  # 1 点あたりの Hutchinson の u の本数 (u ごとに別の ODE を解く)
    rtol: float = 1e-6  # DOP853 の相対許容誤差 (絶対許容誤差も同じ)
    seed: int = 0  # 点と u のシード


@experiment(ExactSettings)
def exact_likelihood(settings: ExactSettings) -> dict:
    r"""厳密なスコアの確率フロー ODE で $t = 0$ から $1$ まで解いた対数尤度。

    戻り値: ``log_p`` (厳密な $\log p(x)$)、要約 (``max_error`` など、下の辞書を参照)、
    終端に厳密な $p_1$ を使った ``ode_exact_terminal``、
    $\mathcal{N}(0, I)$ を使った ``ode_gaussian_prior`` (どれも (n_points,))、
    Hutchinson の推定量 (同じ点を n_probes 回並べ、行ごとに別の $u$) の ``hutchinson``
    (n_probe_points, n_probes) と、その点の厳密な値 ``hutchinson_exact`` (n_probe_points,)。
    """
    p, sde = data_distribution(), VPSDE()
    velocity = probability_flow(sde, exact_score(p, sde))
    m1, s1 = (value.item() for value in sde.marginal(torch.ones(1, dtype=torch.float64)))
    terminal = p.noised(m1, s1)  # 厳密な p_1
    x = torch.as_tensor(p.sample(settings.n_points, seed=settings.seed))
    tol = settings.rtol
    with single_thread():
        x1, integral = solve_reference(velocity, x, 0.0, 1.0, rtol=tol, atol=tol,
                                       extra=lambda y, t: divergence_exact(velocity, y, t))
        probe = x[:settings.n_probe_points].repeat(settings.n_probes, 1)  # (n_probes * M, 2)
        hutchinson = ode_log_likelihood(velocity, probe, sde.prior_log_prob, estimator="hutchinson",
                                        seed=settings.seed + 1, rtol=tol, atol=tol)
    log_p = p.log_prob(x.numpy())
    exact_terminal = (terminal.log_prob_torch(x1) + integral).numpy()
    prior_ll = (sde.prior_log_prob(x1) + integral).numpy()
    probes = hutchinson.reshape(settings.n_probes, -1).T.numpy()  # (M, n_probes)
    probe_error = probes - prior_ll[:settings.n_probe_points, None]
    return {"n_points": settings.n_points, "log_p": log_p,
            "ode_exact_terminal": exact_terminal, "ode_gaussian_prior": prior_ll,
            "hutchinson": probes, "hutchinson_exact": prior_ll[:settings.n_probe_points],
            "max_error": np.abs(exact_terminal - log_p).max(),
            "prior_gap_mean": (prior_ll - log_p).mean(),
            "prior_gap_max": np.abs(prior_ll - log_p).max(),
            "probe_std": probes.std(axis=1, ddof=1).mean(),  # 点ごとの u による標準偏差の平均
            "probe_bias": probe_error.mean(),
            "probe_bias_se": probe_error.std(ddof=1) / np.sqrt(probe_error.size)}


# --8<-- [start:settings]
@dataclass(frozen=True)
class LikelihoodSettings:
    """学習した DDPM とフローマッチングの負の対数尤度を確率フロー ODE で測る設定。"""

    n_points: int = 200  # 対数尤度を求める検証用の x ~ p の数 (学習データとは別)
    n_entropy: int = 200_000  # エントロピー H(p) のモンテカルロのサンプル数
    t_start: float = 1e-3  # DDPM の ODE を始める時刻 (= 1/T。t = 0 では s(t) = 0)
    rtol: float = 1e-4  # DOP853 の相対許容誤差 (絶対許容誤差も同じ。対数尤度の誤差は KL の標準誤差より十分小さい)
    seed: int = 1  # 検証用の点のシード (エントロピーのサンプルは seed + 1)
# --8<-- [end:settings]


# --8<-- [start:model_nll]
def model_nll(velocity, x: torch.Tensor, log_p: np.ndarray, t_start: float,
              rtol: float) -> dict:
    r"""速度場 $v$ のモデルの NLL $-\log q_\theta(x)$ と KL の推定。

    終端はモデルの事前分布 $\mathcal{N}(0, I)$、発散は厳密 (自動微分)。
    ``kl`` は点ごとの $\log p(x) - \log q_\theta(x)$ の平均、``kl_se`` は
    その標準誤差。
    """
    if not callable(velocity):
        raise InputError(f"velocity must be callable as velocity(x, t), got {type(velocity).__name__}")
    x, log_p = as_batch_tensor(x, name="x"), as_array(log_p, name="log_p", ndim=1)
    if log_p.shape != (len(x),):
        raise InputError(f"log_p must have shape ({len(x)},) (one value per point of x), got {log_p.shape}")
    if isinstance(t_start, bool) or not isinstance(t_start, (int, float)) or not 0 <= t_start < 1:
        raise InputError(f"t_start must be a number in [0, 1) (the prior sits at t = 1), got {t_start!r}")
    prior = VPSDE().prior_log_prob  # log N(x; 0, I)
    log_q = ode_log_likelihood(velocity, x, prior, t_start=t_start,
                               rtol=rtol, atol=rtol).numpy()
    gap = log_p - log_q  # 点ごとの log p(x) - log q_θ(x)
    with np.errstate(over="ignore", invalid="ignore"):
        result = {"nll": -log_q, "kl": gap.mean(), "kl_se": gap.std(ddof=1) / np.sqrt(len(gap))}
    check_finite_result([result["kl"], result["kl_se"]], name="x or log_p")
    return result
# --8<-- [end:model_nll]


@experiment(LikelihoodSettings)
def model_likelihoods(settings: LikelihoodSettings) -> dict:
    r"""DDPM ($\varepsilon_\theta$ をスコアに直した確率フロー ODE) とフローマッチング ($v_\theta$) の NLL。

    戻り値: ``entropy`` $H(p)$ と標準誤差 ``entropy_se`` (n_entropy 点のモンテカルロ)、
    ``ddpm`` と ``flow`` (``model_nll`` の辞書)、検証用の点の ``log_p``。
    """
    p, sde = data_distribution(), VPSDE()
    x = torch.as_tensor(p.sample(settings.n_points, seed=settings.seed))
    log_p = p.log_prob(x.numpy())
    entropy_terms = -p.log_prob(p.sample(settings.n_entropy, seed=settings.seed + 1))
    ddpm, _ = trained_ddpm()
    flow, _ = trained_flow()
    velocities = {"ddpm": probability_flow(sde, score_from_epsilon(ddpm, sde, schedule().T)),
                  "flow": flow}
    starts = {"ddpm": settings.t_start, "flow": 0.0}
    with single_thread():
        results = {name: model_nll(v, x, log_p, starts[name], settings.rtol)
                   for name, v in velocities.items()}
    return {"n_points": settings.n_points, "n_entropy": settings.n_entropy,
            "entropy": entropy_terms.mean(),
            "entropy_se": entropy_terms.std(ddof=1) / np.sqrt(settings.n_entropy),
            "log_p": log_p, **results}


@dataclass(frozen=True)
class BoundSettings:
    """同じ DDPM を逆向き SDE のモデルとみたときの KL の上界 (スコアの誤差の項) を測る設定。"""

    n_points: int = 2000  # x_0 ~ p の数 (時刻ごとに同じ x_0 とノイズを使う)
    n_times: int = 40  # t_start から 1 までの対数格子の時刻の数
    t_start: float = 1e-3  # 確率フロー ODE の尤度と同じ、積分を始める時刻
    seed: int = 3  # x_0 のシード (ノイズは seed + 1)


@experiment(BoundSettings)
def sde_bound(settings: BoundSettings) -> dict:
    r"""学習した DDPM のスコア $-\varepsilon_\theta / s(t)$ と厳密なスコアの ``sde_kl_bound``
    (``bound`` [nats]、``integrand``) と、その時刻 ``times``。"""
    p, sde = data_distribution(), VPSDE()
    model, _ = trained_ddpm()
    times = np.geomspace(settings.t_start, 1.0, settings.n_times)
    with single_thread():
        out = sde_kl_bound(score_from_epsilon(model, sde, schedule().T), exact_score(p, sde), sde,
                           p.sample(settings.n_points, seed=settings.seed), times, seed=settings.seed + 1)
    return {**out, "times": times}


@dataclass(frozen=True)
class GainSettings:
    """ネットワークの出力の誤差が確率フロー ODE の速度場に入る倍率を描く設定 (厳密な式だけで、学習しない)。"""

    t_start: float = 1e-3  # 時刻の格子の始まり (確率フロー ODE の尤度と同じ)
    n_times: int = 200  # t_start から 1 までの等間隔の時刻の数


@experiment(GainSettings)
def output_gains(settings: GainSettings) -> dict:
    r"""VP SDE で、予測の種類ごとの ``output_gain`` の絶対値 (``epsilon``・``x0``・``v``、形 (n_times,))
    と時刻 ``times``、VP の係数 ``m``・``s``・``beta``。"""
    sde = VPSDE()
    times = torch.linspace(settings.t_start, 1.0, settings.n_times, dtype=torch.float64)
    m, s = sde.marginal(times)
    gains = {prediction: output_gain(sde, times, prediction).abs().numpy() for prediction in ("epsilon", "x0", "v")}
    return {"times": times.numpy(), "m": m.numpy(), "s": s.numpy(), "beta": sde.beta(times).numpy(), **gains}


@dataclass(frozen=True)
class DdimSettings:
    """DDIM (η = 0) のサンプルが、それが離散化する ODE の解に近づくことを見る設定。"""

    n_points: int = 100  # x_T ~ N(0, I) の数
    steps: tuple[int, ...] = (2, 5, 10, 20, 50, 100, 200, 500)  # DDIM のステップ数 S
    rtol: float = 1e-6  # 参照解 (DOP853) の許容誤差
    seed: int = 2  # x_T のシード


@experiment(DdimSettings)
def ddim_convergence(settings: DdimSettings) -> dict:
    r"""同じ $x_T$ からの DDIM ($\eta = 0$、間隔 trailing) と、ODE $dy/d\sigma = \varepsilon_\theta$ の参照解。

    戻り値: ``steps`` (S,)、参照解との平均 2 乗誤差の平方根 ``rms`` (S,)、参照解 ``reference``、
    ステップ数ごとの DDIM のサンプル ``samples`` (S, N, 2)。
    """
    model, _ = trained_ddpm()
    sched = schedule()
    generator = torch.Generator().manual_seed(settings.seed)
    x_T = torch.randn(settings.n_points, 2, generator=generator, dtype=torch.float64)
    T = torch.full((settings.n_points,), sched.T)
    sigma_T = sched.sigma(T)[0].item()
    with single_thread():
        y_0, _ = solve_reference(ddim_ode(sched, model), x_T / sched.alpha_bar(T)[0].sqrt(),
                                 sigma_T, 0.0, rtol=settings.rtol, atol=settings.rtol)
    samples = np.stack([ddim_sample(sched, model, x_T, s, spacing="trailing").numpy()
                        for s in settings.steps])
    rms = np.sqrt(((samples - y_0.numpy()[None]) ** 2).sum(-1).mean(-1))
    return {"n_points": settings.n_points, "steps": np.array(settings.steps), "rms": rms,
            "reference": y_0.numpy(),
            "samples": samples}
