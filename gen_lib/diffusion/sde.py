r"""拡散過程を確率微分方程式 (SDE) として見る (Song et al. 2021): 1 つの抽象と 3 つの具体的な過程。

前向きの SDE (時刻 $t \in [0, 1]$、$w$ はブラウン運動):

$$
dx = f(x, t)\, dt + g(t)\, dw
$$

ドリフト $f(x, t) = -\tfrac12 \beta(t)\, x$ 型の線形な過程では、$x_t \mid x_0$ はガウス分布
$\mathcal{N}(m(t)\, x_0, s(t)^2 I)$ になる (``marginal``: 平均の係数 $m$ と標準偏差 $s$)。
逆向きの SDE (Anderson 1982) と、同じ周辺分布を持つ確率フロー ODE (Song et al. 2021, 式 (6), (13)):

$$
dx = \left[f(x, t) - g(t)^2 \nabla_x \log p_t(x)\right] dt + g(t)\, d\bar{w}, \qquad
\frac{dx}{dt} = f(x, t) - \tfrac12 g(t)^2 \nabla_x \log p_t(x)
$$

サンプラー・ODE ソルバー・尤度の計算は「ある SDE」を受け取り、どの過程かを問わない。
$x$ は形 ``(N, …)``、時刻 $t$ は形 ``(N,)`` の float64 テンソル。
"""

from __future__ import annotations

# --8<-- [start:imports]
import math
import numbers
from abc import ABC, abstractmethod

import torch

from gen_lib.core.types import DiscreteModel, TimeScore
from gen_lib.core.validation import (InputError, as_batch_tensor, as_float_tensor, as_matching_batches,
                                     check_bool, check_callable, check_count, check_finite_result,
                                     check_positive, make_generator)
from gen_lib.diffusion.schedule import broadcast_to
# --8<-- [end:imports]

__all__ = ["SDE", "VPSDE", "SubVPSDE", "VESDE", "check_sde", "check_time_grid", "epsilon_coefficients",
           "score_from_epsilon", "output_gain", "exact_score"]


# --8<-- [start:helpers]
def _check_time(t, x: torch.Tensor | None = None) -> torch.Tensor:
    """時刻 t を形 (N,) の float64 にし、[0, 1] にあることを確かめる。"""
    t = as_float_tensor(t, name="t")
    if t.ndim != 1 or t.numel() < 1 or (x is not None and t.shape[0] != x.shape[0]):
        expected = "(N,)" if x is None else f"({x.shape[0]},)"
        raise InputError(f"t must have shape {expected}, "
                         f"got {tuple(t.shape)}")
    if (not torch.isfinite(t).all() or bool((t < 0).any())
            or bool((t > 1).any())):
        raise InputError(f"t must lie in [0, 1], got min {t.min().item()}, "
                         f"max {t.max().item()}")
    return t


def _beta_integral(t, beta_min, beta_max):
    r"""$\int_0^t \beta(u)\, du
    = \beta_{\min} t + \tfrac12 (\beta_{\max} - \beta_{\min}) t^2$。"""
    return beta_min * t + 0.5 * (beta_max - beta_min) * t**2
# --8<-- [end:helpers]


