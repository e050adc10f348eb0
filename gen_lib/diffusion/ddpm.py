r"""DDPM (Ho et al. 2020): 前向き過程の閉じた形、事後分布 $q(x_{t-1} \mid x_t, x_0)$、予測の変換、
逆向きの 1 ステップ、変分下界。

記号は ``gen_lib.diffusion.schedule`` と同じ ($t = 1, \dots, T$、$\bar{\alpha}_0 = 1$)。
$x$ は形 ``(N, …)`` のテンソル、時刻 $t$ は形 ``(N,)`` の整数テンソル (点ごとに違ってよい)。
学習する逆過程 (生成過程) は記号一覧にならって $q_\theta(x_{t-1} \mid x_t)$ と書く (論文の $p_\theta$)。
ネットワークの出力の意味 (``prediction``) は次の 3 通りで、互いに変換できる:

- ``"epsilon"``: 加えたノイズ $\varepsilon$ (Ho et al. 2020)
- ``"x0"``: データ $x_0$
- ``"v"``: $v = \sqrt{\bar{\alpha}_t}\, \varepsilon - \sqrt{1 - \bar{\alpha}_t}\, x_0$
  (Salimans & Ho 2022)
"""

from __future__ import annotations

# --8<-- [start:imports]
import math

import torch

from gen_lib.core.validation import (InputError, as_batch_tensor, as_float_tensor, as_matching_batches,
                                     check_callable, check_finite_result, check_same_shape, make_generator)
from gen_lib.diffusion.schedule import NoiseSchedule, broadcast_to
from gen_lib.distributions.gaussian_mixture import GaussianMixture
# --8<-- [end:imports]

__all__ = ["q_sample", "prior_kl", "q_posterior_mean_variance", "predict_x0", "predict_epsilon",
           "velocity_target", "ddpm_step", "reverse_mean_variance", "gaussian_kl", "variational_bound_terms",
           "exact_epsilon"]

PREDICTIONS = ("epsilon", "x0", "v")


# --8<-- [start:checks]
def _check_schedule(schedule) -> NoiseSchedule:
    if not isinstance(schedule, NoiseSchedule):
        raise InputError("schedule must be a NoiseSchedule, "
                         f"got {type(schedule).__name__}")
    return schedule


def _check_times(schedule: NoiseSchedule, t, x: torch.Tensor, *,
                 allow_zero: bool = False) -> torch.Tensor:
    t = schedule.check_t(t, allow_zero=allow_zero)
    if t.shape[0] != x.shape[0]:
        raise InputError(f"t must have shape (N,) = ({x.shape[0]},) "
                         f"to match x, got {tuple(t.shape)}")
    return t
# --8<-- [end:checks]


# --8<-- [start:q_sample]
def q_sample(schedule: NoiseSchedule, x0, t, noise) -> torch.Tensor:
    r"""$x_t = \sqrt{\bar{\alpha}_t} x_0
    + \sqrt{1 - \bar{\alpha}_t} \varepsilon$ (Ho et al. 2020, 式 (4))。

    ``noise`` は $\varepsilon \sim \mathcal{N}(0, I)$ (x0 と同じ形)。
    ノイズを引数にするのは、学習の損失がその $\varepsilon$ を目標にするからである。
    """
    schedule = _check_schedule(schedule)
    x0 = as_batch_tensor(x0, name="x0")
    noise = as_batch_tensor(noise, name="noise")
    check_same_shape(x0, noise, "x0 and noise")
    t = _check_times(schedule, t, x0, allow_zero=True)
    a = broadcast_to(schedule.alpha_bar(t), x0)  # (N, 1, …)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise
# --8<-- [end:q_sample]


# --8<-- [start:prior_kl]
def prior_kl(schedule: NoiseSchedule, x0: torch.Tensor) -> torch.Tensor:
    r"""事前分布の項 [nats]、形 (N,):
    $L_T = \mathrm{KL}(q(x_T \mid x_0) \,\|\, \mathcal{N}(0, I))$。

    $q(x_T \mid x_0)
    = \mathcal{N}(\sqrt{\bar{\alpha}_T} x_0, (1 - \bar{\alpha}_T) I)$ なので、
    次元ごとに $\tfrac12(\bar{\alpha}_T x_0^2 + (1 - \bar{\alpha}_T) - 1
    - \log(1 - \bar{\alpha}_T))$ の和になる。
    """
    schedule = _check_schedule(schedule)
    x0 = as_batch_tensor(x0, name="x0")
    a = schedule.alpha_bars_with_zero[-1].item()  # ᾱ_T
    per_dim = 0.5 * (a * x0**2 - a - math.log1p(-a))  # (1-a) - 1 = -a
    return check_finite_result(per_dim.flatten(1).sum(dim=1), name="x0", source=x0)
