r"""第 3 章「確率微分方程式による見方」の図: 3 つの過程の周辺分布とサンプルパス、逆向きの SDE のサンプルの質。

計算は ``gen_lib.experiments.ch3_sde`` と ``ch3_ddim`` (ノイズの床) が行い、ここでは結果を描くだけである。
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch3_ddim import FloorSettings, noise_floors
from gen_lib.experiments.ch3_sde import (PathSettings, QualitySettings, exact_score_quality,
                                        marginal_curves, model_quality, sample_paths)
from gen_lib.figures import figure

COLORS = {"VP": DATA_COLOR, "sub-VP": ACCENT_COLOR, "VE": MODEL_COLOR}


@figure("ch3-sde-marginals.svg")
def sde_marginals(seed: int = 0) -> Figure:
    """x_t | x_0 ~ N(m(t) x_0, s(t)² I) の m(t) と s(t)。"""
    result = marginal_curves(PathSettings(seed=seed))
    t = result["t"]
    fig, (ax_m, ax_s) = new_figure(1, 2, width=7.0, height=2.9)
    for name, (m, s) in result["curves"].items():
        style = "--" if name == "sub-VP" else "-"
        ax_m.plot(t, m, style, color=COLORS[name], label=name)
        ax_s.plot(t[1:], s[1:], style, color=COLORS[name], label=name)
    ax_m.set(xlabel="$t$", ylabel="$m(t)$", title="平均の係数 $m(t)$")
    ax_s.set(xlabel="$t$", ylabel="$s(t)$", yscale="log", title="標準偏差 $s(t)$")
    ax_m.legend(fontsize=9)
    return fig


@figure("ch3-sde-paths.svg")
def sde_paths(seed: int = 0) -> Figure:
    """過程ごとの前向き (左) と逆向き (右、厳密なスコア) のサンプルパスの x_1 成分。背景は p_t の x_1 方向の密度。"""
    settings = PathSettings(seed=seed)
    result = sample_paths(settings)
    n_shown = 25
    steps = np.linspace(0, 1, settings.n_steps + 1)
    fig, axes = new_figure(3, 2, width=7.0, height=6.6)
    for row, name in enumerate(("VP", "sub-VP", "VE")):
        grid = result["grid"][name]
        extent = (0, 1, grid[0], grid[-1])
        image = np.sqrt(result["density"][name].T)  # 低い密度も見えるよう平方根で
        columns = (("forward", steps, "前向き: データ → ノイズ"),
                   ("reverse", 1 - steps * (1 - 1e-3), "逆向き: ノイズ → データ"))
        for col, (key, times, title) in enumerate(columns):
            ax = axes[row, col]
            ax.imshow(image, extent=extent, origin="lower", aspect="auto", cmap="Greys", alpha=0.7)
            ax.plot(times, result[key][name][:, :n_shown, 0], color=COLORS[name], lw=0.6, alpha=0.8)
            ax.set(xlim=(0, 1), ylim=(grid[0], grid[-1]))
            if col == 0:
                ax.set_ylabel(f"{name}: $x_1$")
            ax.grid(False)
            if row == 0:
                ax.set_title(title, fontsize=10)
            if row == 2:
                ax.set_xlabel("$t$")
    fig.suptitle(f"サンプルパス ({n_shown} 本の $x_1$ 成分)。背景は $p_t$ の $x_1$ 方向の密度", fontsize=10)
    return fig


@figure("ch3-sde-quality.svg")
def sde_quality(seed: int = 0) -> Figure:
    """逆向きの SDE の歩数とエネルギー距離・W2 (実線: オイラー・丸山法、破線: 修正子つき)。"""
    settings = QualitySettings(seed=seed)
    exact, learned = exact_score_quality(settings), model_quality(settings)
    floors = noise_floors(FloorSettings(seed=seed))
    steps = np.array(settings.step_counts)
    runs = [(f"{name} (厳密)", COLORS[name], per) for name, per in exact.items()]
    runs.append(("VP (学習)", "0.2", learned))
    fig, axes = new_figure(1, 2, width=7.0, height=3.4)
    for ax, key, label in ((axes[0], "energy", "エネルギー距離"), (axes[1], "w2", r"$W_2$")):
        floor = floors[key]
        ax.axhspan(floor.min(), floor.max(), color="0.85")
        ax.axhline(floor.mean(), color="0.4", linestyle=":")
        for name, color, per in runs:
            ax.plot(steps, per["EM"][key], "o-", color=color, ms=3, label=name)
            ax.plot(steps, per["PC"][key], "s--", color=color, ms=3)
        ax.set(xscale="log", yscale="log", xlabel="歩数", ylabel=label, xticks=steps,
               xticklabels=steps)
        ax.minorticks_off()
    axes[1].legend(fontsize=9, loc="upper right")
    fig.suptitle("逆向きの SDE: 実線は修正子なし、破線は修正子つき。灰色の帯はノイズの床", fontsize=10)
    return fig
