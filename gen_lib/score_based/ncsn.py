r"""ノイズ条件付きスコアモデル (NCSN; Song & Ermon 2019) とその学習。

データに大きさ $\sigma$ のガウスノイズを加えた分布
$p_\sigma(\tilde{x}) = \int p(x)\, \mathcal{N}(\tilde{x}; x, \sigma^2 I)\, dx$ のスコアを、
ノイズの大きさ $\sigma_1 > \sigma_2 > \cdots > \sigma_L$ (大きい順) のすべてについて 1 つのネットワーク
$s_\theta(x, \sigma) \approx \nabla_x \log p_\sigma(x)$ で近似する。目的関数は各 $\sigma_l$ の
デノイジングスコアマッチング損失 $\ell_{\mathrm{DSM}}(\theta; \sigma_l)$ の重み付き平均

$$
J_{\mathrm{NCSN}}(\theta) = \frac{1}{L} \sum_{l=1}^L \lambda(\sigma_l)\, \ell_{\mathrm{DSM}}(\theta; \sigma_l),
\qquad \lambda(\sigma) = \sigma^2
$$

である。学習したネットワークからのサンプリングは ``gen_lib.score_based.annealed_langevin`` が行う。
"""

from __future__ import annotations

# --8<-- [start:imports]
import math

import numpy as np
import torch

from gen_lib.core.nn import make_mlp, minibatch, single_thread, train
from gen_lib.core.validation import (InputError, as_array, as_points, as_tensor_points, check_count,
                                     check_positive, make_generator)
from gen_lib.distributions.gaussian_mixture import GaussianMixture
from gen_lib.score_based.denoising_score_matching import (
    denoising_score_matching_loss,
)
# --8<-- [end:imports]

__all__ = ["check_noise_levels", "geometric_noise_levels", "exact_noise_conditional_score",
           "NoiseConditionalScoreNet", "ncsn_loss", "train_ncsn"]


# --8<-- [start:noise_levels]
def check_noise_levels(sigmas) -> np.ndarray:
    r"""ノイズの大きさの列 $\sigma_1 > \cdots > \sigma_L > 0$ (正で狭義単調減少) を確かめる。"""
    s = as_array(sigmas, name="sigmas", ndim=1)
    if s.size < 1 or np.any(s <= 0):
        raise InputError(f"sigmas must be a non-empty 1-D array of positive numbers, got {s.tolist()}")
    if np.any(np.diff(s) >= 0):
        raise InputError(f"sigmas must be strictly decreasing (sigma_1 > ... > sigma_L), got {s.tolist()}")
    return s


def geometric_noise_levels(sigma_max: float, sigma_min: float, L: int) -> np.ndarray:
    r"""等比数列 $\sigma_l = \sigma_{\max} (\sigma_{\min}/\sigma_{\max})^{(l-1)/(L-1)}$, $l = 1, \dots, L$。

    隣り合う比 $\sigma_{l+1}/\sigma_l$ が一定になる (Song & Ermon 2019)。形 (L,)。
    """
    sigma_max = check_positive(sigma_max, name="sigma_max")
    sigma_min = check_positive(sigma_min, name="sigma_min")
    L = check_count(L, name="L", minimum=2)
    if not sigma_max > sigma_min:
        raise InputError(f"sigma_max must be larger than sigma_min, got sigma_max={sigma_max}, "
                         f"sigma_min={sigma_min}")
    return np.exp(np.linspace(math.log(sigma_max), math.log(sigma_min), L))
# --8<-- [end:noise_levels]


# --8<-- [start:exact_score]
def exact_noise_conditional_score(mixture: GaussianMixture):
    r"""厳密なノイズ条件付きスコア $(x, \sigma) \mapsto \nabla_x \log p_\sigma(x)$ を返す (numpy)。

    ガウス混合 $p$ にノイズを加えた $p_\sigma$ もガウス混合 $\sum_k \pi_k \mathcal{N}(\mu_k, \Sigma_k + \sigma^2 I)$
    なので (``GaussianMixture.noised``)、そのスコアを厳密に計算できる。
    """
    if not isinstance(mixture, GaussianMixture):
        raise InputError(f"mixture must be a GaussianMixture, got {type(mixture).__name__}")

    def score(x, sigma):
        return mixture.noised(1.0, check_positive(sigma, name="sigma")).score(x)  # ∇ log p_σ(x)

    return score
# --8<-- [end:exact_score]


