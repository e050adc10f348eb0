r"""モードの重み: サンプルが混合分布の各成分にどの割合で分かれているかを推定する。

既知のガウス混合 $p(x) = \sum_k \pi_k \mathcal{N}(x; \mu_k, \Sigma_k)$ の事後確率 (負担率)
$r_k(x) = \pi_k \mathcal{N}(x; \mu_k, \Sigma_k) / p(x)$ を使い、

$$
\hat{\pi}_k = \frac{1}{N} \sum_{n=1}^N r_k(x^n)
$$

とする。$x^n \sim p$ なら $\mathbb{E}_p[r_k(x)] = \int \pi_k \mathcal{N}(x; \mu_k, \Sigma_k)\,dx = \pi_k$ なので
不偏である。モードが十分離れていれば $r_k$ はほぼ 0 か 1 で、「一番近いモードに入った割合」と一致する。
(生成サンプルが何個のモードを捉えたかを数える指標は ``gen_lib.metrics.mode_coverage``。)
"""

from __future__ import annotations

# --8<-- [start:imports]
import numpy as np

from gen_lib.distributions.gaussian_mixture import GaussianMixture
from gen_lib.core.validation import InputError, as_points
# --8<-- [end:imports]

__all__ = ["estimate_mode_weights", "mode_weight_error"]
# --8<-- [start:mode_weights]


def _check_mixture(mixture) -> GaussianMixture:
    if not isinstance(mixture, GaussianMixture):
        raise InputError(f"mixture must be a GaussianMixture, got {type(mixture).__name__}")
    return mixture


def estimate_mode_weights(mixture: GaussianMixture, samples) -> np.ndarray:
    r"""$\hat{\pi}_k = \frac1N \sum_n r_k(x^n)$ (負担率の平均)。形 (K,)、和は 1。"""
    x = as_points(samples, name="samples", dim=_check_mixture(mixture).dim)
    return mixture.responsibilities(x).mean(axis=0)


def mode_weight_error(mixture: GaussianMixture, samples) -> float:
    r"""推定した重みと真の重みの全変動距離 $\tfrac12 \sum_k |\hat{\pi}_k - \pi_k|$ (0〜1)。"""
    return float(0.5 * np.abs(estimate_mode_weights(mixture, samples) - mixture.weights).sum())
# --8<-- [end:mode_weights]
