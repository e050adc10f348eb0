r"""なぜ小さなステップに分けるのか: 逆向きの条件付き分布 $q(x_{t-1} \mid x_t)$ は、
ステップが小さいほどガウス分布に近い。

1 次元のデータ分布 $p$ (ガウス混合) について、前向きの 1 ステップ
$q(x_t \mid x_{t-1}) = \mathcal{N}(\sqrt{1-\beta}\, x_{t-1}, \beta)$ と
$x_{t-1}$ の周辺分布 $q(x_{t-1})$ = ``mixture.noised(√ᾱ, √(1-ᾱ))`` から、ベイズの定理

$$
q(x_{t-1} \mid x_t) \propto q(x_t \mid x_{t-1})\, q(x_{t-1})
$$

を格子の上で正規化して厳密に計算し、同じ平均と分散のガウス分布 $\mathcal{N}(\mu, \sigma^2)$
との KL ダイバージェンス $\mathrm{KL}(q(x_{t-1} \mid x_t) \,\|\, \mathcal{N}(\mu, \sigma^2))$
を数値積分で求める。DDPM の逆過程 $q_\theta(x_{t-1} \mid x_t)$ はガウス分布なので、
この KL が小さいほど 1 ステップを正確に表せる
(Sohl-Dickstein et al. 2015; Feller 1949 の「小さなステップの逆はガウス」)。
"""

from __future__ import annotations

# --8<-- [start:imports]
import math

import numpy as np
import torch

from gen_lib.core.numerics import logsumexp
from gen_lib.core.validation import InputError, check_count, check_instance, check_positive, check_real
from gen_lib.distributions.gaussian_mixture import GaussianMixture
# --8<-- [end:imports]

__all__ = ["reverse_conditional", "reverse_conditional_gaussian_kl", "small_step_kl_asymptote"]


# --8<-- [start:reverse_density]
def reverse_conditional(mixture: GaussianMixture, alpha_bar_prev: float,
                        beta: float, x_t: float, *, half_width: float = 12.0,
                        n_points: int = 20001
                        ) -> tuple[np.ndarray, np.ndarray]:
    r"""$q(x_{t-1} \mid x_t) \propto q(x_t \mid x_{t-1})\, q(x_{t-1})$ を格子で
    正規化した対数密度。戻り値は格子 (n_points,) と対数密度 (n_points,)。

    $q(x_{t-1})$ は ``mixture.noised`` ($\bar{\alpha}_{t-1}$ = alpha_bar_prev)。
    事後分布は尤度 $q(x_t \mid x_{t-1})$ ($x_{t-1}$ の関数として
    平均 $x_t/\sqrt{1-\beta}$、標準偏差 $\sqrt{\beta/(1-\beta)}$) の幅に
    収まるので、格子はその中心の $\pm$ half_width 標準偏差に取る。
    """
    if not isinstance(mixture, GaussianMixture) or mixture.dim != 1:
        raise InputError("mixture must be a 1-D GaussianMixture, "
                         f"got {mixture!r:.80}")
    if not 0 < check_real(alpha_bar_prev, name="alpha_bar_prev") <= 1:
        raise InputError("alpha_bar_prev must lie in (0, 1], "
                         f"got {alpha_bar_prev!r}")
    if not 0 < check_real(beta, name="beta") < 1:
        raise InputError(f"beta must lie in (0, 1), got {beta!r}")
    x_t = check_real(x_t, name="x_t")
    half_width = check_positive(half_width, name="half_width")
    n_points = check_count(n_points, name="n_points", minimum=101)
    a = alpha_bar_prev
    prior = mixture.noised(math.sqrt(a), math.sqrt(1 - a))  # q(x_{t-1})
    center = x_t / math.sqrt(1 - beta)
    width = half_width * math.sqrt(beta / (1 - beta))
    grid = np.linspace(center - width, center + width, n_points)
    h = grid[1] - grid[0]
    log_likelihood = -0.5 * (x_t - math.sqrt(1 - beta) * grid) ** 2 / beta
    log_post = prior.log_prob(grid[:, None]) + log_likelihood  # 正規化前
    # ∫ q(x_{t-1} | x_t) dx_{t-1} = 1 (リーマン和)
    return grid, log_post - logsumexp(log_post) - math.log(h)
# --8<-- [end:reverse_density]


# --8<-- [start:reverse_kl]
def reverse_conditional_gaussian_kl(mixture: GaussianMixture,
                                    alpha_bar_prev: float, beta: float,
                                    x_t: float, **grid) -> float:
    r"""$\mathrm{KL}(q(x_{t-1} \mid x_t)
    \,\|\, \mathcal{N}(\mu, \sigma^2))$ [nats] (1 次元、格子のリーマン和)。

    $\mu, \sigma^2$ は $q(x_{t-1} \mid x_t)$ 自身の平均と分散
    (モーメントを合わせたガウス分布)。grid は ``reverse_conditional`` の
    格子の指定 (half_width, n_points)。
    """
    x, log_q = reverse_conditional(mixture, alpha_bar_prev, beta, x_t, **grid)
    h = x[1] - x[0]
    q = np.exp(log_q)
    mean = h * np.sum(q * x)
    var = h * np.sum(q * (x - mean) ** 2)
    log_gauss = (-0.5 * (x - mean) ** 2 / var
                 - 0.5 * math.log(2 * math.pi * var))
    return float(max(h * np.sum(q * (log_q - log_gauss)), 0.0))
# --8<-- [end:reverse_kl]


# --8<-- [start:asymptote]
def small_step_kl_asymptote(mixture: GaussianMixture, alpha_bar_prev: float,
                            beta: float, x_t: float) -> float:
    r"""$\beta \to 0$ での KL の主要項 $\frac{1}{12} g^{(3)}(c)^2 w^6$ [nats]。

    $g = \log q(x_{t-1})$、$c = x_t / \sqrt{1 - \beta}$、
    $w^2 = \beta / (1 - \beta)$ (尤度の幅)。事後分布の歪度は
    $g^{(3)}(c)\, w^3$ で、ガウス分布との KL は歪度の 2 乗の 1/12
    (エッジワース展開)。$g^{(3)}$ は torch の自動微分で求める (格子を使わない)。
    """
    if not 0 < check_real(beta, name="beta") < 1:
        raise InputError(f"beta must lie in (0, 1), got {beta!r}")
    a = alpha_bar_prev
    if not 0 < check_real(a, name="alpha_bar_prev") <= 1:
        raise InputError(f"alpha_bar_prev must lie in (0, 1], got {a!r}")
    check_instance(mixture, GaussianMixture, name="mixture")
    x_t = check_real(x_t, name="x_t")
    prior = mixture.noised(math.sqrt(a), math.sqrt(1 - a))  # q(x_{t-1})
    c = torch.tensor([[x_t / math.sqrt(1 - beta)]], dtype=torch.float64,
                     requires_grad=True)
    g = prior.log_prob_torch(c).sum()
    for _ in range(3):  # g', g'', g'''
        (g,) = torch.autograd.grad(g, c, create_graph=True)
        g = g.sum()
    return float(g.item() ** 2 * (beta / (1 - beta)) ** 3 / 12)
# --8<-- [end:asymptote]
