r"""混合密度ネットワーク (Mixture Density Network; Bishop 1994): 条件付き生成モデル $q_\theta(y \mid c)$。

ニューラルネットが条件 $c$ から混合ガウス分布のパラメータを出力する。

$$
q_\theta(y \mid c) = \sum_{k=1}^K \pi_k(c) \, \mathcal{N}\left(y; \mu_k(c), \sigma_k(c)^2\right),
\qquad \pi(c) = \mathrm{softmax}(a(c)),\; \sigma_k(c) = \exp(s_k(c))
$$

最尤推定 (負の対数尤度 $-\frac{1}{N}\sum_n \log q_\theta(y^n \mid c^n)$ の最小化) で学習し、
$y \sim q_\theta(y \mid c)$ は「成分 $k \sim \pi(c)$ を選び $y = \mu_k(c) + \sigma_k(c)\,\varepsilon$」で引く。
"""

from __future__ import annotations

# --8<-- [start:imports]
import math

import numpy as np
import torch

from gen_lib.core.nn import make_mlp, train
from gen_lib.distributions.two_mode_conditional import as_conditions, as_pairs
from gen_lib.core.validation import (as_matching_batches, as_tensor_points, check_count, check_finite_result,
                                     make_generator)

# --8<-- [end:imports]

__all__ = ["MixtureDensityNetwork", "train_mdn"]


# --8<-- [start:mdn]
class MixtureDensityNetwork(torch.nn.Module):
    r"""混合密度ネットワーク (Bishop 1994)。

    $q_\theta(y \mid c)
    = \sum_k \pi_k(c) \mathcal{N}(y; \mu_k(c), \sigma_k(c)^2)$。
    """

    def __init__(self, n_components: int = 3, *, hidden: int = 32,
                 seed: int = 0):
        super().__init__()
        self.n_components = check_count(n_components, name="n_components")
        # 1 つの MLP が K 個ずつの (a_k, μ_k, s_k) をまとめて出力する
        self.net = make_mlp(1, 3 * self.n_components, hidden=hidden,
                            seed=seed)

    def forward(self, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        r"""$(\log \pi_k(c), \mu_k(c), \log \sigma_k(c))$ を返す。

        $c$ は形 (N, 1)。返す 3 つはどれも形 (N, K)。
        """
        c = as_tensor_points(c, name="c", dim=1)
        a, mu, log_sigma = self.net(c).split(self.n_components, dim=1)
        return torch.log_softmax(a, dim=1), mu, log_sigma

    def log_prob_tensor(self, y: torch.Tensor,
                        c: torch.Tensor) -> torch.Tensor:
        r"""対数密度 $\log q_\theta(y \mid c)$。形 (N,)。

        $\log q_\theta(y \mid c) = \log \sum_k
        \exp[\log \pi_k + \log \mathcal{N}(y; \mu_k, \sigma_k^2)]$
        (log-sum-exp で計算する)
        """
        y, c = as_matching_batches(y=y, c=c)
        log_pi, mu, log_sigma = self(c)
        z = (y - mu) * torch.exp(-log_sigma)  # (y - μ_k) / σ_k
        log_normal = -0.5 * z**2 - log_sigma - 0.5 * math.log(2 * math.pi)
        return check_finite_result(torch.logsumexp(log_pi + log_normal, dim=1), name="y", source=y)

    def log_prob(self, y, c) -> np.ndarray:
        r"""numpy 版の $\log q_\theta(y \mid c)$。$y, c$ は形 (N,)。"""
        y, c = as_pairs(y, c)
        with torch.no_grad():
            y_t = torch.from_numpy(y[:, None])
            c_t = torch.from_numpy(c[:, None])
            return self.log_prob_tensor(y_t, c_t).numpy()

    def sample(self, c, seed=0) -> np.ndarray:
        r"""各 $c^n$ について $y^n \sim q_\theta(y \mid c^n)$。

        $k \sim \pi(c^n)$ を選び $y = \mu_k + \sigma_k \varepsilon$ とする。形 (N,)。
        """
        c = as_conditions(c)
        generator = make_generator(seed)
        with torch.no_grad():
            log_pi, mu, log_sigma = self(torch.from_numpy(c[:, None]))
            # 成分の番号、形 (N, 1)
            k = torch.multinomial(log_pi.exp(), 1, generator=generator)
            eps = torch.randn(k.shape, generator=generator,
                              dtype=torch.float64)
            y = mu.gather(1, k) + log_sigma.gather(1, k).exp() * eps
        return y[:, 0].numpy()


def train_mdn(y, c, *, n_components: int = 3, hidden: int = 32,
              steps: int = 600, lr: float = 5e-3,
              seed: int = 0) -> MixtureDensityNetwork:
    r"""最尤推定で学習する。

    負の対数尤度 $-\frac{1}{N}\sum_n \log q_\theta(y^n \mid c^n)$ を最小にする。
    """
    y, c = as_pairs(y, c)
    y_t, c_t = torch.from_numpy(y[:, None]), torch.from_numpy(c[:, None])
    mdn = MixtureDensityNetwork(n_components, hidden=hidden, seed=seed)
    def loss(step):  # フルバッチ
        return -mdn.log_prob_tensor(y_t, c_t).mean()

    train(mdn, loss, steps=steps, lr=lr)
    return mdn
# --8<-- [end:mdn]
