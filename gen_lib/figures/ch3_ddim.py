r"""第 3 章「DDIM」の図: ステップ数と $\eta$ によるサンプルの質と、サンプルそのもの。

計算は ``gen_lib.experiments.ch3_ddim`` が行い (学習済みの DDPM は ``ch3_models``)、ここでは結果を描くだけである。
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from gen_lib.core.plotting import DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch3_ddim import DdimSettings, FloorSettings, noise_floors, step_quality
from gen_lib.figures import figure

ETA_STYLE = {0.0: ("o-", MODEL_COLOR), 1.0: ("s--", DATA_COLOR)}


@figure("ch3-ddim-quality.svg")
def ddim_quality(seed: int = 0) -> Figure:
    """ステップ数 S に対するエネルギー距離と W2 (η = 0, 1)。灰色の帯はノイズの床の範囲、点線はその平均。"""
    settings = DdimSettings(seed=seed)
    result = step_quality(settings)
    floors = noise_floors(FloorSettings(seed=seed))
    steps = np.array(settings.step_counts)
    fig, axes = new_figure(1, 2, width=7.0, height=3.0)
    for ax, key, label in ((axes[0], "energy", "エネルギー距離"), (axes[1], "w2", r"$W_2$")):
        floor = floors[key]
        ax.axhspan(floor.min(), floor.max(), color="0.85", label="床の範囲")
        ax.axhline(floor.mean(), color="0.4", linestyle=":", label="床の平均")
        for eta in settings.etas:
            marker, color = ETA_STYLE[eta]
            ax.plot(steps, result[key][eta], marker, color=color, ms=4, label=rf"$\eta = {eta:g}$")
        ax.set(xscale="log", xlabel="ステップ数 $S$", ylabel=label, xticks=steps, xticklabels=steps)
        ax.minorticks_off()
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=9)
    fig.suptitle(f"DDIM のステップ数とサンプルの質 (N = {settings.n_samples})", fontsize=10)
    return fig


@figure("ch3-ddim-samples.svg")
def ddim_samples(seed: int = 0) -> Figure:
    """同じ x_T からの DDIM のサンプル (上段 η = 0、下段 η = 1)。灰色は厳密なサンプル。"""
    settings = DdimSettings(seed=seed)
    result = step_quality(settings)
    reference = result["reference"]
    shown = settings.shown_steps
    fig, axes = new_figure(2, len(shown), width=7.0, height=4.9)
    for row, eta in enumerate(settings.etas):
        for col, S in enumerate(shown):
            ax = axes[row, col]
            x = result["samples"][eta][S]
            ax.scatter(reference[:, 0], reference[:, 1], s=2, color="0.75")
            ax.scatter(x[:, 0], x[:, 1], s=2, color=ETA_STYLE[eta][1])
            ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal", xticks=[-2, 0, 2], yticks=[-2, 0, 2],
                   title=rf"$\eta = {eta:g}$, $S = {S}$")
            ax.title.set_fontsize(10)
    fig.suptitle("DDIM のサンプル (灰色は厳密なサンプル。枠の外の点は描かれない)", fontsize=10)
    return fig