# --8<-- [start:model]
class NoiseConditionalScoreNet(torch.nn.Module):
    r"""$s_\theta(x, \sigma) = g_\theta(c(\sigma)\, x, \log\sigma) / \sigma$, $c(\sigma) = 1/\sqrt{\sigma^2 + \sigma_{\mathrm{data}}^2}$。

    $g_\theta$ は小さな MLP (float64)。$\log \sigma$ を入力に加えるので、ノイズの大きさごとに違う形の
    スコアを表せる。出力を $\sigma$ で割るのは $\nabla \log p_\sigma$ の大きさがおよそ $1/\sigma$ に
    比例するため (Song & Ermon 2020)、入力に $c(\sigma)$ を掛けるのは $\tilde{x}$ の広がり
    $\sqrt{\sigma^2 + \sigma_{\mathrm{data}}^2}$ をそろえて tanh を飽和させないためである
    (Karras et al. 2022)。どちらも $g_\theta$ の入出力をどの $\sigma$ でも 1 程度の大きさにする。
    """

    def __init__(self, dim: int = 2, *, hidden: int = 64, n_hidden_layers: int = 3, seed: int = 0,
                 data_scale: float = 1.0):
        super().__init__()
        self.dim = check_count(dim, name="dim")
        data_scale = check_positive(data_scale, name="data_scale")
        self.register_buffer("data_scale", torch.tensor(data_scale, dtype=torch.float64))  # σ_data
        self.g = make_mlp(self.dim + 1, self.dim, hidden=hidden, n_hidden_layers=n_hidden_layers,
                          seed=seed)

    def forward(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        x = as_tensor_points(x, dim=self.dim)
        sigma = check_positive(sigma, name="sigma")
        c_in = torch.rsqrt(torch.tensor(sigma, dtype=torch.float64)**2 + self.data_scale**2)  # c(σ) = 1/√(σ² + σ_data²)
        log_sigma = torch.full((x.shape[0], 1), math.log(sigma), dtype=x.dtype)
        return self.g(torch.cat([c_in * x, log_sigma], dim=1)) / sigma
# --8<-- [end:model]

    def score_numpy(self, x, sigma: float) -> np.ndarray:
        """numpy の点 (N, d) に対する $s_\\theta(x, \\sigma)$ (サンプラー用、勾配なし)。"""
        x = as_points(x, dim=self.dim)
        with torch.no_grad(), single_thread():
            return self(torch.as_tensor(x), sigma).numpy()


# --8<-- [start:loss]
def ncsn_loss(model: NoiseConditionalScoreNet, x, sigmas, *, generator) -> torch.Tensor:
    r"""$J_{\mathrm{NCSN}}(\theta) = \frac{1}{L} \sum_l \sigma_l^2\, \ell_{\mathrm{DSM}}(\theta; \sigma_l)$ (スカラー)。

    各 $\sigma_l$ で ``denoising_score_matching_loss`` を呼ぶ。ノイズは 1 つの ``torch.Generator`` から
    $\sigma_1, \sigma_2, \dots$ の順に引く (generator は int のシードでもよい)。
    重み $\lambda(\sigma) = \sigma^2$ により各項がおよそ同じ大きさになる (Song & Ermon 2019)。
    """
    sigmas = check_noise_levels(sigmas)
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        s2 = sigmas**2
        if not np.all((s2 > 0) & np.isfinite(s2) & np.isfinite(1 / s2) & (1 / s2 > 0)):  # σ² と 1/σ² を表せる
            raise InputError(f"sigmas must lie in about [1e-150, 1e150] so that sigma**2 and 1/sigma**2 are "
                             f"finite and non-zero in float64, got {sigmas.tolist()}")
    if not callable(model) or not isinstance(getattr(model, "dim", None), int):
        raise InputError(f"model must be callable as model(x, sigma) and have an int attribute dim "
                         f"(a NoiseConditionalScoreNet), got {type(model).__name__}")
    x = as_tensor_points(x, dim=model.dim)
    generator = make_generator(generator, name="generator")  # int なら 1 度だけ Generator にする (σ ごとに別のノイズ)
    total = 0.0
    for sigma in sigmas:
        sigma = float(sigma)
        dsm = denoising_score_matching_loss(lambda x_tilde: model(x_tilde, sigma), x, sigma,
                                            generator=generator)
        total = total + sigma**2 * dsm  # λ(σ_l) ℓ_DSM(θ; σ_l)
    return total / len(sigmas)
# --8<-- [end:loss]


# --8<-- [start:train]
def train_ncsn(data, sigmas, *, steps: int = 3000, batch_size: int = 128, lr: float = 1e-2,
               hidden: int = 64, n_hidden_layers: int = 3, seed: int = 0) -> dict:
    r"""データ $\mathcal{D}$ (形 (N, d)) で $J_{\mathrm{NCSN}}(\theta)$ を Adam で最小化する。

    毎回 batch_size 点を $\mathcal{D}$ から選び、ノイズを引き直す (乱数はすべて seed から作る)。
    $\sigma_{\mathrm{data}}$ はデータの成分ごとの標準偏差の平均とする。
    学習率は余弦で 0 まで下げる。戻り値は ``{"state_dict": ..., "history": [損失, ...]}``。
    """
    x_all = torch.as_tensor(as_points(data, name="data"))
    if len(x_all) < 2:
        raise InputError(f"data must hold at least 2 points, got shape {tuple(x_all.shape)}")
    sigmas = check_noise_levels(sigmas)
    batch_size = check_count(batch_size, name="batch_size")
    generator = make_generator(seed)
    data_scale = float(x_all.std(dim=0, correction=0).mean())  # σ_data: データの 1 成分あたりの標準偏差
    model = NoiseConditionalScoreNet(x_all.shape[1], hidden=hidden, n_hidden_layers=n_hidden_layers,
                                     seed=seed, data_scale=data_scale)

    def loss_fn(step: int) -> torch.Tensor:  # ミニバッチを選び、各 σ_l のノイズを引き直す
        return ncsn_loss(model, minibatch(x_all, batch_size, generator), sigmas, generator=generator)

    history = train(model, loss_fn, steps=steps, lr=lr, cosine_decay=True)["loss"]
    return {"state_dict": model.state_dict(), "history": history}
# --8<-- [end:train]
