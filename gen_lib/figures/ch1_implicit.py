"""第 1 章「暗黙的生成モデル」の図: GAN の学習の様子と、1 次元での最適識別器。

計算 (GAN の学習・評価、格子上の最適識別器) は ``gen_lib.experiments.ch1_implicit`` が行い、
ここでは結果を描くだけである。
"""

from __future__ import annotations

import math

import numpy as np

from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch1_implicit import (GanSettings, OptimalDiscriminatorSettings, gan_training,
                                              optimal_discriminator_example)
from gen_lib.figures import figure


def _moving_average(values: np.ndarray, width: int) -> np.ndarray:
    kernel = np.ones(width) / width
    return np.convolve(values, kernel, mode="valid")


@figure("ch1-implicit-gan-training.svg")
def gan_training_figure(seed: int = 0):
    """円周上の 8 個のガウス分布で学習した GAN のサンプルの変化と、エネルギー距離・損失の推移。"""
    settings = GanSettings(seed=seed)
    r = gan_training(settings)
    data, checkpoints = r["data"], list(r["checkpoints"])

    fig, axes = new_figure(2, 4, width=11.0, height=6.8)
    for ax, step, fake in zip(axes[0], r["snapshot_steps"], r["snapshots"]):
        i = checkpoints.index(step)
        counts = r["mode_counts"][i]
        # 点が多いので散布図だけ画像にする (SVG が 1 MB を超えないように)
        ax.scatter(data[:, 0], data[:, 1], s=3, color=DATA_COLOR, alpha=0.35, label="データ", rasterized=True)
        ax.scatter(fake[:, 0], fake[:, 1], s=3, color=MODEL_COLOR, alpha=0.6, label="GAN のサンプル",
                   rasterized=True)
        ax.set_title(f"ステップ {step}\nモード {r['covered'][i]}/{counts.size}・"
                     f"3σ 以内 {r['high_quality'][i]:.0%}\nモードあたり {counts.min()}〜{counts.max()} 点\n"
                     f"エネルギー距離 {r['distances'][i]:.3f}", fontsize=9)
        ax.set_xlim(-3.2, 3.2)
        ax.set_ylim(-3.2, 3.2)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(loc="lower left", fontsize=7, markerscale=3)

    grid = axes[1, 0].get_gridspec()
    for ax in axes[1]:
        ax.remove()
    ax_dist = fig.add_subplot(grid[1, :2])
    ax_loss = fig.add_subplot(grid[1, 2:])

    ax_dist.plot(checkpoints, r["distances"], "o-", ms=3, color=MODEL_COLOR, label="GAN とデータ")
    # 同じ分布からの 2 組のサンプルでも距離は 0 にならない (サンプルの揺らぎ): その目安 (ノイズの床の平均)
    ax_dist.axhline(r["noise_floor"].mean(), color=DATA_COLOR, ls="--", lw=1,
                    label=f"データどうし ({settings.n_eval} 点ずつ)")
    ax_dist.legend(fontsize=8)
    ax_dist.set_yscale("log")
    ax_dist.set_xlabel("学習ステップ")
    ax_dist.set_ylabel("エネルギー距離 (対数目盛)")
    ax_dist.set_title("データとのエネルギー距離 (小さいほど近い)", fontsize=10)

    width = 50
    steps = np.arange(width, len(r["discriminator_loss"]) + 1)
    ax_loss.plot(steps, _moving_average(r["discriminator_loss"], width), color=DATA_COLOR,
                 label="識別器の損失 $-V$")
    ax_loss.plot(steps, _moving_average(r["generator_loss"], width), color=MODEL_COLOR,
                 label=r"生成器の損失 $-\log D(G(z))$")
    ax_loss.axhline(math.log(4), color=DATA_COLOR, ls=":", lw=1, label=r"$\log 4$ ($D = 1/2$ のとき)")
    ax_loss.axhline(math.log(2), color=MODEL_COLOR, ls=":", lw=1, label=r"$\log 2$ ($D = 1/2$ のとき)")
    ax_loss.set_xlabel("学習ステップ")
    ax_loss.set_ylabel(f"損失 ({width} ステップの移動平均)")
    ax_loss.set_title("損失の推移 (点線は識別器が $D = 1/2$ しか出せないときの値)", fontsize=10)
    ax_loss.legend(fontsize=7, loc="center right")
    return fig


@figure("ch1-implicit-optimal-discriminator.svg")
def optimal_discriminator_figure(seed: int = 0):
    """1 次元の p と q_θ に対する最適識別器 D* = p / (p + q) と、生成器の損失の勾配。"""
    del seed  # 乱数を使わない
    settings = OptimalDiscriminatorSettings()
    r = optimal_discriminator_example(settings)
    x, p, q = r["x"], r["p"], r["q"]

    fig, (ax, ax_grad) = new_figure(1, 2, width=11.0, height=4.4)
    ax.plot(x, p, color=DATA_COLOR, label="データ分布 $p(x)$")
    ax.plot(x, q, color=MODEL_COLOR, label=r"モデル $q_\theta(x)$")
    ax.set_xlim(-4.5, 4.5)
    ax.set_ylim(0, 0.68)  # 上に凡例と数値の欄を置く余白
    ax.set_xlabel("$x$")
    ax.set_ylabel("密度")
    twin = ax.twinx()
    twin.plot(x, r["d_star"], color=ACCENT_COLOR, lw=2, label=r"最適識別器 $D^*(x) = p / (p + q_\theta)$")
    twin.axhline(0.5, color=ACCENT_COLOR, ls=":", lw=1)
    twin.set_ylim(0, 1.7)
    twin.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    twin.set_ylabel("$D^*(x)$")
    twin.grid(False)
    lines = ax.get_lines() + twin.get_lines()[:1]
    ax.legend(lines, [line.get_label() for line in lines], fontsize=8, loc="upper left")
    ax.set_title("最適識別器 (1 次元の例)", fontsize=10)
    ax.text(0.98, 0.97,
            f"$V(D^*, G)$ = {r['value']:.6f}\n"
            f"$-\\log 4 + 2\\,\\mathrm{{JS}}$ = {r['optimal_value']:.6f}\n"
            f"$\\mathrm{{JS}}(p \\| q_\\theta)$ = {r['js']:.4f}  ($\\log 2$ = {math.log(2):.4f})",
            transform=ax.transAxes, ha="right", va="top", fontsize=8,
            bbox=dict(boxstyle="round", facecolor="white", alpha=0.9))

    for name, color, label in [("saturating", MODEL_COLOR, r"ミニマックス: $\log(1 - D)$"),
                               ("non_saturating", DATA_COLOR, r"非飽和: $-\log D$")]:
        ax_grad.plot(r["logits"], r["gradients"][name], color=color, label=label)
    ax_grad.axvspan(settings.logit_min, -3.0, color="0.85", alpha=0.5, lw=0)
    ax_grad.text(-5.5, 0.62, "偽物と見破られている\n($D(G(z)) < 0.05$)", ha="center", fontsize=8)
    ax_grad.set_xlabel(r"識別器のロジット $a(G(z))$,  $D = \sigma(a)$")
    ax_grad.set_ylabel(r"勾配の大きさ $|\partial L / \partial a|$")
    ax_grad.set_title("生成器の損失の勾配: 学習初期に飽和するか", fontsize=10)
    ax_grad.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 0.08))
    return fig
