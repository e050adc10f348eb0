r"""なぜ小さなステップに分けるのか: 逆向きの条件付き分布 $q(x_{t-1} \mid x_t)$ はステップが小さいほどガウス分布に近い。

1 次元のデータ分布 $p$ (ガウス混合) について、前向きの 1 ステップ
$q(x_t \mid x_{t-1}) = \mathcal{N}(\sqrt{1-\beta}\, x_{t-1}, \beta)$ と $x_{t-1}$ の周辺分布
$q(x_{t-1})$ = ``mixture.noised(√ᾱ, √(1-ᾱ))`` から、ベイズの定理

$$
q(x_{t-1} \mid x_t) \propto q(x_t \mid x_{t-1})\, q(x_{t-1})
$$

を格子の上で正規化して厳密に計算し、同じ平均と分散のガウス分布 $\mathcal{N}(\mu, \sigma^2)$ との
KL ダイバージェンス $D_{\mathrm{KL}}(q(x_{t-1} \mid x_t) \,\|\, \mathcal{N}(\mu, \sigma^2))$ を数値積分で求める。
DDPM の逆過程 $p_\theta(x_{t-1} \mid x_t)$ はガウス分布なので、この KL が小さいほど 1 ステップを正確に表せる
(Sohl-Dickstein et al. 2015; Feller 1949 の「小さなステップの逆はガウス」)。
"""

from __future__ import annotations

import math

import numpy as np

from gen_lib.core.numerics import logsumexp
from gen_lib.core.validation import as_array, check_count, check_positive
from gen_lib.distributions.gaussian_mixture import GaussianMixture


# --8<-- [start:reverse_kl]
def reverse_conditional_gaussian_kl(mixture: GaussianMixture, alpha_bar_prev: float, beta: float, x_t: float,
                                    *, half_width: float = 12.0, n_points: int = 20001) -> float:
    r"""$D_{\mathrm{KL}}(q(x_{t-1} \mid x_t) \,\|\, \mathcal{N}(\mu, \sigma^2))$ [nats] (1 次元、台形則)。

    $\mu, \sigma^2$ は $q(x_{t-1} \mid x_t)$ 自身の平均と分散。事後分布は尤度 $q(x_t \mid x_{t-1})$
    ($x_{t-1}$ の関数として平均 $x_t/\sqrt{1-\beta}$、標準偏差 $\sqrt{\beta/(1-\beta)}$) の幅に収まるので、
    格子はその中心の $\pm$ half_width 標準偏差に取る。
    """
    if not isinstance(mixture, GaussianMixture) or mixture.dim != 1:
        raise ValueError(f"mixture must be a 1-D GaussianMixture, got {mixture!r:.80}")
    if not 0 < alpha_bar_prev <= 1:
        raise ValueError(f"alpha_bar_prev must lie in (0, 1], got {alpha_bar_prev!r}")
    if not 0 < beta < 1:
        raise ValueError(f"beta must lie in (0, 1), got {beta!r}")
    x_t = float(as_array(x_t, name="x_t", ndim=0))
    half_width = check_positive(half_width, name="half_width")
    n_points = check_count(n_points, name="n_points", minimum=101)
    prior = mixture.noised(math.sqrt(alpha_bar_prev), math.sqrt(1 - alpha_bar_prev))  # q(x_{t-1})
    center, width = x_t / math.sqrt(1 - beta), half_width * math.sqrt(beta / (1 - beta))
    grid = np.linspace(center - width, center + width, n_points)
    h = grid[1] - grid[0]
    log_post = prior.log_prob(grid[:, None]) - 0.5 * (x_t - math.sqrt(1 - beta) * grid) ** 2 / beta  # 正規化前
    log_post -= logsumexp(log_post) + math.log(h)  # ∫ q(x_{t-1} | x_t) dx_{t-1} = 1 (リーマン和)
    q = np.exp(log_post)
    mean = h * np.sum(q * grid)
    var = h * np.sum(q * (grid - mean) ** 2)
    log_gauss = -0.5 * (grid - mean) ** 2 / var - 0.5 * math.log(2 * math.pi * var)
    return float(max(h * np.sum(q * (log_post - log_gauss)), 0.0))
# --8<-- [end:reverse_kl]
