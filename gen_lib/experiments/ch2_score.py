r"""第 2 章「スコア関数」の実験: 非正規化密度のスコアが $Z$ によらないこと、2 次元のスコアの場 (学習なし)。"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gen_lib.core.experiment import experiment
from gen_lib.core.grid import plane_points
from gen_lib.distributions.gaussian_mixture import (GaussianMixture, asymmetric_mixture, isotropic_mixture,
                                                    ring_of_gaussians)
from gen_lib.score_based.score import score_from_energy

__all__ = ["one_dimensional_mixture", "NormalizerSettings", "score_by_normalizer", "FieldSettings",
           "score_fields"]


def one_dimensional_mixture() -> GaussianMixture:
    r"""2 つのモードを持つ 1 次元の混合 $0.3\,\mathcal{N}(-2, 0.6^2) + 0.7\,\mathcal{N}(1.5, 0.6^2)$。"""
    return isotropic_mixture([[-2.0], [1.5]], std=0.6, weights=[0.3, 0.7])


@dataclass(frozen=True)
class NormalizerSettings:
    """1 次元の例: 非正規化密度の定数 Z を変えてスコアを比べる。"""

    low: float = -4.5  # 1 次元の格子の左端
    high: float = 4.0  # 右端
    n_points: int = 401  # 格子点の数
    normalizers: tuple[float, ...] = (0.5, 1.0, 2.0)  # Z, 非正規化密度 γ = Z p の定数


@experiment(NormalizerSettings)
def score_by_normalizer(settings: NormalizerSettings) -> dict:
    r"""$Z$ ごとに $\gamma(x) = Z p(x)$ のエネルギー $f = -\log p - \log Z$ を自動微分したスコア $-\nabla f$。

    戻り値: 格子 ``x`` (n,)、``density`` $p(x)$、閉じた形のスコア ``exact``、``scores`` ({Z: (n,)})、
    スコアの符号が変わる格子点 ``zeros`` (モードと谷底)。
    """
    mixture = one_dimensional_mixture()
    x = np.linspace(settings.low, settings.high, settings.n_points)[:, None]
    exact = mixture.score(x)[:, 0]
    scores = {}
    for z in settings.normalizers:
        energy = (lambda t, z=z: -mixture.log_prob_torch(t) - math.log(z))  # γ = exp(-f) = Z p
        scores[z] = score_from_energy(energy, x)[:, 0]
    return {"x": x[:, 0], "density": np.exp(mixture.log_prob(x)), "exact": exact, "scores": scores,
            "zeros": x[:-1, 0][np.sign(exact[:-1]) != np.sign(exact[1:])]}


@dataclass(frozen=True)
class FieldSettings:
    """2 次元のスコアの場を描く格子。"""

    lim: float = 3.0  # 描く範囲 [-lim, lim]^2
    n_density: int = 161  # 密度の格子の 1 軸の点数
    n_arrows: int = 19  # 矢印の格子の 1 軸の点数
    margin: float = 0.25  # 矢印の格子を枠から内側に離す幅


@experiment(FieldSettings)
def score_fields(settings: FieldSettings) -> dict:
    r"""円周上の 8 個のモードの混合 (``ring``) と重みの違う 3 つのモードの混合 (``asymmetric``) の密度 $p(x)$ とスコア $\nabla_x \log p(x)$。

    戻り値: 密度の格子の目盛り ``axis``、矢印の位置 ``arrows_at`` (M, 2)、分布ごとに
    ``density`` (n, n) と ``score`` (M, 2)。
    """
    axis = np.linspace(-settings.lim, settings.lim, settings.n_density)
    ticks = np.linspace(-settings.lim + settings.margin, settings.lim - settings.margin, settings.n_arrows)
    arrows_at = plane_points(ticks)
    fields = {}
    for name, mixture in (("ring", ring_of_gaussians()), ("asymmetric", asymmetric_mixture())):
        density = np.exp(mixture.log_prob(plane_points(axis))).reshape(axis.size, axis.size)
        fields[name] = {"density": density, "score": mixture.score(arrows_at)}
    return {"axis": axis, "arrows_at": arrows_at, "fields": fields}
