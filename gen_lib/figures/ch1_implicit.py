"""第 1 章「暗黙的生成モデル」の図: GAN の学習の様子と、1 次元での最適識別器。"""

from __future__ import annotations

import math

import numpy as np
import torch

from gen_lib.figures import figure
from gen_lib.generative.gan import (generator_loss, jensen_shannon, optimal_discriminator, optimal_value, train_gan,
                         value_function)
from gen_lib.distributions.gaussian_mixture import isotropic_mixture, ring_of_gaussians
from gen_lib.metrics.mode_coverage import mode_coverage
from gen_lib.metrics.two_sample import energy_distance
from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure

# 図 1 の学習設定 (ビルド時に学習する。2 コアの CPU で数秒)
GAN_SETTINGS = dict(steps=1500, batch_size=128, latent_dim=2, hidden=64, lr=1e-3,
                    checkpoint_every=50, n_eval=500)
SNAPSHOT_STEPS = (0, 200, 500, 1500)


def _moving_average(values: np.ndarray, width: int) -> np.ndarray:
    kernel = np.ones(width) / width
    return np.convolve(values, kernel, mode="valid")


@figure("ch1-implicit-gan-training.svg")
def gan_training(seed: int = 0):
    """円周上の 8 個のガウス分布で学習した GAN のサンプルの変化と、エネルギー距離・損失の推移。"""
    mixture = ring_of_gaussians()
    data = mixture.sample(4000, seed=seed)
    _, history = train_gan(data, seed=seed, **GAN_SETTINGS)

    fig, axes = new_figure(2, 4, width=11.0, height=6.8)
    for ax, step in zip(axes[0], SNAPSHOT_STEPS):
        i = history.checkpoints.index(step)
        fake = history.samples[i]
        cov = mode_coverage(mixture, fake)
        # 点が多いので散布図だけ画像にする (SVG が 1 MB を超えないように)
        ax.scatter(data[:1000, 0], data[:1000, 1], s=3, color=DATA_COLOR, alpha=0.35, label="データ",
                   rasterized=True)
        ax.scatter(fake[:, 0], fake[:, 1], s=3, color=MODEL_COLOR, alpha=0.6, label="GAN のサンプル",
                   rasterized=True)
        ax.set_title(f"ステップ {step}\nモード {cov.covered}/{cov.n_modes}・3σ 以内 {cov.high_quality:.0%}\n"
                     f"モードあたり {cov.counts.min()}〜{cov.counts.max()} 点\n"
                     f"エネルギー距離 {history.distances[i]:.3f}", fontsize=9)
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

    ax_dist.plot(history.checkpoints, history.distances, "o-", ms=3, color=MODEL_COLOR, label="GAN とデータ")
    # 同じ分布からの 2 つの標本でも距離は 0 にならない (標本の揺らぎ): その目安
    n_eval = GAN_SETTINGS["n_eval"]
    floor = energy_distance(mixture.sample(n_eval, seed=seed + 1), mixture.sample(n_eval, seed=seed + 2))
    ax_dist.axhline(floor, color=DATA_COLOR, ls="--", lw=1, label=f"データどうし ({n_eval} 点ずつ)")
    ax_dist.legend(fontsize=8)
    ax_dist.set_yscale("log")
    ax_dist.set_xlabel("学習ステップ")
    ax_dist.set_ylabel("エネルギー距離 (対数目盛)")
    ax_dist.set_title("データとのエネルギー距離 (小さいほど近い)", fontsize=10)

    width = 50
    steps = np.arange(width, len(history.discriminator_loss) + 1)
    ax_loss.plot(steps, _moving_average(history.discriminator_loss, width), color=DATA_COLOR,
                 label="識別器の損失 $-V$")
    ax_loss.plot(steps, _moving_average(history.generator_loss, width), color=MODEL_COLOR,
                 label=r"生成器の損失 $-\log D(G(z))$")
    ax_loss.axhline(math.log(4), color=DATA_COLOR, ls=":", lw=1, label=r"$\log 4$ ($D = 1/2$ のとき)")
    ax_loss.axhline(math.log(2), color=MODEL_COLOR, ls=":", lw=1, label=r"$\log 2$ ($D = 1/2$ のとき)")
    ax_loss.set_xlabel("学習ステップ")
    ax_loss.set_ylabel(f"損失 ({width} ステップの移動平均)")
    ax_loss.set_title("損失の推移 (点線は識別器が $D = 1/2$ しか出せないときの値)", fontsize=10)
    ax_loss.legend(fontsize=7, loc="center right")
    return fig


