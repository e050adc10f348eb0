r"""焼きなましランジュバン法 (annealed Langevin dynamics; Song & Ermon 2019, Algorithm 1)。

ノイズの大きさ $\sigma_1 > \sigma_2 > \cdots > \sigma_L$ (大きい順) ごとのスコア
$s(x, \sigma) \approx \nabla_x \log p_\sigma(x)$ を使い、大きい $\sigma$ から順にランジュバン法を $M$ 回ずつ回す
(Song & Ermon 2019 の $T$。拡散モデルの時刻と区別する)。

$$
\alpha_l = \tau\, \frac{\sigma_l^2}{\sigma_L^2}, \qquad
x \leftarrow x + \frac{\alpha_l}{2}\, s(x, \sigma_l) + \sqrt{\alpha_l}\, z, \quad z \sim \mathcal{N}(0, I)
$$

前の段の終わりの点を次の段の初期値にする。$\tau > 0$ は最後の段 ($\sigma_L$) のステップ幅である
(Song & Ermon 2019 の $\epsilon$)。
スコア関数は「形 (N, d) の点の配列と正の数 $\sigma$ → 形 (N, d) の配列」という numpy の関数で表す。
"""

from __future__ import annotations

# --8<-- [start:imports]
import numpy as np

from gen_lib.core.types import NoiseConditionalScore
from gen_lib.core.validation import (as_points, check_bool, check_callable, check_count, check_positive,
                                     make_rng)
from gen_lib.score_based.langevin import langevin_step
from gen_lib.score_based.ncsn import check_noise_levels
# --8<-- [end:imports]

__all__ = ["annealed_langevin_sample"]


# --8<-- [start:annealed_langevin]
def annealed_langevin_sample(score_fn: NoiseConditionalScore, x0, sigmas, step_size: float,
                             n_steps_each: int, seed=0, *, return_path: bool = False):
    r"""焼きなましランジュバン法。$\sigma_1$ から $\sigma_L$ まで各 $M$ = n_steps_each 回。

    段 $l$ のステップ幅は $\alpha_l = \tau \sigma_l^2 / \sigma_L^2$ ($\tau$ = step_size)。
    戻り値は最後の点 (N, d)。return_path=True なら各段の終わりの点も返す (形 (L+1, N, d)、
    先頭は x0)。
    """
    check_callable(score_fn, name="score_fn", signature="(x, sigma) -> (N, d)")
    return_path = check_bool(return_path, name="return_path")
    x = as_points(x0, name="x0").copy()
    sigmas = check_noise_levels(sigmas)  # σ_1 > σ_2 > ... > σ_L > 0
    step_size = check_positive(step_size, name="step_size")
    n_steps_each = check_count(n_steps_each, name="n_steps_each")
    rng = make_rng(seed)
    path = [x.copy()]
    for sigma in sigmas:
        alpha = step_size * (sigma / sigmas[-1]) ** 2  # α_l = τ σ_l² / σ_L²
        for _ in range(n_steps_each):  # M 回: x ← x + (α_l/2) s(x, σ_l) + √α_l z
            x = langevin_step(lambda y: score_fn(y, float(sigma)), x, alpha, rng, where=f"sigma={sigma:.4g}")
        path.append(x.copy())
    return np.stack(path) if return_path else x
# --8<-- [end:annealed_langevin]
