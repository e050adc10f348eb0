r"""デノイジングスコアマッチング (Vincent 2011) と Tweedie の公式 (Efron 2011)。

データ $x \sim p(x)$ に大きさ $\sigma$ のガウスノイズを加えた $\tilde{x} = x + \sigma\varepsilon$,
$\varepsilon \sim \mathcal{N}(0, I)$ の分布を
$p_\sigma(\tilde{x}) = \int p(x)\, \mathcal{N}(\tilde{x}; x, \sigma^2 I)\, dx$ と書く。
$p_\sigma$ のスコアを当てる明示的スコアマッチングは、条件付き分布のスコア
$\nabla_{\tilde{x}} \log \mathcal{N}(\tilde{x}; x, \sigma^2 I) = -(\tilde{x} - x)/\sigma^2$ を当てる問題と
$\theta$ によらない定数の差しかない:

$$
\tfrac12 \mathbb{E}_{p_\sigma(\tilde{x})}\big[\|s_\theta(\tilde{x}) - \nabla_{\tilde{x}} \log p_\sigma(\tilde{x})\|^2\big]
= \tfrac12 \mathbb{E}_{p(x)\mathcal{N}(\tilde{x}; x, \sigma^2 I)}
  \big[\|s_\theta(\tilde{x}) + (\tilde{x} - x)/\sigma^2\|^2\big] - C_\sigma
$$

スコアモデルは「形 (N, d) のテンソル → 形 (N, d) のテンソル」の関数 (``gen_lib.score_based.score_matching`` と同じ)。
最適なスコアからはノイズを取り除く最良の推定 (事後平均) が得られる (Tweedie の公式):
$\mathbb{E}[x \mid \tilde{x}] = \tilde{x} + \sigma^2 \nabla_{\tilde{x}} \log p_\sigma(\tilde{x})$。
"""

from __future__ import annotations

# --8<-- [start:imports]
import numpy as np
import torch

from gen_lib.core.types import ScoreModel
from gen_lib.core.validation import (InputError, as_points, as_tensor_points, check_callable, check_positive,
                                     make_generator)
from gen_lib.distributions.gaussian_mixture import GaussianMixture
from gen_lib.score_based.score_matching import evaluate_score
# --8<-- [end:imports]

__all__ = ["denoising_score_matching_loss", "tweedie_denoise", "mixture_posterior_mean"]


# --8<-- [start:dsm_loss]
def denoising_score_matching_loss(score_fn: ScoreModel, x, sigma: float, *, generator) -> torch.Tensor:
    r"""$\ell_{\mathrm{DSM}}(\theta; \sigma) = \frac1N \sum_n \tfrac12
    \big\|s_\theta(\tilde{x}^n) + (\tilde{x}^n - x^n)/\sigma^2\big\|^2$, $\tilde{x}^n = x^n + \sigma \varepsilon^n$。

    $\varepsilon^n \sim \mathcal{N}(0, I)$ は generator (int のシードか ``torch.Generator``) から引く。
    学習ループでは同じ ``torch.Generator`` を渡し続けること (int を渡すと毎回同じノイズになる)。
    $(\tilde{x} - x)/\sigma^2 = \varepsilon/\sigma$ なので、目標 $-\varepsilon/\sigma$ を直接使う。
    重み $\lambda(\sigma)$ は掛けない: NCSN の $\lambda(\sigma) = \sigma^2$ は呼び出し側で掛ける
    ($\sigma^2 \ell_{\mathrm{DSM}} = \frac1N \sum_n \tfrac12 \|\sigma s_\theta(\tilde{x}^n) + \varepsilon^n\|^2$)。
    """
    x = as_tensor_points(x).detach()
    sigma = check_positive(sigma, name="sigma")
    check_callable(score_fn, name="score_fn", signature="(x) -> (N, d)")
    eps = torch.randn(x.shape, generator=make_generator(generator, name="generator"), dtype=x.dtype)
    x_noisy = x + sigma * eps  # x̃ = x + σ ε
    target = -eps / sigma  # ∇_x̃ log N(x̃; x, σ² I) = -(x̃ - x)/σ²
    s = evaluate_score(score_fn, x_noisy)
    return 0.5 * ((s - target) ** 2).sum(dim=1).mean()
# --8<-- [end:dsm_loss]


# --8<-- [start:tweedie]
def tweedie_denoise(x_noisy, noisy_score, sigma: float) -> np.ndarray:
    r"""Tweedie の公式 $\mathbb{E}[x \mid \tilde{x}] = \tilde{x} + \sigma^2 \nabla_{\tilde{x}} \log p_\sigma(\tilde{x})$。

    noisy_score は $\nabla_{\tilde{x}} \log p_\sigma$ を各点で評価した形 (N, d) の配列
    (厳密なスコアでも、学習したスコア $s_\theta(\tilde{x})$ でもよい)。形 (N, d)。
    """
    x_noisy = as_points(x_noisy, name="x_noisy")
    noisy_score = as_points(noisy_score, name="noisy_score")
    if noisy_score.shape != x_noisy.shape:
        raise InputError(f"noisy_score must have the shape of x_noisy {x_noisy.shape}, got {noisy_score.shape}")
    sigma = check_positive(sigma, name="sigma")
    return x_noisy + sigma**2 * noisy_score
# --8<-- [end:tweedie]


# --8<-- [start:posterior_mean]
def mixture_posterior_mean(mixture: GaussianMixture, x_noisy, sigma: float) -> np.ndarray:
    r"""ガウス混合のデータに対する厳密な事後平均 $\mathbb{E}[x \mid \tilde{x}]$ (スコアを使わない計算)。

    成分 $k$ の事後確率 $r_k(\tilde{x}) \propto \pi_k \mathcal{N}(\tilde{x}; \mu_k, \Sigma_k + \sigma^2 I)$ と、
    成分内のガウス分布の事後平均 $m_k(\tilde{x}) = \mu_k + \Sigma_k (\Sigma_k + \sigma^2 I)^{-1} (\tilde{x} - \mu_k)$ から
    $\mathbb{E}[x \mid \tilde{x}] = \sum_k r_k(\tilde{x})\, m_k(\tilde{x})$。形 (N, d)。
    """
    if not isinstance(mixture, GaussianMixture):
        raise InputError(f"mixture must be a GaussianMixture, got {type(mixture).__name__}")
    x_noisy = as_points(x_noisy, name="x_noisy", dim=mixture.dim)
    sigma = check_positive(sigma, name="sigma")
    noisy = mixture.noised(1.0, sigma)  # p_σ: 共分散 Σ_k + σ² I
    noisy_cov = noisy.covariances
    r = noisy.responsibilities(x_noisy)  # (N, K)
    diff = x_noisy[:, None, :] - mixture.means[None]  # x̃ - μ_k  (N, K, d)
    solved = np.linalg.solve(noisy_cov[None], diff[..., None])[..., 0]  # (Σ_k + σ² I)^{-1} (x̃ - μ_k)
    m = mixture.means[None] + np.einsum("kij,nkj->nki", mixture.covariances, solved)  # m_k(x̃)
    return np.einsum("nk,nkd->nd", r, m)
# --8<-- [end:posterior_mean]
