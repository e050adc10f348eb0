"""第 2 章「ランジュバン・モンテカルロ法」の図: 連鎖の様子、ステップ数と 2 サンプル距離、モードの重みの失敗。

計算は ``gen_lib.experiments.ch2_langevin`` が行い、ここでは結果を描くだけである。
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch2_langevin import (ConvergenceSettings, FailureSettings, SnapshotSettings,
                                              convergence, failure_weights, snapshots)
from gen_lib.figures import figure


@figure("ch2-langevin-snapshots.svg")
def langevin_snapshots(seed: int = 0) -> Figure:
    """円周上の 8 個のモードの混合を、厳密なスコアを使うランジュバン法 (τ = 0.002) でサンプリングする途中の様子。"""
    settings = SnapshotSettings(seed=seed)
    result = snapshots(settings)
    axis, log_p, lim = result["axis"], result["log_p"], settings.lim
    panels = [(f"$m = {m}$", x, MODEL_COLOR) for m, x in zip(result["steps"], result["chains"])]
    panels.append(("厳密なサンプル", result["exact"], DATA_COLOR))
    fig, axes = new_figure(1, len(panels), width=12.0, height=2.7)
    for ax, (title, x, color) in zip(axes, panels):
        ax.contour(axis, axis, log_p, levels=np.linspace(log_p.max() - 8, log_p.max(), 4), colors="0.6",
                   linewidths=0.5, linestyles="solid")
        ax.scatter(x[:, 0], x[:, 1], s=2, color=color)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[-2, 0, 2], yticks=[-2, 0, 2],
               title=title, xlabel="$x_1$")
    axes[0].set_ylabel("$x_2$")
    fig.suptitle(rf"ランジュバン法の連鎖 $x^{{(m)}}$ ($\tau = {settings.step_size}$, "
                 rf"初期値 $\mathcal{{N}}(0, {settings.init_std}^2 I)$, {settings.n_chains} 本)", fontsize=11)
    return fig


@figure("ch2-langevin-convergence.svg")
def langevin_convergence(seed: int = 0) -> Figure:
    """ステップ数 m と MMD² の関係 (ステップ幅ごと) と、ステップ幅によるモード内の分散の偏り。"""
    settings = ConvergenceSettings(seed=seed)
    result = convergence(settings)
    sigma2 = result["sigma2"]
    fig, (ax_d, ax_v) = new_figure(1, 2, width=10.0, height=3.9)
    for color, (step_size, values) in zip((DATA_COLOR, ACCENT_COLOR, MODEL_COLOR), result["curves"].items()):
        ax_d.plot(settings.checkpoints, values, "o-", ms=3, color=color,
                  label=rf"$\tau = {step_size}$")
    floor = result["floor"]
    ax_d.axhspan(floor.min(), floor.max(), color="0.85", zorder=0)
    ax_d.axhline(floor.mean(), color="0.3", ls="--", lw=1.0,
                 label=f"ノイズの床 (厳密なサンプルどうし)\n灰色の帯: {floor.size} 組の最小〜最大")
    ax_d.set(xscale="log", yscale="log", xlabel="ステップ数 $m$",
             ylabel=f"厳密なサンプルとの MMD² ($h = {settings.bandwidth}$)",
             title=f"{settings.n_chains} 本の連鎖と厳密なサンプル {settings.n_chains} 点の距離")
    ax_d.set_ylim(floor.min() * 0.7, 0.25)
    ax_d.legend(fontsize=8, loc="upper right")
    theory = result["theory"]
    ax_v.plot(theory["step_size"], theory["ratio"], color="0.3",
              label=r"ガウス分布の理論値 $1 / (1 - \tau / 4\sigma^2)$")
    ax_v.plot(list(result["variances"]), np.array(list(result["variances"].values())) / sigma2, "o",
              color=MODEL_COLOR, label="ランジュバン法の連鎖 (測定)")
    ax_v.axhline(result["exact_variance"] / sigma2, color=DATA_COLOR, ls=":", label="厳密なサンプル (測定)")
    ax_v.set(xlabel=r"ステップ幅 $\tau$", ylabel=r"モード内の分散 / $\sigma^2$",
             title=rf"大きな $\tau$ は分布を広げる ($\sigma = {np.sqrt(sigma2):g}$)")
    ax_v.legend(fontsize=8)
    fig.suptitle("円周上の 8 個のモードの混合をランジュバン法でサンプリング: ステップ幅の得失", fontsize=11)
    return fig


WEIGHT_BARS = (("true", "真の重み", "0.3"), ("exact", "厳密なサンプル", DATA_COLOR),
               ("initial", "初期値 (一様分布)", "0.7"), ("langevin", "ランジュバン法", MODEL_COLOR))


@figure("ch2-langevin-mode-weights.svg")
def langevin_mode_weights(seed: int = 0) -> Figure:
    """離れた 2 つのモード (重み 0.2 / 0.8) で、ランジュバン法が初期値の割合を保ってしまう様子を数値で示す。"""
    result = failure_weights(FailureSettings(seed=seed))
    x, reference = result["samples"], result["reference"]
    fig, (ax_x, ax_w) = new_figure(1, 2, width=10.0, height=4.2)
    ax_x.scatter(reference[:, 0], reference[:, 1], s=2, color=DATA_COLOR, label="厳密なサンプル")
    ax_x.scatter(x[:, 0], x[:, 1], s=2, color=MODEL_COLOR, label="ランジュバン法")
    ax_x.add_patch(Rectangle((-8, -8), 16, 16, fill=False, ls=":", color="0.4", label="初期値の箱 $[-8, 8]^2$"))
    ax_x.set(xlim=(-9, 9), ylim=(-9, 9), aspect="equal", xlabel="$x_1$", ylabel="$x_2$",
             title=rf"$\tau = {result['step_size']}$, $M = {result['n_steps']}$, {len(x)} 本の連鎖")
    ax_x.legend(fontsize=8, loc="upper left", markerscale=4)
    width = 0.2
    for i, (key, name, color) in enumerate(WEIGHT_BARS):
        w = result["weights"][key]
        if key == "langevin":
            name += f" ($M = {result['n_steps']}$)"
        bars = ax_w.bar(np.arange(len(w)) + (i - 1.5) * width, w, width, color=color, label=name)
        ax_w.bar_label(bars, labels=[f"{v:.2f}" for v in w], fontsize=7, padding=1)
    ax_w.set(xticks=[0, 1], xticklabels=[r"モード $(-5, -5)$", r"モード $(5, 5)$"], ylim=(0, 1.0),
             ylabel="重み (負担率の平均)",
             title=f"エネルギー距離: 連鎖 {result['energy_distance']['langevin']:.3f} / 床 {result['floor'].mean():.3f}")
    ax_w.legend(fontsize=8, loc="upper left")
    fig.suptitle(r"離れた 2 つのモード $\frac{1}{5}\mathcal{N}((-5,-5), I) + \frac{4}{5}\mathcal{N}((5,5), I)$"
                 ": ランジュバン法は重みを取り違える", fontsize=11)
    return fig
