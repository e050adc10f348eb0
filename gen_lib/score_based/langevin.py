r"""ランジュバン・モンテカルロ法: スコアだけを使って分布からサンプリングする。

ステップ幅 $\tau > 0$ (Song & Ermon 2019 の $\epsilon$。第 3 章のノイズ $\varepsilon$ と区別する) で

$$
x^{(m+1)} = x^{(m)} + \frac{\tau}{2} s(x^{(m)}) + \sqrt{\tau}\, z^{(m)}, \qquad z^{(m)} \sim \mathcal{N}(0, I)
$$

を繰り返す (Welling & Teh 2011; Roberts & Tweedie 1996)。$\tau \to 0$, $M \to \infty$ に加えて
$\tau M \to \infty$ (連続時間で無限に長く動かす) とし、スコアがリプシッツ連続で $p$ が強対数凹か
対数ソボレフ不等式を満たすなら、$x^{(M)}$ の分布は $p(x)$ に収束する (Durmus & Moulines 2017)。
$\tau > 0$ のままでは定常分布が $p$ からずれる (ガウス分布なら閉形式: ``ula_gaussian_stationary_covariance``)。

スコア関数 ``score_fn`` は「形 (N, d) の numpy 配列 → 形 (N, d) の numpy 配列」とする。
N 本の連鎖を同時に (行ごとに独立に) 動かす。
"""

from __future__ import annotations

# --8<-- [start:imports]
from dataclasses import dataclass

import numpy as np

from gen_lib.core.types import ScoreFunction
from gen_lib.core.validation import (InputError, as_array, as_points, check_callable, check_count,
                                     check_positive, check_real, make_rng)
from gen_lib.distributions.gaussian_mixture import (
    GaussianMixture, isotropic_mixture,
)
# --8<-- [end:imports]

__all__ = ["langevin_step", "langevin_sample", "ula_gaussian_stationary_covariance", "uniform_box",
           "separated_modes_mixture", "LangevinSetting", "langevin_failure_setting"]
# --8<-- [start:langevin]


