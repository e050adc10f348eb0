r"""DDPM (Ho et al. 2020): 前向き過程の閉じた形、事後分布 $q(x_{t-1} \mid x_t, x_0)$、予測の変換、逆向きの 1 ステップ。

記号は ``gen_lib.diffusion.schedule`` と同じ ($t = 1, \dots, T$、$\bar{\alpha}_0 = 1$)。
$x$ は形 ``(N, …)`` のテンソル、時刻 $t$ は形 ``(N,)`` の整数テンソル (点ごとに違ってよい)。
ネットワークの出力の意味 (``prediction``) は次の 3 通りで、互いに変換できる:

- ``"epsilon"``: 加えたノイズ $\varepsilon$ (Ho et al. 2020)
- ``"x0"``: データ $x_0$
- ``"v"``: $v = \sqrt{\bar{\alpha}_t}\, \varepsilon - \sqrt{1 - \bar{\alpha}_t}\, x_0$ (Salimans & Ho 2022)
"""

from __future__ import annotations

import torch

from gen_lib.core.validation import as_batch_tensor, check_same_shape
from gen_lib.diffusion.schedule import NoiseSchedule, broadcast_to

PREDICTIONS = ("epsilon", "x0", "v")


def _check_schedule(schedule) -> NoiseSchedule:
    if not isinstance(schedule, NoiseSchedule):
        raise ValueError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
    return schedule


def _check_times(schedule: NoiseSchedule, t, x: torch.Tensor, *, allow_zero: bool = False) -> torch.Tensor:
    t = schedule.check_t(t, allow_zero=allow_zero)
    if t.shape[0] != x.shape[0]:
        raise ValueError(f"t must have shape (N,) = ({x.shape[0]},) to match x, got {tuple(t.shape)}")
    return t


# --8<-- [start:q_sample]
def q_sample(schedule: NoiseSchedule, x0, t, noise) -> torch.Tensor:
    r"""$x_t = \sqrt{\bar{\alpha}_t}\, x_0 + \sqrt{1 - \bar{\alpha}_t}\, \varepsilon$ (Ho et al. 2020, 式 (4))。

    ``noise`` は $\varepsilon \sim \mathcal{N}(0, I)$ (x0 と同じ形)。ノイズを引数にするのは、
    学習の損失がその $\varepsilon$ を目標にするからである。
    """
    schedule = _check_schedule(schedule)
    x0 = as_batch_tensor(x0, name="x0")
    noise = as_batch_tensor(noise, name="noise")
    check_same_shape(x0, noise, "x0 and noise")
    a = broadcast_to(schedule.alpha_bar(_check_times(schedule, t, x0, allow_zero=True)), x0)  # (N, 1, …)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise
# --8<-- [end:q_sample]


# --8<-- [start:posterior]
def q_posterior_mean_variance(schedule: NoiseSchedule, x0, x_t, t) -> tuple[torch.Tensor, torch.Tensor]:
    r"""事後分布 $q(x_{t-1} \mid x_t, x_0) = \mathcal{N}(\tilde{\mu}_t, \tilde{\beta}_t I)$ (Ho et al. 2020, 式 (6), (7))。

    $$
    \tilde{\mu}_t = \frac{\sqrt{\bar{\alpha}_{t-1}}\, \beta_t}{1 - \bar{\alpha}_t} x_0
      + \frac{\sqrt{\alpha_t}\, (1 - \bar{\alpha}_{t-1})}{1 - \bar{\alpha}_t} x_t, \qquad
    \tilde{\beta}_t = \frac{1 - \bar{\alpha}_{t-1}}{1 - \bar{\alpha}_t} \beta_t
    $$

    戻り値は平均 (x と同じ形) と分散 (形 (N,))。$t = 1$ では $\tilde{\beta}_1 = 0$ で平均は $x_0$。
    """
    schedule = _check_schedule(schedule)
    x0 = as_batch_tensor(x0, name="x0")
    x_t = as_batch_tensor(x_t, name="x_t")
    check_same_shape(x0, x_t, "x0 and x_t")
    t = _check_times(schedule, t, x_t)
    a_t, a_prev, beta = schedule.alpha_bar(t), schedule.alpha_bar(t - 1), schedule.beta(t)
    coef_x0 = broadcast_to(a_prev.sqrt() * beta / (1 - a_t), x_t)
    coef_xt = broadcast_to((1 - beta).sqrt() * (1 - a_prev) / (1 - a_t), x_t)
    return coef_x0 * x0 + coef_xt * x_t, schedule.posterior_variance(t)
# --8<-- [end:posterior]


# --8<-- [start:convert]
def predict_x0(schedule: NoiseSchedule, x_t, t, model_output, prediction: str = "epsilon") -> torch.Tensor:
    r"""ネットワークの出力から $\hat{x}_0$ を作る。

    - epsilon: $\hat{x}_0 = (x_t - \sqrt{1 - \bar{\alpha}_t}\, \hat{\varepsilon}) / \sqrt{\bar{\alpha}_t}$ (式 (4) を解く)
    - x0: そのまま
    - v: $\hat{x}_0 = \sqrt{\bar{\alpha}_t}\, x_t - \sqrt{1 - \bar{\alpha}_t}\, \hat{v}$
    """
    a, out = _prediction_inputs(schedule, x_t, t, model_output, prediction)
    if prediction == "epsilon":
        return (x_t - (1 - a).sqrt() * out) / a.sqrt()
    if prediction == "x0":
        return out
    return a.sqrt() * x_t - (1 - a).sqrt() * out


