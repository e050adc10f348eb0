r"""2 サンプル距離: 2 つのサンプル集合がどれだけ違う分布から来ているかを測る。

密度が評価できないモデル (暗黙的生成モデル、拡散モデルのサンプラー) の出来を、
データのサンプルとモデルのサンプルだけから数値で比べるための共通の道具である。

- エネルギー距離 (Székely & Rizzo 2013):
  $\mathcal{E}(P, Q) = 2\,\mathbb{E}\|X - Y\| - \mathbb{E}\|X - X'\| - \mathbb{E}\|Y - Y'\|$
- ガウスカーネルの MMD² (Gretton et al. 2012):
  $\mathrm{MMD}^2(P, Q) = \mathbb{E}\,k(X, X') + \mathbb{E}\,k(Y, Y') - 2\,\mathbb{E}\,k(X, Y)$,
  $k(x, y) = \exp(-\|x - y\|^2 / (2\ell^2))$ (幅 $\ell$ = bandwidth)

ここで $X, X' \sim P$, $Y, Y' \sim Q$ は独立。どちらも 0 以上で、0 になるのは $P = Q$ のときに限る。
サンプル集合は形 ``(N, d)`` の配列 (記号一覧のデータセット D と同じ形)。
計算量・メモリは $O(NM)$ (N, M は 2 つの集合の大きさ) なので、数千点までを想定する。
"""

from __future__ import annotations

# --8<-- [start:imports]
import numpy as np

from gen_lib.core.validation import (InputError, as_points, check_bool, check_callable, check_count,
                                     check_finite_result, check_positive, make_rng)

# --8<-- [end:imports]

__all__ = ["pairwise_distances", "energy_distance", "gaussian_kernel", "mmd_squared", "median_heuristic",
           "noise_floor"]


# --8<-- [start:pair]
def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = as_points(x, name="x")
    y = as_points(y, name="y")
    if x.shape[1] != y.shape[1]:
        raise InputError(f"x and y must have the same dimension d, "
                         f"got x {x.shape} and y {y.shape}")
    return x, y


def pairwise_distances(x, y) -> np.ndarray:
    r"""ユークリッド距離の行列 $\|x^i - y^j\|$。形 (N, M)。"""
    x, y = _pair(x, y)
    # 距離は平行移動で変わらない: 2 つの集合を合わせた平均 c を引いてから
    # 展開する。原点から遠い点 (例えば 1e8 だけずれた点) でも ‖x‖² と 2x·y の
    # 桁落ちが起きない。
    c = (x.sum(axis=0) + y.sum(axis=0)) / (len(x) + len(y))
    x, y = x - c, y - c
    # 2 のべき 2^k で割ってから 2 乗する (1e160 のような点でも 2 乗があふれず、1e-200 のような点でも 0 にならない。
    # 2^k で割って 2^k を掛け戻すのは厳密なので、ふつうの大きさの点では結果は 1 ビットも変わらない)
    scale = 2.0 ** float(np.frexp(max(np.max(np.abs(x)), np.max(np.abs(y))))[1])
    x, y = x / scale, y / scale
    # ‖x - y‖² = ‖x‖² + ‖y‖² - 2 x·y (丸め誤差で負になった分は 0 に切る)
    sq_x = np.sum(x**2, axis=1)[:, None]
    sq_y = np.sum(y**2, axis=1)[None, :]
    return scale * np.sqrt(np.maximum(sq_x + sq_y - 2.0 * x @ y.T, 0.0))
# --8<-- [end:pair]


# --8<-- [start:energy_distance]
def energy_distance(x, y) -> float:
    r"""エネルギー距離の V 統計量 (経験分布どうしのエネルギー距離)。

    $$
    \hat{\mathcal{E}} = \frac{2}{NM}\sum_{i,j}\|x^i - y^j\|
      - \frac{1}{N^2}\sum_{i,i'}\|x^i - x^{i'}\|
      - \frac{1}{M^2}\sum_{j,j'}\|y^j - y^{j'}\|
    $$

    常に 0 以上で、同じ集合どうしなら厳密に 0 になる。
    """
    x, y = _pair(x, y)
    xy = pairwise_distances(x, y).mean()
    xx = pairwise_distances(x, x).mean()
    yy = pairwise_distances(y, y).mean()
    # 数学的には 0 以上。丸め誤差の負は 0 に切る (2 (xy - xx/2 - yy/2) は 2xy - xx - yy と同じ丸めで、途中があふれない)
    return float(check_finite_result(max(2.0 * (xy - 0.5 * xx - 0.5 * yy), 0.0), name="x or y"))