def langevin_step(score_fn: ScoreFunction, x: np.ndarray, step_size: float, rng: np.random.Generator,
                  *, where: str) -> np.ndarray:
    r"""1 ステップ $x + \tfrac{\tau}{2} s(x) + \sqrt{\tau}\, z$ ($\tau$ = step_size)。

    入力 (x は有限な (N, d)、step_size は正の有限な実数、rng は ``numpy.random.Generator``)、
    スコアの形 (N, d) と有限性、更新後の点の有限性を確かめる (発散を黙って NaN にしない)。
    where はエラーメッセージに入れる位置 (例: "step 3")。
    """
    check_callable(score_fn, name="score_fn", signature="(x) -> (N, d)")
    x = as_points(x, name="x")
    step_size = check_positive(step_size, name="step_size")
    if not isinstance(rng, np.random.Generator):
        raise InputError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not isinstance(where, str):
        raise InputError(f"where must be a str, got {type(where).__name__}")
    s = np.asarray(score_fn(x), dtype=np.float64)
    if s.shape != x.shape:
        raise InputError(f"score_fn must map points of shape {x.shape} to the same shape, got {s.shape}")
    if not np.all(np.isfinite(s)):
        raise InputError(f"score_fn returned non-finite values at {where} "
                         f"(the chain may have diverged: try a smaller step_size)")
    z = rng.standard_normal(x.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        x = x + 0.5 * step_size * s + np.sqrt(step_size) * z
    if not np.all(np.isfinite(x)):
        raise InputError(f"the chain diverged to non-finite values at {where}: try a smaller step_size")
    return x


def langevin_sample(score_fn: ScoreFunction, x0, step_size: float, n_steps: int, seed=0, *,
                    record_every: int | None = None):
    r"""$x^{(m+1)} = x^{(m)} + \tfrac{\tau}{2} s(x^{(m)}) + \sqrt{\tau}\, z^{(m)}$ を $M$ = n_steps 回 ($\tau$ = step_size)。

    x0 は形 (N, d) の初期値 (N 本の連鎖)。戻り値は $x^{(M)}$ (形 (N, d))。
    record_every = r を与えると ``(steps, snapshots)`` を返す: steps はステップ数
    $0, r, 2r, \dots$ (最後は必ず $M$)、snapshots はその時点の点で形 (len(steps), N, d)。
    """
    check_callable(score_fn, name="score_fn", signature="(x) -> (N, d)")
    x = as_points(x0, name="x0").copy()
    step_size = check_positive(step_size, name="step_size")
    n_steps = check_count(n_steps, name="n_steps")
    if record_every is not None:
        record_every = check_count(record_every, name="record_every")
    rng = make_rng(seed)
    steps, snapshots = [0], [x.copy()]
    for k in range(1, n_steps + 1):
        x = langevin_step(score_fn, x, step_size, rng, where=f"step {k - 1}")
        if record_every is not None and (k % record_every == 0 or k == n_steps):
            steps.append(k)
            snapshots.append(x.copy())
    if record_every is None:
        return x
    return np.array(steps), np.stack(snapshots)
# --8<-- [end:langevin]


# --8<-- [start:ula_gaussian]
def ula_gaussian_stationary_covariance(covariance, step_size: float) -> np.ndarray:
    r"""目標 $\mathcal{N}(\mu, \Sigma)$ に対するランジュバン連鎖の定常共分散。

    $x^{(m+1)} - \mu = A (x^{(m)} - \mu) + \sqrt{\tau} z^{(m)}$, $A = I - \tfrac{\tau}{2}\Sigma^{-1}$
    の定常共分散 $C$ は $C = A C A^\top + \tau I$ を満たし、
    $C = \Sigma\,(I - \tfrac{\tau}{4}\Sigma^{-1})^{-1}$ (固有値ごとに $\lambda / (1 - \tau / 4\lambda)$)。
    連鎖が発散しない条件は $\tau < 4 \lambda_{\min}(\Sigma)$ ($\tau$ = step_size)。
    """
    cov = as_array(covariance, name="covariance", ndim=2)
    if cov.shape[0] != cov.shape[1] or not np.allclose(cov, cov.T):
        raise InputError(f"covariance must be a symmetric square matrix, got shape {cov.shape}")
    step_size = check_positive(step_size, name="step_size")
    lam, vectors = np.linalg.eigh(cov)
    if lam.min() <= 0:
        raise InputError(f"covariance must be positive definite, got smallest eigenvalue {lam.min():.3g}")
    if step_size >= 4 * lam.min():
        raise InputError(f"step_size must be < 4 * (smallest eigenvalue of covariance) = {4 * lam.min():.4g} "
                         f"for the chain to have a stationary distribution, got {step_size}")
    return (vectors * (lam / (1.0 - step_size / (4.0 * lam)))) @ vectors.T
# --8<-- [end:ula_gaussian]


def uniform_box(n: int, low: float, high: float, dim: int = 2, seed=0) -> np.ndarray:
    r"""箱 $[\text{low}, \text{high}]^d$ 上の一様分布から n 点 (連鎖の初期値に使う)。形 (n, dim)。"""
    n = check_count(n, name="n")
    dim = check_count(dim, name="dim")
    low, high = check_real(low, name="low"), check_real(high, name="high")
    if not high > low:
        raise InputError(f"high must exceed low, got low={low}, high={high}")
    return make_rng(seed).uniform(low, high, size=(n, dim))


# --8<-- [start:failure_setting]
def separated_modes_mixture() -> GaussianMixture:
    r"""離れた 2 つのモード: $\tfrac15 \mathcal{N}((-5,-5), I) + \tfrac45 \mathcal{N}((5,5), I)$。

    Song & Ermon (2019) がランジュバン法の弱点を示すのに用いた形の分布。
    """
    return isotropic_mixture([[-5.0, -5.0], [5.0, 5.0]], std=1.0, weights=[0.2, 0.8])


@dataclass(frozen=True)
class LangevinSetting:
    """サンプラーを比べるための共通の設定 (分布・初期値・ステップ幅・ステップ数・乱数)。"""

    mixture: GaussianMixture  # 目標分布 p(x) (厳密なスコア mixture.score を使う)
    x0: np.ndarray  # (N, d) 連鎖の初期値
    step_size: float  # τ, ステップ幅
    n_steps: int  # K
    seed: int  # ランジュバン法のノイズ z_k のシード
    reference_seed: int  # 比較用の厳密なサンプル mixture.sample(N, reference_seed) のシード

    def reference_samples(self) -> np.ndarray:
        """2 サンプル距離の相手にする $p(x)$ からの厳密なサンプル。形 (N, d)。"""
        return self.mixture.sample(len(self.x0), seed=self.reference_seed)


def langevin_failure_setting(n_chains: int = 1000, seed: int = 0) -> LangevinSetting:
    r"""モードの重みを取り違える設定: 箱 $[-8, 8]^2$ の一様分布から $\tau = 0.1$ で 1000 ステップ。"""
    n_chains = check_count(n_chains, name="n_chains")
    seed = check_count(seed, name="seed", minimum=0)
    x0 = uniform_box(n_chains, -8.0, 8.0, dim=2, seed=seed)
    return LangevinSetting(mixture=separated_modes_mixture(), x0=x0, step_size=0.1, n_steps=1000,
                           seed=seed + 1, reference_seed=seed + 2)
# --8<-- [end:failure_setting]
