r"""ガウス混合分布: 対数密度が厳密に分かる 2 次元のおもちゃのデータ分布。

$$
p(x) = \sum_{k=1}^K \pi_k \, \mathcal{N}(x; \mu_k, \Sigma_k)
$$

データセット $D = \{x^1, \dots, x^N\}$ は形 ``(N, d)`` の配列で表す (記号一覧)。
$x^n$ が $n$ 行目、その $i$ 成分 $x^n_i$ が ``D[n-1, i-1]`` である (Python の添字は 0 から)。
後の章 (スコア、ランジュバン法、拡散モデル) もこの分布を使う。
"""

from __future__ import annotations

# --8<-- [start:imports]
import math
from dataclasses import dataclass

import numpy as np
import torch

from gen_lib.core.numerics import logsumexp
from gen_lib.core.validation import (InputError, as_array, as_points, as_tensor_points, check_bool,
                                     check_count, check_finite_result, check_positive, check_weights,
                                     make_rng)

# --8<-- [end:imports]

__all__ = ["GaussianMixture", "isotropic_mixture", "ring_of_gaussians", "asymmetric_mixture"]


# --8<-- [start:mixture]
@dataclass(frozen=True, eq=False)
class GaussianMixture:
    r"""$p(x) = \sum_k \pi_k \mathcal{N}(x; \mu_k, \Sigma_k)$。

    成分ごとに平均・共分散を持つ。
    """

    weights: np.ndarray  # (K,)    混合比 π_k
    means: np.ndarray  # (K, d)  平均 μ_k
    covariances: np.ndarray  # (K, d, d) 共分散 Σ_k

    def __post_init__(self):
        w = check_weights(self.weights)
        mu = as_array(self.means, name="means", ndim=2)
        cov = as_array(self.covariances, name="covariances", ndim=3)
        k, d = mu.shape
        if d < 1:
            raise InputError(f"means must have shape (K, d) with d >= 1, "
                             f"got {mu.shape}")
        if w.shape != (k,) or cov.shape != (k, d, d):
            raise InputError(f"expected weights (K,), means (K, d), "
                             f"covariances (K, d, d); got {w.shape}, "
                             f"{mu.shape}, {cov.shape}")
        try:
            chol = np.linalg.cholesky(cov)  # Σ_k = L_k L_k^T
        except np.linalg.LinAlgError:
            raise InputError("every covariance must be symmetric "
                             "positive definite") from None
        if not np.allclose(cov, np.swapaxes(cov, 1, 2)):
            raise InputError("every covariance must be symmetric "
                             "positive definite")
        # 呼び出し側の配列を書き換えても分布が変わらないよう、読み取り専用の複製を持つ。
        # L_k^{-1}: 呼び出しごとに連立方程式を解かないよう前計算する
        with np.errstate(over="ignore", invalid="ignore"):
            chol_inv = np.linalg.inv(chol)
            # Σ_k^{-1} = L_k^{-T} L_k^{-1}
            precision = np.swapaxes(chol_inv, 1, 2) @ chol_inv
        if not (np.all(np.isfinite(precision)) and np.all(np.diagonal(chol, axis1=1, axis2=2) > 0)):
            # 例: std 1e-160 では Σ^{-1} = 1e320 が float64 を超え、スコアが NaN になる
            raise InputError("covariances are too small or ill-conditioned: their "
                             "inverse overflows float64 (smallest variance "
                             f"{np.min(np.linalg.eigvalsh(cov)):.3g}; std**2 "
                             "for isotropic_mixture)")
        arrays = [("weights", w), ("means", mu), ("covariances", cov),
                  ("_chol", chol), ("_chol_inv", chol_inv),
                  ("_precision", precision)]
        for name, value in arrays:
            value = np.array(value, dtype=np.float64)
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        with np.errstate(divide="ignore"):
            # 重み 0 の成分は -inf
            object.__setattr__(self, "_log_weights", np.log(self.weights))

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def component_log_prob(self, x) -> np.ndarray:
        r"""各成分の $\log \pi_k + \log \mathcal{N}(x; \mu_k, \Sigma_k)$。

        形 (N, K)。
        """
        x = as_points(x, dim=self.dim)
        diff = x[:, None, :] - self.means[None, :, :]  # (N, K, d)
        # z = L_k^{-1} (x - μ_k) とおくと ‖z‖² = (x-μ_k)^T Σ_k^{-1} (x-μ_k)
        z = np.einsum("kij,nkj->nki", self._chol_inv, diff)
        # log|Σ_k| = 2 Σ_i log (L_k)_ii
        diag = np.diagonal(self._chol, axis1=1, axis2=2)
        log_det = 2.0 * np.log(diag).sum(axis=1)
        log_norm = -0.5 * (self.dim * math.log(2 * math.pi) + log_det)
        with np.errstate(over="ignore"):
            log_prob = self._log_weights + log_norm - 0.5 * np.sum(z**2, axis=-1)
        if not np.all(np.isfinite(log_prob)):  # 遠すぎる点では ‖z‖² が float64 であふれる
            raise InputError(f"x is too far from every component: the log density overflows float64 "
                             f"(largest |x| = {np.max(np.abs(x)):.3g})")
        return log_prob

    def log_prob(self, x) -> np.ndarray:
        r"""$\log p(x)$ を logsumexp で安定に計算する。形 (N,)。"""
        log_p = logsumexp(self.component_log_prob(x), axis=1)
        if not np.all(np.isfinite(log_p)):
            raise InputError("x is too far from every component: "
                             "log p(x) underflows to -inf")
        return log_p

    def sample(self, n: int, seed=0, *, return_labels: bool = False):
        r"""$x \sim p(x)$ を n 個。

        成分 $k \sim \pi$ を選び $x = \mu_k + L_k \varepsilon$ とする。
        """
        n = check_count(n, name="n")
        return_labels = check_bool(return_labels, name="return_labels")
        rng = make_rng(seed)
        labels = rng.choice(len(self.weights), size=n, p=self.weights)
        eps = rng.standard_normal((n, self.dim))
        x = self.means[labels] + np.einsum("nij,nj->ni", self._chol[labels],
                                           eps)
        return (x, labels) if return_labels else x