# --8<-- [start:sde]
class SDE(ABC):
    r"""前向きの SDE $dx = f(x, t)dt + g(t)dw$, $t \in [0, 1]$。"""

    @abstractmethod
    def drift(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r"""$f(x, t)$。形は x と同じ。"""

    @abstractmethod
    def diffusion(self, t: torch.Tensor) -> torch.Tensor:
        r"""$g(t)$。形 (N,)。"""

    @abstractmethod
    def marginal(self, t: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""$x_t \mid x_0 \sim \mathcal{N}(m(t) x_0, s(t)^2 I)$ の
        $(m(t), s(t))$。それぞれ形 (N,)。"""

    @abstractmethod
    def prior_std(self) -> float:
        r"""事前分布 $\mathcal{N}(0, \sigma_{\mathrm{prior}}^2 I)$ の標準偏差。"""

    def reverse_drift(self, x: torch.Tensor, t: torch.Tensor,
                      score: torch.Tensor, *,
                      probability_flow: bool = False) -> torch.Tensor:
        r"""逆向きのドリフト $f - g^2 s$ (SDE, Song et al. 2021 式 (6))、
        または $f - \tfrac12 g^2 s$ (確率フロー ODE, 式 (13))。"""
        x, score = as_matching_batches(x=x, score=score)
        t = _check_time(t, x)
        g2 = broadcast_to(self.diffusion(t) ** 2, x)
        probability_flow = check_bool(probability_flow, name="probability_flow")
        weight = 0.5 if probability_flow else 1.0
        return self.drift(x, t) - weight * g2 * score

    def prior_sample(self, shape: tuple[int, ...],
                     generator: torch.Generator) -> torch.Tensor:
        r"""$x_1 \sim \mathcal{N}(0, \sigma_{\mathrm{prior}}^2 I)$。
        形 shape の float64。"""
        if (not isinstance(shape, tuple) or len(shape) < 1
                or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)):
            raise InputError(f"shape must be a non-empty tuple of positive ints, got {shape!r}")
        check_count(math.prod(shape), name="shape (number of values)")
        return self.prior_std() * torch.randn(shape, generator=make_generator(generator, name="generator"),
                                              dtype=torch.float64)

    def prior_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        r"""$\log \mathcal{N}(x; 0, \sigma_{\mathrm{prior}}^2 I)$。形 (N,)。"""
        x = as_batch_tensor(x, name="x")
        s = self.prior_std()
        d = x[0].numel()
        log_prob = -0.5 * (x.flatten(1) ** 2).sum(dim=1) / s**2 - 0.5 * d * math.log(2 * math.pi * s**2)
        return check_finite_result(log_prob, name="x", source=x)

    def perturb(self, x0: torch.Tensor, t,
                noise: torch.Tensor) -> torch.Tensor:
        r"""$x_t = m(t) x_0 + s(t) \varepsilon$ (前向き過程の閉じた形)。"""
        x0, noise = as_matching_batches(x0=x0, noise=noise)
        m, s = self.marginal(_check_time(t, x0))
        return broadcast_to(m, x0) * x0 + broadcast_to(s, x0) * noise
# --8<-- [end:sde]


# --8<-- [start:vp]
class VPSDE(SDE):
    r"""分散保存 (VP) SDE (Song et al. 2021, 式 (11)):

    $dx = -\tfrac12 \beta(t) x\, dt + \sqrt{\beta(t)}\, dw$,
    $\beta(t) = \beta_{\min} + t(\beta_{\max} - \beta_{\min})$。

    DDPM の $T \to \infty$ の極限で $\beta_t \approx \beta(t/T)/T$ (付録 B)。
    $m(t) = e^{-\frac12 \int_0^t \beta}$, $s(t)^2 = 1 - m(t)^2$
    (DDPM の $\bar{\alpha}_t$ が $m^2$ にあたる)。
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        self.beta_min = check_positive(beta_min, name="beta_min")
        self.beta_max = check_positive(beta_max, name="beta_max")
        if self.beta_max < self.beta_min:
            raise InputError(f"beta_max must be >= beta_min, got "
                             f"beta_min={beta_min}, beta_max={beta_max}")

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min + _check_time(t) * (self.beta_max - self.beta_min)

    def drift(self, x, t):
        x = as_batch_tensor(x, name="x")
        return -0.5 * broadcast_to(self.beta(_check_time(t, x)), x) * x

    def diffusion(self, t):
        return torch.sqrt(self.beta(_check_time(t)))

    def marginal(self, t):
        B = _beta_integral(_check_time(t), self.beta_min, self.beta_max)
        return torch.exp(-0.5 * B), torch.sqrt(-torch.expm1(-B))

    def prior_std(self) -> float:
        return 1.0
# --8<-- [end:vp]


# --8<-- [start:subvp]
class SubVPSDE(VPSDE):
    r"""sub-VP SDE (Song et al. 2021, 式 (12)): ドリフトは VP と同じで

    $g(t) = \sqrt{\beta(t)\,(1 - e^{-2\int_0^t \beta})}$。
    平均は VP と同じ $m(t)$、標準偏差は $s(t) = 1 - m(t)^2$ で、
    分散は VP の分散 $1 - m^2$ 以下になる。
    """

    def diffusion(self, t):
        t = _check_time(t)
        B = _beta_integral(t, self.beta_min, self.beta_max)
        return torch.sqrt(self.beta(t) * -torch.expm1(-2 * B))

    def marginal(self, t):
        B = _beta_integral(_check_time(t), self.beta_min, self.beta_max)
        return torch.exp(-0.5 * B), -torch.expm1(-B)  # (m, 1 - m²)
# --8<-- [end:subvp]


# --8<-- [start:ve]
class VESDE(SDE):
    r"""分散爆発 (VE) SDE (Song et al. 2021, 式 (9)):

    $dx = \sqrt{d\sigma(t)^2/dt}\, dw$,
    $\sigma(t) = \sigma_{\min} (\sigma_{\max}/\sigma_{\min})^t$。

    NCSN のノイズの列 $\sigma_1 > \dots > \sigma_L$ の連続版。ドリフトはなく
    $m(t) = 1$、$s(t)^2 = \sigma(t)^2 - \sigma_{\min}^2$ ($t = 0$ でノイズ 0)。
    事前分布は $\mathcal{N}(0, \sigma_{\max}^2 I)$。
    """

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0):
        self.sigma_min = check_positive(sigma_min, name="sigma_min")
        self.sigma_max = check_positive(sigma_max, name="sigma_max")
        if not self.sigma_max > self.sigma_min:
            raise InputError(f"sigma_max must exceed sigma_min, got "
                             f"sigma_min={sigma_min}, sigma_max={sigma_max}")

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** _check_time(t)

    def drift(self, x, t):
        x = as_batch_tensor(x, name="x")
        _check_time(t, x)
        return torch.zeros_like(x)

    def diffusion(self, t):
        log_ratio = math.log(self.sigma_max / self.sigma_min)
        return self.sigma(_check_time(t)) * math.sqrt(2 * log_ratio)

    def marginal(self, t):
        t = _check_time(t)
        s = torch.sqrt(self.sigma(t) ** 2 - self.sigma_min**2)
        return torch.ones_like(t), s

    def prior_std(self) -> float:
        return self.sigma_max
# --8<-- [end:ve]


def check_sde(sde) -> SDE:
    if not isinstance(sde, SDE):
        raise InputError(f"sde must be an SDE (VPSDE, VESDE, SubVPSDE), got {type(sde).__name__}")
    return sde


def check_time_grid(t_start, t_end, n_steps) -> torch.Tensor:
    """$t_{\\mathrm{start}}$ から $t_{\\mathrm{end}}$ まで n_steps 等分した時刻の列 (形 (n_steps + 1,))。"""
    for name, value in (("t_start", t_start), ("t_end", t_end)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
            raise InputError(f"{name} must be a number in [0, 1], got {value!r}")
    n_steps = check_count(n_steps, name="n_steps")
    if t_start == t_end:
        raise InputError(f"t_start and t_end must differ, got {t_start}")
    return torch.linspace(float(t_start), float(t_end), int(n_steps) + 1, dtype=torch.float64)


# --8<-- [start:score_from_epsilon]
def epsilon_coefficients(sde: "SDE", t, prediction: str = "epsilon") -> tuple[torch.Tensor, torch.Tensor]:
    r"""ネットワークの出力 $f$ を $\hat{\varepsilon} = a(t)\, x + b(t)\, f$ に直す係数 $(a, b)$ (形 (N,))。

    $x = m x_0 + s \varepsilon$ ($m = m(t)$, $s = s(t)$) と $v = m \varepsilon - s x_0$ から:
    ε 予測は $(0, 1)$、x0 予測は $(1/s, -m/s)$、v 予測は $(s, m) / (m^2 + s^2)$。
    """
    if prediction not in ("epsilon", "x0", "v"):
        raise InputError(f"prediction must be 'epsilon', 'x0' or 'v', got {prediction!r}")
    if not callable(getattr(sde, "marginal", None)):
        raise InputError(f"sde must have a marginal(t) method, got {type(sde).__name__}")
    m, s = sde.marginal(_check_time(t))
    if bool((s <= 0).any()):
        raise InputError("epsilon_coefficients needs t > 0 (s(0) = 0)")
    if prediction == "epsilon":
        return torch.zeros_like(s), torch.ones_like(s)
    if prediction == "x0":
        return 1 / s, -m / s
    return s / (m**2 + s**2), m / (m**2 + s**2)


def score_from_epsilon(model: DiscreteModel, sde: "SDE", T: int, *,
                       prediction: str = "epsilon") -> TimeScore:
    r"""DDPM の $\varepsilon_\theta(x, k)$ ($k \in \{1, \dots, T\}$) を
    連続時刻のスコアにする: $s_\theta(x, t) = -\varepsilon_\theta(x, tT) / s(t)$。

    離散時刻の $-\varepsilon_\theta / \sqrt{1 - \bar{\alpha}_k}$ の、
    $k = tT$ と $\sqrt{1 - \bar{\alpha}_k} \approx s(t)$ (VP の標準偏差) による
    連続版である。``model`` は整数でない時刻 $tT$ でも呼べるもの
    (学習したネットワークは $t$ の滑らかな関数)。
    ``prediction`` が ``"x0"`` か ``"v"`` なら、出力を先に $\hat{\varepsilon}$ に直す (``epsilon_coefficients``)。
    """
    check_callable(model, name="model", signature="(x, t)")
    T = check_count(T, name="T")
    epsilon_coefficients(sde, torch.tensor([0.5]), prediction)  # sde と prediction を先に確かめる

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = _check_time(t, x)
        a, b = (broadcast_to(c, x) for c in epsilon_coefficients(sde, t, prediction))
        s = broadcast_to(sde.marginal(t)[1], x)
        return -(a * x + b * model(x, t * T)) / s

    return score
# --8<-- [end:score_from_epsilon]


# --8<-- [start:output_gain]
def output_gain(sde: "SDE", t, prediction: str = "epsilon") -> torch.Tensor:
    r"""ネットワークの出力の誤差 $\delta f$ が確率フロー ODE の速度場に入る倍率 (形 (N,))。

    速度場 $f(x, t) - \tfrac12 g(t)^2 s_\theta$、$s_\theta = -\hat{\varepsilon}/s(t)$、
    $\hat{\varepsilon} = a x + b f_\theta$ から $\partial v / \partial f_\theta = g(t)^2 b(t) / (2 s(t))$。
    VP では $g^2 = \beta$ なので、ε 予測は $\beta / (2s)$、v 予測は $\beta m / (2s)$。
    """
    t = _check_time(t)
    _, b = epsilon_coefficients(sde, t, prediction)
    return sde.diffusion(t) ** 2 * b / (2 * sde.marginal(t)[1])
# --8<-- [end:output_gain]


# --8<-- [start:exact_score]
def exact_score(mixture, process) -> TimeScore:
    r"""データがガウス混合 $\sum_k \pi_k \mathcal{N}(\mu_k, \Sigma_k)$ のときの
    厳密なスコア $\nabla_x \log p_t(x)$。

    $p_t = \sum_k \pi_k \mathcal{N}(m\mu_k, C_k)$, $C_k = m^2\Sigma_k + s^2 I$
    (``GaussianMixture.noised(m, s)`` と同じ分布) なので
    $\nabla_x \log p_t(x) = -\sum_k r_k(x)\, C_k^{-1}(x - m\mu_k)$。
    torch の演算だけで書くので自動微分を通せる (発散の計算に使う)。
    $t$ は点ごとに違ってよい。``process`` は周辺分布
    ``marginal(t) -> (m, s)`` を持つもの (SDE か、フローマッチングの確率パス)。
    """
    from gen_lib.distributions.gaussian_mixture import GaussianMixture

    if not isinstance(mixture, GaussianMixture):
        raise InputError(f"mixture must be a GaussianMixture, "
                         f"got {type(mixture).__name__}")
    if not callable(getattr(process, "marginal", None)):
        raise InputError(f"process must have a marginal(t) method (an SDE "
                         f"or a probability path), "
                         f"got {type(process).__name__}")
    means = torch.tensor(mixture.means)  # (K, d)
    covariances = torch.tensor(mixture.covariances)  # (K, d, d)
    with torch.no_grad():
        log_weights = torch.log(torch.tensor(mixture.weights))  # (K,)
    eye = torch.eye(mixture.dim, dtype=torch.float64)

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = _check_time(t, x)
        if x.ndim != 2 or x.shape[1] != mixture.dim:
            raise InputError(f"x must have shape (N, {mixture.dim}), "
                             f"got {tuple(x.shape)}")
        m, s = process.marginal(t)  # (N,)
        m2 = m[:, None, None, None] ** 2
        s2 = s[:, None, None, None] ** 2
        cov = m2 * covariances + s2 * eye  # (N, K, d, d)
        precision = torch.linalg.inv(cov)
        diff = (x.to(torch.float64)[:, None, :]
                - m[:, None, None] * means)  # (N, K, d)
        # C_k^{-1}(x - mμ_k)
        pdiff = torch.einsum("nkij,nkj->nki", precision, diff)
        log_r = (log_weights - 0.5 * torch.logdet(cov)
                 - 0.5 * (diff * pdiff).sum(-1))  # (N, K)
        r = torch.softmax(log_r, dim=1)  # 負担率 r_k(x)
        return -(r[:, :, None] * pdiff).sum(dim=1).to(x.dtype)

    return score
# --8<-- [end:exact_score]