# --8<-- [end:prior_kl]


# --8<-- [start:posterior]
def q_posterior_mean_variance(schedule: NoiseSchedule, x0, x_t, t
                              ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""事後分布 $q(x_{t-1} \mid x_t, x_0)
    = \mathcal{N}(\tilde{\mu}_t, \tilde{\beta}_t I)$
    (Ho et al. 2020, 式 (6), (7))。

    $\tilde{\mu}_t
    = \frac{\sqrt{\bar{\alpha}_{t-1}} \beta_t}{1 - \bar{\alpha}_t} x_0
    + \frac{\sqrt{\alpha_t} (1 - \bar{\alpha}_{t-1})}{1 - \bar{\alpha}_t}
    x_t$,
    $\tilde{\beta}_t
    = \frac{1 - \bar{\alpha}_{t-1}}{1 - \bar{\alpha}_t} \beta_t$。

    戻り値は平均 (x と同じ形) と分散 (形 (N,))。
    $t = 1$ では $\tilde{\beta}_1 = 0$ で平均は $x_0$。
    """
    schedule = _check_schedule(schedule)
    x0 = as_batch_tensor(x0, name="x0")
    x_t = as_batch_tensor(x_t, name="x_t")
    check_same_shape(x0, x_t, "x0 and x_t")
    t = _check_times(schedule, t, x_t)
    a_t, a_prev = schedule.alpha_bar(t), schedule.alpha_bar(t - 1)
    beta = schedule.beta(t)
    coef_x0 = broadcast_to(a_prev.sqrt() * beta / (1 - a_t), x_t)
    coef_xt = broadcast_to((1 - beta).sqrt() * (1 - a_prev) / (1 - a_t), x_t)
    return coef_x0 * x0 + coef_xt * x_t, schedule.posterior_variance(t)
# --8<-- [end:posterior]


# --8<-- [start:convert]
def predict_x0(schedule: NoiseSchedule, x_t, t, model_output,
               prediction: str = "epsilon") -> torch.Tensor:
    r"""ネットワークの出力から $\hat{x}_0$ を作る。

    - epsilon: $\hat{x}_0 = (x_t - \sqrt{1 - \bar{\alpha}_t}
      \hat{\varepsilon}) / \sqrt{\bar{\alpha}_t}$ (式 (4) を解く)
    - x0: そのまま
    - v: $\hat{x}_0 = \sqrt{\bar{\alpha}_t}\, x_t
      - \sqrt{1 - \bar{\alpha}_t}\, \hat{v}$
    """
    a, out = _prediction_inputs(schedule, x_t, t, model_output, prediction)
    if prediction == "epsilon":
        return (x_t - (1 - a).sqrt() * out) / a.sqrt()
    if prediction == "x0":
        return out
    return a.sqrt() * x_t - (1 - a).sqrt() * out


def predict_epsilon(schedule: NoiseSchedule, x_t, t, model_output,
                    prediction: str = "epsilon") -> torch.Tensor:
    r"""ネットワークの出力から $\hat{\varepsilon}$ を作る。

    - x0: $\hat{\varepsilon} = (x_t - \sqrt{\bar{\alpha}_t}\, \hat{x}_0)
      / \sqrt{1 - \bar{\alpha}_t}$
    - v: $\hat{\varepsilon} = \sqrt{1 - \bar{\alpha}_t}\, x_t
      + \sqrt{\bar{\alpha}_t}\, \hat{v}$
    """
    a, out = _prediction_inputs(schedule, x_t, t, model_output, prediction)
    if prediction == "epsilon":
        return out
    if prediction == "x0":
        return (x_t - a.sqrt() * out) / (1 - a).sqrt()
    return (1 - a).sqrt() * x_t + a.sqrt() * out


def velocity_target(schedule: NoiseSchedule, x0, t, noise) -> torch.Tensor:
    r"""v 予測の目標 $v = \sqrt{\bar{\alpha}_t}\, \varepsilon
    - \sqrt{1 - \bar{\alpha}_t}\, x_0$ (Salimans & Ho 2022)。"""
    schedule = _check_schedule(schedule)
    x0 = as_batch_tensor(x0, name="x0")
    noise = as_batch_tensor(noise, name="noise")
    check_same_shape(x0, noise, "x0 and noise")
    a = broadcast_to(schedule.alpha_bar(_check_times(schedule, t, x0)), x0)
    return a.sqrt() * noise - (1 - a).sqrt() * x0


def _prediction_inputs(schedule, x_t, t, model_output, prediction):
    if prediction not in PREDICTIONS:
        raise InputError(f"prediction must be one of {PREDICTIONS}, "
                         f"got {prediction!r}")
    schedule = _check_schedule(schedule)
    x_t = as_batch_tensor(x_t, name="x_t")
    model_output = as_batch_tensor(model_output, name="model_output")
    check_same_shape(x_t, model_output, "x_t and model_output")
    a = broadcast_to(schedule.alpha_bar(_check_times(schedule, t, x_t)), x_t)
    return a, model_output
# --8<-- [end:convert]


# --8<-- [start:step]
def ddpm_step(schedule: NoiseSchedule, x_t, t, model_output, noise, *,
              prediction: str = "epsilon",
              variance: str = "posterior") -> torch.Tensor:
    r"""祖先サンプリングの 1 ステップ
    $x_{t-1} \sim q_\theta(x_{t-1} \mid x_t)
    = \mathcal{N}(\mu_\theta, \sigma_t^2 I)$。

    1. 出力を $\hat{x}_0$ に変換する (``predict_x0``)。
    2. 平均は事後分布の平均に $\hat{x}_0$ を入れた
       $\mu_\theta = \tilde{\mu}_t(x_t, \hat{x}_0)$。ε 予測なら
       Ho et al. 2020 の式 (11) $\frac{1}{\sqrt{\alpha_t}}(x_t
       - \frac{\beta_t}{\sqrt{1-\bar{\alpha}_t}} \hat{\varepsilon})$ と同じ。
    3. 分散は ``variance="posterior"`` なら $\sigma_t^2 = \tilde{\beta}_t$、
       ``"beta"`` なら $\sigma_t^2 = \beta_t$ (Ho et al. 2020, 3.2 節)。
       $t = 1$ ではノイズを加えない ($\hat{x}_0$ をそのまま返す)。

    ``noise`` は $z \sim \mathcal{N}(0, I)$ (x_t と同じ形)。
    """
    mean, var = reverse_mean_variance(schedule, x_t, t, model_output,
                                      prediction=prediction,
                                      variance=variance)
    noise = as_batch_tensor(noise, name="noise")
    check_same_shape(x_t, noise, "x_t and noise")
    t = schedule.check_t(t)
    var = torch.where(t > 1, var, torch.zeros_like(var))  # 最後の 1 歩はノイズなし
    return mean + broadcast_to(var.sqrt(), mean) * noise


def reverse_mean_variance(schedule: NoiseSchedule, x_t, t, model_output, *,
                          prediction: str = "epsilon",
                          variance: str = "posterior"
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""$q_\theta(x_{t-1} \mid x_t) = \mathcal{N}(\mu_\theta, \sigma_t^2 I)$ の
    平均 (x_t と同じ形) と分散 $\sigma_t^2$ (形 (N,))。"""
    if variance not in ("posterior", "beta"):
        raise InputError("variance must be 'posterior' or 'beta', "
                         f"got {variance!r}")
    x0_hat = predict_x0(schedule, x_t, t, model_output, prediction)
    t = schedule.check_t(t)
    mean, posterior_var = q_posterior_mean_variance(schedule, x0_hat, x_t, t)
    if variance == "beta":
        return mean, schedule.beta(t)
    return mean, posterior_var
# --8<-- [end:step]


# --8<-- [start:variational_bound]
def gaussian_kl(mean_q, var_q, mean_p, var_p) -> torch.Tensor:
    r"""$\mathrm{KL}(\mathcal{N}(m_q, v_q I)
    \,\|\, \mathcal{N}(m_p, v_p I))$ [nats]、点ごと (形 (N,))。
    平均は (N, …)、分散は (N,)。

    $\frac{d}{2}\left(\frac{v_q}{v_p} - 1 - \log \frac{v_q}{v_p}\right)
    + \frac{\|m_q - m_p\|^2}{2 v_p}$
    """
    mean_q, mean_p = as_matching_batches(mean_q=mean_q, mean_p=mean_p)
    var_q, var_p = (as_float_tensor(v, name=name, ndim=1) for v, name in ((var_q, "var_q"), (var_p, "var_p")))
    if var_q.shape != mean_q.shape[:1] or var_p.shape != mean_q.shape[:1]:
        raise InputError(f"var_q and var_p must have shape ({mean_q.shape[0]},), "
                         f"got {tuple(var_q.shape)} and {tuple(var_p.shape)}")
    if not (torch.all(var_q > 0) and torch.all(var_p > 0)):
        raise InputError("var_q and var_p must be positive, got min "
                         f"{var_q.min().item()} and {var_p.min().item()}")
    ratio = var_q / var_p
    squared = ((mean_q - mean_p) ** 2).flatten(1).sum(dim=1)
    d = mean_q[0].numel()
    kl = 0.5 * d * (ratio - 1 - torch.log(ratio)) + squared / (2 * var_p)
    return check_finite_result(kl, name="mean_q or mean_p (or var_p too small)")


def variational_bound_terms(schedule: NoiseSchedule, model, x0, seed=0, *,
                            prediction: str = "epsilon",
                            variance: str = "posterior"
                            ) -> dict[str, torch.Tensor]:
    r"""負の対数尤度の変分上界 $L = L_T + \sum_{t=2}^T L_{t-1} + L_0$ の
    各項 [nats] (Ho et al. 2020, 式 (5))。x_0 ごと・t ごとに x_t を 1 つ引く。

    - ``"prior"`` (N,):
      $L_T = \mathrm{KL}(q(x_T \mid x_0) \| \mathcal{N}(0, I))$
    - ``"diffusion"`` (N, T-1): 列 $t - 2$ が $t = 2, \dots, T$ の
      $L_{t-1} = \mathrm{KL}(q(x_{t-1} \mid x_t, x_0)
      \| q_\theta(x_{t-1} \mid x_t))$
    - ``"decoder"`` (N,): $L_0 = -\log \mathcal{N}(x_0; \mu_\theta(x_1, 1),
      \beta_1 I)$ (連続のデータ。$\tilde{\beta}_1 = 0$ なので分散は $\beta_1$)
    """
    schedule = _check_schedule(schedule)
    check_callable(model, name="model", signature="(x, t)")
    x0 = as_batch_tensor(x0, name="x0")
    generator = make_generator(seed)
    n, d, T = x0.shape[0], x0[0].numel(), schedule.T
    # すべての t をまとめて 1 回で: 行 (t-1)·n + i が x_0 の i 番目と時刻 t
    t = torch.arange(1, T + 1).repeat_interleave(n)  # (T·n,)
    x0_all = x0.repeat(T, *([1] * (x0.ndim - 1)))  # (T·n, …)
    noise = torch.randn(x0_all.shape, generator=generator, dtype=x0.dtype)
    with torch.no_grad():
        x_t = q_sample(schedule, x0_all, t, noise)  # x_t ~ q(x_t | x_0)
        mean, var = reverse_mean_variance(schedule, x_t, t, model(x_t, t),
                                          prediction=prediction,
                                          variance=variance)
        # L_0 (t = 1 の n 行): 分散 β_1 のガウス分布の負の対数尤度
        beta_1 = schedule.betas[0]
        squared = ((x0 - mean[:n]) ** 2).flatten(1).sum(dim=1)
        decoder = (0.5 * d * torch.log(2 * math.pi * beta_1)
                   + squared / (2 * beta_1))
        # L_{t-1} (t ≥ 2 の行): 2 つのガウス分布の KL (閉じた形)
        diffusion = torch.zeros(n, 0, dtype=torch.float64)  # T = 1 なら項はない
        if T > 1:
            q_mean, q_var = q_posterior_mean_variance(
                schedule, x0_all[n:], x_t[n:], t[n:])
            diffusion = gaussian_kl(q_mean, q_var, mean[n:],
                                    var[n:]).reshape(T - 1, n).T
    return {"prior": prior_kl(schedule, x0), "diffusion": diffusion,
            "decoder": decoder}
# --8<-- [end:variational_bound]


# --8<-- [start:exact_epsilon]
def exact_epsilon(mixture: GaussianMixture, schedule: NoiseSchedule):
    r"""データがガウス混合のときの理想的な ε 予測
    $\varepsilon^*(x_t, t)
    = -\sqrt{1 - \bar{\alpha}_t}\, \nabla_{x_t} \log q(x_t)$。

    $q(x_t) = \int p(x_0) q(x_t \mid x_0) dx_0$ は
    ``mixture.noised(√ᾱ_t, √(1-ᾱ_t))`` (第 1 章と同じ 1 つの道筋)。
    Tweedie の公式から $\mathbb{E}[\varepsilon \mid x_t] = \varepsilon^*(x_t, t)$
    なので、2 乗誤差で学習した ε 予測の最適解である。
    戻り値は ``model(x, t)`` の形の関数。
    """
    if not isinstance(mixture, GaussianMixture):
        raise InputError("mixture must be a GaussianMixture, "
                         f"got {type(mixture).__name__}")
    schedule = _check_schedule(schedule)

    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = _check_times(schedule, t, x)
        out = torch.empty_like(x)
        for value in torch.unique(t):  # 同じ時刻の点をまとめて計算する
            rows = t == value
            a = schedule.alpha_bar(value.reshape(1)).item()
            q_t = mixture.noised(math.sqrt(a), math.sqrt(1 - a))  # q(x_t)
            score = q_t.score(x[rows].detach().numpy())  # ∇ log q(x_t)
            out[rows] = torch.as_tensor(-math.sqrt(1 - a) * score,
                                        dtype=x.dtype)
        return out

    return model
# --8<-- [end:exact_epsilon]
