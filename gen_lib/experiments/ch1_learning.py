r"""第 1 章「学習手法」の実験: 密度を評価できるモデル (ガウス混合) と、サンプラーしかないモデル。

- 尤度ベース: 3 つのモードを持つガウス混合 $q_\theta$ の密度を格子で、いくつかの点で $\log q_\theta(x)$ を、
  データ 500 点で平均対数尤度 $L$ を計算する。
- 暗黙的: 1 次元の潜在変数を曲線に写すサンプラー ``curve_sampler`` からサンプルを引く
  (2 次元の密度は存在しないので、$\log q_\theta(x)$ も $L$ も計算できない)。
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gen_lib.core.experiment import experiment
from gen_lib.core.grid import plane_points
from gen_lib.core.validation import check_count, make_rng
from gen_lib.generative.maximum_likelihood import average_log_likelihood, three_mode_mixture

__all__ = ["curve_sampler", "TwoFamiliesSettings", "two_families"]


def curve_sampler(n: int, seed=0) -> np.ndarray:
    r"""1 次元の潜在変数から 2 次元の点を作るサンプラー (暗黙的生成モデルの例)。

    $z \sim \mathcal{N}(0, 1)$, $x = g(z) = (2 \sin 1.2z,\ 1.5 \sin 2.4z)$。
    点は曲線の上にしか乗らないので、2 次元の密度 $q(x)$ は存在しない。形 (n, 2)。
    """
    z = make_rng(seed).standard_normal(check_count(n, name="n"))
    return np.stack([2.0 * np.sin(1.2 * z), 1.5 * np.sin(2.4 * z)], axis=1)


@dataclass(frozen=True)
class TwoFamiliesSettings:
    """尤度ベースのモデル (3 つのモードを持つガウス混合) と暗黙的なモデル (曲線のサンプラー) の比較。"""

    n_data: int = 500  # N, 平均対数尤度 L を計算するデータの数
    n_samples: int = 2000  # 暗黙的なモデルから引くサンプルの数
    lim: float = 3.5  # 密度を描く範囲 [-lim, lim]^2
    n_grid: int = 141  # 密度の格子の 1 軸の点数
    queries: tuple[tuple[float, float], ...] = ((0.0, 1.5), (0.0, -0.3), (2.5, 2.6))  # log q_θ(x) を示す点 x
    seed: int = 0  # データとサンプラーのシード


@experiment(TwoFamiliesSettings)
def two_families(settings: TwoFamiliesSettings) -> dict:
    r"""尤度ベース: ``axis``, ``density`` ($q_\theta$ (n_grid, n_grid)、行が $x_2$)、``queries`` と
    ``query_log_prob`` ($\log q_\theta$)、``log_likelihood`` ($L$、``n_data`` 点)。暗黙的: ``samples``。"""
    mixture = three_mode_mixture()
    axis = np.linspace(-settings.lim, settings.lim, settings.n_grid)
    queries = np.array(settings.queries)
    data = mixture.sample(settings.n_data, seed=settings.seed)
    return {"axis": axis,
            "density": np.exp(mixture.log_prob(plane_points(axis))).reshape(axis.size, axis.size),
            "queries": queries, "query_log_prob": mixture.log_prob(queries), "n_data": settings.n_data,
            "log_likelihood": average_log_likelihood(mixture.log_prob, data),
            "samples": curve_sampler(settings.n_samples, seed=settings.seed)}
