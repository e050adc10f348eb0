r"""モード被覆: 既知のガウス混合からのデータに対し、生成サンプルがいくつのモードを捉えたかを数える。

2 次元の混合分布 (円周上の 8 個のガウス分布など) で生成モデルを比べるときの定番の指標。
各サンプルを事後確率 $r_k(x)$ が最大の成分 $k^*(x)$ に割り当て、その成分の平均からの
マハラノビス距離

$$
m(x) = \sqrt{(x - \mu_{k^*})^\top \Sigma_{k^*}^{-1} (x - \mu_{k^*})}
$$

が ``n_std`` (既定 3、つまり 3σ) 以下なら「高品質」なサンプルとする。
高品質サンプルを公平な取り分 $N/K$ の ``min_share`` 倍 (既定 0.1) 以上受け取ったモードを
「被覆された」とみなす (はぐれた 1 点だけでは被覆と数えない)。
"""

from __future__ import annotations

# --8<-- [start:imports]
from dataclasses import dataclass

import numpy as np

from gen_lib.distributions.gaussian_mixture import GaussianMixture
from gen_lib.core.validation import InputError, as_points, check_positive

# --8<-- [end:imports]

__all__ = ["ModeCoverage", "mode_coverage"]


# --8<-- [start:mode_coverage]
@dataclass(frozen=True)
class ModeCoverage:
    """``mode_coverage`` の結果。"""

    counts: np.ndarray  # (K,) 各モードに割り当てられた高品質サンプルの数
    covered: int  # 被覆されたモードの数
    high_quality: float  # 高品質サンプルの割合 (0〜1)

    @property
    def n_modes(self) -> int:
        return len(self.counts)

    @property
    def covered_fraction(self) -> float:
        return self.covered / self.n_modes


def mode_coverage(mixture: GaussianMixture, samples, *, n_std: float = 3.0,
                  min_share: float = 0.1) -> ModeCoverage:
    r"""サンプルが捉えたモードの数と、高品質サンプル ($m(x) \le$ n_std) の割合。"""
    if not isinstance(mixture, GaussianMixture):
        raise InputError(f"mixture must be a GaussianMixture, "
                         f"got {type(mixture).__name__}")
    x = as_points(samples, name="samples", dim=mixture.dim)
    n_std = check_positive(n_std, name="n_std")
    min_share = check_positive(min_share, name="min_share")
    if min_share > 1:
        raise InputError(f"min_share must lie in (0, 1], got {min_share!r}")
    k = len(mixture.weights)
    nearest = np.argmax(mixture.responsibilities(x), axis=1)  # k*(x)
    diff = x - mixture.means[nearest]
    # マハラノビス距離の 2 乗 (x - μ)^T Σ^{-1} (x - μ)
    solved = np.linalg.solve(mixture.covariances[nearest], diff[..., None])
    m2 = np.einsum("nd,nd->n", diff, solved[..., 0])
    good = m2 <= n_std**2
    counts = np.bincount(nearest[good], minlength=k)
    covered = int(np.sum(counts >= min_share * len(x) / k))
    return ModeCoverage(counts=counts, covered=covered,
                        high_quality=float(good.mean()))
# --8<-- [end:mode_coverage]