@figure("ch1-implicit-optimal-discriminator.svg")
def optimal_discriminator_1d(seed: int = 0):
    """1 次元の p と q_θ に対する最適識別器 D* = p / (p + q) と、生成器の損失の勾配。"""
    del seed  # 乱数を使わない
    x = np.linspace(-7.0, 7.0, 2801)
    dx = x[1] - x[0]
    points = x[:, None]
    p = np.exp(isotropic_mixture([[-1.5], [1.5]], 0.5).log_prob(points))
    q = np.exp(isotropic_mixture([[0.5]], 1.0).log_prob(points))
    d_star = optimal_discriminator(p, q)
    v_star = value_function(p, q, d_star, dx)
    js = jensen_shannon(p, q, dx)

    fig, (ax, ax_grad) = new_figure(1, 2, width=11.0, height=4.4)
    ax.plot(x, p, color=DATA_COLOR, label="データ分布 $p(x)$")
    ax.plot(x, q, color=MODEL_COLOR, label=r"モデル $q_\theta(x)$")
    ax.set_xlim(-4.5, 4.5)
    ax.set_ylim(0, 0.68)  # 上に凡例と数値の欄を置く余白
    ax.set_xlabel("$x$")
    ax.set_ylabel("密度")
    twin = ax.twinx()
    twin.plot(x, d_star, color=ACCENT_COLOR, lw=2, label=r"最適識別器 $D^*(x) = p / (p + q_\theta)$")
    twin.axhline(0.5, color=ACCENT_COLOR, ls=":", lw=1)
    twin.set_ylim(0, 1.7)
    twin.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    twin.set_ylabel("$D^*(x)$")
    twin.grid(False)
    lines = ax.get_lines() + twin.get_lines()[:1]
    ax.legend(lines, [line.get_label() for line in lines], fontsize=8, loc="upper left")
    ax.set_title("最適識別器 (1 次元の例)", fontsize=10)
    ax.text(0.98, 0.97,
            f"$V(D^*, G)$ = {v_star:.6f}\n"
            f"$-\\log 4 + 2\\,\\mathrm{{JS}}$ = {optimal_value(p, q, dx):.6f}\n"
            f"$\\mathrm{{JS}}(p \\| q_\\theta)$ = {js:.4f}  ($\\log 2$ = {math.log(2):.4f})",
            transform=ax.transAxes, ha="right", va="top", fontsize=8,
            bbox=dict(boxstyle="round", facecolor="white", alpha=0.9))

    # 生成器の損失をロジット a で微分した大きさ |dL/da| (自動微分)
    a = torch.linspace(-8.0, 4.0, 241, dtype=torch.float64)
    for saturating, color, label in [(True, MODEL_COLOR, r"ミニマックス: $\log(1 - D)$"),
                                     (False, DATA_COLOR, r"非飽和: $-\log D$")]:
        grads = []
        for value in a:
            logit = value.clone().requires_grad_(True)
            generator_loss(logit[None], saturating=saturating).backward()
            grads.append(abs(logit.grad.item()))
        ax_grad.plot(a.numpy(), grads, color=color, label=label)
    ax_grad.axvspan(-8.0, -3.0, color="0.85", alpha=0.5, lw=0)
    ax_grad.text(-5.5, 0.62, "偽物と見破られている\n($D(G(z)) < 0.05$)", ha="center", fontsize=8)
    ax_grad.set_xlabel(r"識別器のロジット $a(G(z))$,  $D = \sigma(a)$")
    ax_grad.set_ylabel(r"勾配の大きさ $|\partial L / \partial a|$")
    ax_grad.set_title("生成器の損失の勾配: 学習初期に飽和するか", fontsize=10)
    ax_grad.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 0.08))
    return fig