# --8<-- [end:energy_distance]


# --8<-- [start:mmd]
def gaussian_kernel(x, y, bandwidth: float) -> np.ndarray:
    r"""ガウスカーネル $k(x, y) = \exp(-\|x - y\|^2 / (2\ell^2))$ (幅 $\ell$ = bandwidth) の行列。形 (N, M)。"""
    h = check_positive(bandwidth, name="bandwidth")
    return np.exp(-0.5 * (pairwise_distances(x, y) / h) ** 2)  # d/ℓ を先に: 大きな d と ℓ でもあふれない


def mmd_squared(x, y, bandwidth: float, *, unbiased: bool = False) -> float:
    r"""ガウスカーネルの $\mathrm{MMD}^2$ の推定量 (Gretton et al. 2012)。

    偏りのある推定 (V 統計量、既定) は対角成分も含めた平均:
    $\frac{1}{N^2}\sum k(x^i, x^{i'}) + \frac{1}{M^2}\sum k(y^j, y^{j'}) - \frac{2}{NM}\sum k(x^i, y^j)$。
    0 以上で、同じ集合どうしなら 0。
    ``unbiased=True`` は対角 ($i = i'$, $j = j'$) を除いた U 統計量で、期待値がちょうど
    $\mathrm{MMD}^2$ になる (同じ分布なら期待値 0、値は負にもなりうる)。N, M >= 2 が必要。
    """
    x, y = _pair(x, y)
    unbiased = check_bool(unbiased, name="unbiased")
    kxx = gaussian_kernel(x, x, bandwidth)
    kyy = gaussian_kernel(y, y, bandwidth)
    kxy = gaussian_kernel(x, y, bandwidth)
    if not unbiased:
        return float(max(kxx.mean() + kyy.mean() - 2.0 * kxy.mean(), 0.0))
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        raise InputError(f"unbiased MMD needs at least 2 points in each set, got N={n}, M={m}")
    xx = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(xx + yy - 2.0 * kxy.mean())
# --8<-- [end:mmd]


def median_heuristic(x, y) -> float:
    """バンド幅 $h$ の目安: 2 つの集合を合わせた点どうしの距離 (0 を除く) の中央値。"""
    x, y = _pair(x, y)
    z = np.concatenate([x, y])
    d = pairwise_distances(z, z)
    d = d[np.triu_indices(len(z), k=1)]
    d = d[d > 0]
    if d.size == 0:
        raise InputError("median_heuristic needs at least two distinct points, got identical points only")
    return float(np.median(d))


# --8<-- [start:noise_floor]
def noise_floor(sample, n: int, *, distance=energy_distance, n_pairs: int = 10, seed=0) -> np.ndarray:
    r"""ノイズの床 (noise floor): 同じ分布から独立に引いた 2 つのサンプル集合 (n 点ずつ) どうしの距離。

    ``sample(n, seed)`` は厳密なサンプル (n, d) を返す関数 (例: ``GaussianMixture.sample``)。
    有限個の点で測る距離は分布が等しくても 0 にならない。モデルのサンプルとの距離はこの値と比べて読む。
    戻り値は ``n_pairs`` 組の距離 (n_pairs,)。
    """
    n = check_count(n, name="n", minimum=2)
    n_pairs = check_count(n_pairs, name="n_pairs")
    check_callable(sample, name="sample", signature="(n, seed)")
    check_callable(distance, name="distance", signature="(x, y)")
    rng = make_rng(seed)
    return np.array([distance(sample(n, seed=rng), sample(n, seed=rng)) for _ in range(n_pairs)])
# --8<-- [end:noise_floor]
