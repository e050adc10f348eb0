r"""第 1 章「記号一覧」の実験: おもちゃの 2 次元分布の厳密な $\log p(x)$ を格子で計算し、サンプルを引く。"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gen_lib.core.experiment import experiment
from gen_lib.core.grid import plane_points
from gen_lib.distributions.gaussian_mixture import asymmetric_mixture, ring_of_gaussians

__all__ = ["ToySettings", "toy_log_densities"]


@dataclass(frozen=True)
class ToySettings:
    """円周上の 8 個のモード (``ring_of_gaussians``) と非対称な 3 成分 (``asymmetric_mixture``) の混合。"""

    ring_lim: float = 3.0  # 円周の混合を計算する範囲 [-ring_lim, ring_lim]^2
    asymmetric_lim: float = 4.5  # 非対称な混合の範囲
    n_grid: int = 301  # 格子の 1 軸の点数
    n_samples: int = 400  # 各分布から引くサンプルの数
    seed: int = 0  # サンプルのシード (円周: seed, 非対称: seed + 1)


@experiment(ToySettings)
def toy_log_densities(settings: ToySettings) -> dict:
    r"""分布ごと ({"ring", "asymmetric"}) に ``axis``、``log_p`` ($\log p(x)$ (n_grid, n_grid)、行が $x_2$)、
    ``total`` (リーマン和 $\sum p(x)\,h^2 \approx \int p(x)\,dx$、$h$ は格子の間隔)、``samples`` (n_samples, 2)。"""
    cases = [("ring", ring_of_gaussians(), settings.ring_lim),
             ("asymmetric", asymmetric_mixture(), settings.asymmetric_lim)]
    out = {}
    for i, (name, mixture, lim) in enumerate(cases):
        axis = np.linspace(-lim, lim, settings.n_grid)
        log_p = mixture.log_prob(plane_points(axis)).reshape(axis.size, axis.size)
        h = axis[1] - axis[0]
        out[name] = {"axis": axis, "log_p": log_p, "total": float(np.exp(log_p).sum() * h * h),
                     "samples": mixture.sample(settings.n_samples, seed=settings.seed + i)}
    return out