def predict_epsilon(schedule: NoiseSchedule, x_t, t, model_output, prediction: str = "epsilon") -> torch.Tensor:
    r"""ネットワークの出力から $\hat{\varepsilon}$ を作る。

    - x0: $\hat{\varepsilon} = (x_t - \sqrt{\bar{\alpha}_t}\, \hat{x}_0) / \sqrt{1 - \bar{\alpha}_t}$
    - v: $\hat{\varepsilon} = \sqrt{1 - \bar{\alpha}_t}\, x_t + \sqrt{\bar{\alpha}_t}\, \hat{v}$
    """
    a, out = _prediction_inputs(schedule, x_t, t, model_output, prediction)
    if prediction == "epsilon":
        return out
    if prediction == "x0":
        return (x_t - a.sqrt() * out) / (1 - a).sqrt()
    return (1 - a).sqrt() * x_t + a.sqrt() * out


def velocity_target(schedule: NoiseSchedule, x0, t, noise) -> torch.Tensor:
    r"""v 予測の目標 $v = \sqrt{\bar{\alpha}_t}\, \varepsilon - \sqrt{1 - \bar{\alpha}_t}\, x_0$ (Salimans & Ho 2022)。"""
    schedule = _check_schedule(schedule)
    x0 = as_batch_tensor(x0, name="x0")
    noise = as_batch_tensor(noise, name="noise")
    check_same_shape(x0, noise, "x0 and noise")
    a = broadcast_to(schedule.alpha_bar(_check_times(schedule, t, x0)), x0)
    return a.sqrt() * noise - (1 - a).sqrt() * x0
# --8<-- [end:convert]


def _prediction_inputs(schedule, x_t, t, model_output, prediction):
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
    schedule = _check_schedule(schedule)
    x_t = as_batch_tensor(x_t, name="x_t")
    model_output = as_batch_tensor(model_output, name="model_output")
    check_same_shape(x_t, model_output, "x_t and model_output")
    a = broadcast_to(schedule.alpha_bar(_check_times(schedule, t, x_t)), x_t)
    return a, model_output


# --8<-- [start:step]
def ddpm_step(schedule: NoiseSchedule, x_t, t, model_output, noise, *, prediction: str = "epsilon",
              variance: str = "posterior") -> torch.Tensor:
    r"""祖先サンプリングの 1 ステップ $x_{t-1} \sim p_\theta(x_{t-1} \mid x_t) = \mathcal{N}(\mu_\theta, \sigma_t^2 I)$。

    1. 出力を $\hat{x}_0$ に変換する (``predict_x0``)。
    2. 平均は事後分布の平均に $\hat{x}_0$ を入れたもの $\mu_\theta = \tilde{\mu}_t(x_t, \hat{x}_0)$
       (ε 予測なら Ho et al. 2020 の式 (11) $\frac{1}{\sqrt{\alpha_t}}(x_t - \frac{\beta_t}{\sqrt{1-\bar{\alpha}_t}}\hat{\varepsilon})$ と同じ)。
    3. 分散は ``variance="posterior"`` なら $\sigma_t^2 = \tilde{\beta}_t$、``"beta"`` なら $\sigma_t^2 = \beta_t$
       (Ho et al. 2020, 3.2 節)。$t = 1$ ではノイズを加えない ($\hat{x}_0$ の平均をそのまま返す)。

    ``noise`` は $z \sim \mathcal{N}(0, I)$ (x_t と同じ形)。
    """
    if variance not in ("posterior", "beta"):
        raise ValueError(f"variance must be 'posterior' or 'beta', got {variance!r}")
    x0_hat = predict_x0(schedule, x_t, t, model_output, prediction)
    noise = as_batch_tensor(noise, name="noise")
    check_same_shape(x_t, noise, "x_t and noise")
    t = schedule.check_t(t)
    mean, posterior_var = q_posterior_mean_variance(schedule, x0_hat, x_t, t)
    var = posterior_var if variance == "posterior" else schedule.beta(t)
    var = torch.where(t > 1, var, torch.zeros_like(var))  # 最後の 1 歩はノイズなし
    return mean + broadcast_to(var.sqrt(), x_t) * noise
# --8<-- [end:step]


# --8<-- [start:exact_epsilon]
def exact_epsilon(mixture, schedule: NoiseSchedule):
    r"""データがガウス混合のときの理想的な ε 予測 $\varepsilon^*(x_t, t) = -\sqrt{1 - \bar{\alpha}_t}\, \nabla_{x_t} \log q(x_t)$。

    $q(x_t) = \int p(x_0) q(x_t \mid x_0) dx_0$ は ``mixture.noised(√ᾱ_t, √(1-ᾱ_t))`` (第 1 章と同じ 1 つの道筋)。
    $\mathbb{E}[\varepsilon \mid x_t] = -\sqrt{1 - \bar{\alpha}_t}\, \nabla \log q(x_t)$ (Tweedie の公式) なので、
    二乗誤差で学習した ε 予測の最適解である。戻り値は ``model(x, t)`` の形の関数。
    """
    from gen_lib.distributions.gaussian_mixture import GaussianMixture

    if not isinstance(mixture, GaussianMixture):
        raise ValueError(f"mixture must be a GaussianMixture, got {type(mixture).__name__}")
    schedule = _check_schedule(schedule)

    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = _check_times(schedule, t, x)
        out = torch.empty_like(x)
        for value in torch.unique(t):  # 同じ時刻の点をまとめて 1 つの混合分布で計算する
            rows = t == value
            a = schedule.alpha_bar(value.reshape(1)).item()
            q_t = mixture.noised(a**0.5, (1 - a) ** 0.5)
            out[rows] = torch.as_tensor(-((1 - a) ** 0.5) * q_t.score(x[rows].detach().numpy()), dtype=x.dtype)
        return out

    return model
# --8<-- [end:exact_epsilon]