# --8<-- [end:mixture]

    # --8<-- [start:noised]
    def noised(self, scale: float, noise_std: float) -> "GaussianMixture":
        r"""$\tilde{x} = a x + s \varepsilon$ ($x \sim p$, $\varepsilon \sim \mathcal{N}(0, I)$) の分布。

        ガウス分布の線形変換に独立なガウスノイズを足してもガウス分布なので、これもガウス混合
        $\sum_k \pi_k \mathcal{N}(a \mu_k, a^2 \Sigma_k + s^2 I)$ になる ($a$ = scale, $s$ = noise_std)。
        ノイズの大きさ $\sigma$ でぼかした $p_\sigma$ は $(a, s) = (1, \sigma)$、
        DDPM の前向き過程の周辺分布 $q(x_t)$ は $(a, s) = (\sqrt{\bar\alpha_t}, \sqrt{1 - \bar\alpha_t})$ である。
        """
        for name, value in [("scale", scale), ("noise_std", noise_std)]:
            try:
                valid = not isinstance(value, bool) and math.isfinite(value) and value >= 0
            except TypeError:  # 数でないもの
                valid = False
            if not valid:
                raise InputError(f"{name} must be a finite number >= 0, got {value!r}")
        return GaussianMixture(self.weights, scale * self.means,
                               scale**2 * self.covariances + noise_std**2 * np.eye(self.dim)[None])
    # --8<-- [end:noised]

    # --8<-- [start:score]
    def responsibilities(self, x) -> np.ndarray:
        r"""事後確率 $r_k(x) = \pi_k \mathcal{N}(x;\mu_k,\Sigma_k) / p(x)$。

        形 (N, K)。
        """
        a = self.component_log_prob(x)
        log_p = logsumexp(a, axis=1, keepdims=True)
        if not np.all(np.isfinite(log_p)):
            raise InputError("x is too far from every component: "
                             "log p(x) underflows to -inf")
        return np.exp(a - log_p)

    def score(self, x) -> np.ndarray:
        r"""スコア $\nabla_x \log p(x)$。形 (N, d)。

        $\nabla_x \log p(x) = -\sum_k r_k(x)\, \Sigma_k^{-1}(x - \mu_k)$。
        """
        x = as_points(x, dim=self.dim)
        r = self.responsibilities(x)
        diff = x[:, None, :] - self.means[None]
        # Σ_k^{-1}(x - μ_k)
        with np.errstate(over="ignore", invalid="ignore"):
            precision_diff = np.einsum("kij,nkj->nki", self._precision, diff)
            score = -np.einsum("nk,nkd->nd", r, precision_diff)
        if not np.all(np.isfinite(score)):
            raise InputError("x is too far from the components: the score "
                             "overflows float64")
        return score
    # --8<-- [end:score]

    def log_prob_torch(self, x: torch.Tensor) -> torch.Tensor:
        r"""torch 版の $\log p(x)$ (自動微分でスコアを確かめるため)。"""
        x = as_tensor_points(x, dim=self.dim)
        dist = torch.distributions.MultivariateNormal(
            torch.tensor(self.means, dtype=x.dtype), scale_tril=torch.tensor(self._chol, dtype=x.dtype))
        a = dist.log_prob(x[:, None, :]) + torch.tensor(self._log_weights, dtype=x.dtype)
        return check_finite_result(torch.logsumexp(a, dim=1), name="x", source=x)


# --8<-- [start:factories]
def isotropic_mixture(means, std: float, weights=None) -> GaussianMixture:
    r"""共分散がすべて $\sigma^2 I$ の混合。weights を省くと等確率。"""
    mu = as_array(means, name="means", ndim=2)
    std = check_positive(std, name="std")
    k, d = mu.shape
    w = np.full(k, 1.0 / k) if weights is None else weights
    cov = np.broadcast_to(std**2 * np.eye(d), (k, d, d)).copy()
    return GaussianMixture(w, mu, cov)


def ring_of_gaussians(n_modes: int = 8, radius: float = 2.0,
                      std: float = 0.15) -> GaussianMixture:
    """半径 radius の円周上に等間隔に並んだ n_modes 個のガウス分布 (2 次元)。"""
    n_modes = check_count(n_modes, name="n_modes")
    radius = check_positive(radius, name="radius")
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return isotropic_mixture(means, std)


def asymmetric_mixture() -> GaussianMixture:
    """重みの違う 2 つの細長い成分と 1 つの丸い成分 (重みの推定を試すための非対称な例)。"""
    weights = np.array([0.5, 0.3, 0.2])
    means = np.array([[-1.5, 0.0], [1.5, 0.5], [0.0, -1.5]])
    covariances = np.array([
        [[0.30, 0.20], [0.20, 0.30]],
        [[0.30, -0.20], [-0.20, 0.30]],
        [[0.10, 0.00], [0.00, 0.10]],
    ])
    return GaussianMixture(weights, means, covariances)
# --8<-- [end:factories]
