"""第 2 章「ノイズ条件付きスコアモデルと焼きなましランジュバン法」の図。

学習済みの NCSN は ``gen_lib.experiments.ch2_ncsn.trained_ncsn`` (キャッシュ付き) から得るので、
ビルド 1 回につき学習は 1 回で済む。4 つのサンプラーの結果は図どうしで共有する (lru_cache)。
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from gen_lib.score_based.annealed_langevin import annealed_langevin_sample
from gen_lib.figures import figure
from gen_lib.score_based.langevin import langevin_failure_setting, separated_modes_mixture
from gen_lib.metrics.mode_weights import estimate_mode_weights
from gen_lib.score_based.ncsn import exact_noise_conditional_score, perturbed_mixture
from gen_lib.experiments.ch2_ncsn import (N_STEPS_EACH, NCSN_SETTINGS, STEP_SIZE, compare_samplers, noise_levels,
                                     score_errors, trained_ncsn)
from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.core.grid import plane_points

SHOWN_LEVELS = (0, 3, 6, 9)  # σ_1, σ_4, σ_7, σ_10
LIM = 10.0


@lru_cache(maxsize=2)
def _samplers(seed: int) -> dict[str, np.ndarray]:
    model, _ = trained_ncsn()
    return compare_samplers(model, seed=seed)


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    xs = np.linspace(-LIM, LIM, n)
    return xs, plane_points(xs)


@figure("ch2-ncsn-scores.svg")
def ncsn_scores(seed: int = 0) -> Figure:
    """σ ごとの p_σ と厳密なスコア・学習したスコア (上段)、その誤差の地図 (下段)。"""
    model, _ = trained_ncsn()
    mixture = separated_modes_mixture()
    exact = exact_noise_conditional_score(mixture)
    sigmas = noise_levels()
    xs, grid = _grid(81)
    xq, quiver_grid = _grid(13)
    data = mixture.sample(300, seed=seed)
    fig, axes = new_figure(2, len(SHOWN_LEVELS), width=12.0, height=6.4)
    norm = LogNorm(1e-3, 10.0)
    for j, i in enumerate(SHOWN_LEVELS):
        sigma = float(sigmas[i])
        log_p = perturbed_mixture(mixture, sigma).log_prob(grid).reshape(xs.size, xs.size)
        ax = axes[0, j]
        ax.imshow(np.exp(log_p), extent=(-LIM, LIM, -LIM, LIM), origin="lower", cmap="Greys", alpha=0.8)
        exact_field, learned_field = exact(quiver_grid, sigma), model.score_numpy(quiver_grid, sigma)
        # 矢印の長さはパネルごとに規格化する (厳密なスコアの最大の矢印が格子の間隔の 0.9 倍)
        scale = np.linalg.norm(exact_field, axis=1).max() / (0.9 * (xq[1] - xq[0]))
        for field, color, label in ((exact_field, "black", "厳密"), (learned_field, MODEL_COLOR, "学習")):
            ax.quiver(quiver_grid[:, 0], quiver_grid[:, 1], field[:, 0], field[:, 1], color=color,
                      angles="xy", scale_units="xy", scale=scale, width=0.006, alpha=0.8, label=label)
        ax.set(xlim=(-LIM, LIM), ylim=(-LIM, LIM), aspect="equal", xticks=[-5, 0, 5], yticks=[-5, 0, 5],
               title=rf"$\sigma_{{{i + 1}}} = {sigma:.3g}$")
        error = sigma * np.linalg.norm(model.score_numpy(grid, sigma) - exact(grid, sigma), axis=1)
        ax = axes[1, j]
        image = ax.imshow(np.clip(error, 1e-3, 10.0).reshape(xs.size, xs.size), extent=(-LIM, LIM, -LIM, LIM),
                          origin="lower", cmap="viridis", norm=norm)
        ax.scatter(data[:, 0], data[:, 1], s=1, color="white", alpha=0.5)
        ax.set(xlim=(-LIM, LIM), ylim=(-LIM, LIM), aspect="equal", xticks=[-5, 0, 5], yticks=[-5, 0, 5],
               xlabel="$x_1$")
    axes[0, 0].legend(fontsize=8, loc="lower right")
    axes[0, 0].set_ylabel("$p_\\sigma$ (灰) と $s(x, \\sigma)$\n$x_2$")
    axes[1, 0].set_ylabel("誤差 $\\sigma \\| s_\\theta - \\nabla \\log p_\\sigma \\|$\n$x_2$")
    fig.colorbar(image, ax=axes[1, :], shrink=0.9, label=r"$\sigma \| s_\theta(x, \sigma) - \nabla_x \log p_\sigma(x) \|$")
    fig.suptitle("ノイズ条件付きスコア: 上段は厳密 (黒) と学習 (赤) のスコア (矢印の長さはパネルごとに規格化)、"
                 "下段は誤差 (白点はデータ)",
                 fontsize=11)
    return fig


@figure("ch2-ncsn-training.svg")
def ncsn_training(seed: int = 0) -> Figure:
    """NCSN の損失の履歴と、σ ごとのスコアの相対誤差 (データ点とノイズを加えた点)。"""
    model, history = trained_ncsn()
    mixture = separated_modes_mixture()
    sigmas = noise_levels()
    errors = score_errors(model.score_numpy, mixture, sigmas, mixture.sample(2000, seed=seed + 11),
                          seed=seed + 12)
    fig, (ax_l, ax_e) = new_figure(1, 2, width=10.0, height=3.9)
    h = np.asarray(history)
    window = 50
    smooth = np.convolve(h, np.ones(window) / window, mode="valid")
    ax_l.plot(np.arange(1, h.size + 1), h, color="0.75", lw=0.6, label="各ステップ")
    ax_l.plot(np.arange(window, h.size + 1), smooth, color=MODEL_COLOR, label=f"{window} ステップの移動平均")
    ax_l.set(xlabel="学習のステップ", ylabel=r"$\mathcal{L}(\theta)$ (ミニバッチ)",
             title=f"学習 ({NCSN_SETTINGS['steps']} ステップ, バッチ {NCSN_SETTINGS['batch_size']})")
    ax_l.legend(fontsize=8)
    ax_e.plot(sigmas, errors["relative_data"], "o-", color=DATA_COLOR, ms=4, label=r"データ点 $x \sim p$")
    ax_e.plot(sigmas, errors["relative_noised"], "s-", color=MODEL_COLOR, ms=4,
              label=r"ノイズを加えた点 $\tilde{x} \sim p_\sigma$")
    ax_e.set(xscale="log", yscale="log", xlabel=r"ノイズの大きさ $\sigma_i$",
             ylabel=r"相対 2 乗誤差", title=r"$\mathbb{E}\|s_\theta - \nabla \log p_\sigma\|^2"
                                             r" / \mathbb{E}\|\nabla \log p_\sigma\|^2$")
    ax_e.legend(fontsize=8)
    fig.suptitle(r"NCSN の学習: $\lambda(\sigma) = \sigma^2$ で重み付けたデノイジングスコアマッチング",
                 fontsize=11)
    return fig


@figure("ch2-ncsn-annealing.svg")
def ncsn_annealing(seed: int = 0) -> Figure:
    """学習した NCSN で焼きなましランジュバン法を回すときの、各段の終わりの点。"""
    model, _ = trained_ncsn()
    setting = langevin_failure_setting(seed=seed)
    sigmas = noise_levels()
    path = annealed_langevin_sample(model.score_numpy, setting.x0, sigmas, STEP_SIZE, N_STEPS_EACH,
                                    seed=setting.seed, return_path=True)
    shown = (0, 1, 3, 5, 7, 10)  # 0 は初期値、i は段 i の終わり
    fig, axes = new_figure(1, len(shown), width=12.0, height=2.6)
    for ax, i in zip(axes, shown):
        x = path[i]
        ax.scatter(x[:, 0], x[:, 1], s=1, color=MODEL_COLOR if i else "0.5")
        title = "初期値 $x_0$" if i == 0 else rf"$\sigma_{{{i}}} = {sigmas[i - 1]:.3g}$ の後"
        ax.set(xlim=(-LIM - 2, LIM + 2), ylim=(-LIM - 2, LIM + 2), aspect="equal", xticks=[-5, 0, 5],
               yticks=[-5, 0, 5], title=title, xlabel="$x_1$")
    axes[0].set_ylabel("$x_2$")
    fig.suptitle(rf"焼きなましランジュバン法 (学習した NCSN, $L = {len(sigmas)}$, $T = {N_STEPS_EACH}$, "
                 rf"$\varepsilon = {STEP_SIZE}$)", fontsize=11)
    return fig


SAMPLER_PANELS = (
    ("reference", "厳密なサンプル", DATA_COLOR),
    ("plain_exact", "ランジュバン法\n(厳密なスコア)", MODEL_COLOR),
    ("annealed_exact", "焼きなまし\n(厳密なスコア)", MODEL_COLOR),
    ("annealed_learned", "焼きなまし\n(学習した NCSN)", MODEL_COLOR),
)


@figure("ch2-ncsn-samples.svg")
def ncsn_samples(seed: int = 0) -> Figure:
    """同じ初期値からのランジュバン法と焼きなましランジュバン法のサンプル (厳密なサンプルと並べる)。"""
    samples = _samplers(seed)
    mixture = separated_modes_mixture()
    fig, axes = new_figure(1, len(SAMPLER_PANELS), width=12.0, height=4.6)
    for ax, (key, title, color) in zip(axes, SAMPLER_PANELS):
        x = samples[key]
        w = estimate_mode_weights(mixture, x)
        ax.scatter(x[:, 0], x[:, 1], s=1, color=color)
        ax.add_patch(Rectangle((-8, -8), 16, 16, fill=False, ls=":", color="0.5"))
        ax.set(xlim=(-LIM, LIM), ylim=(-LIM, LIM), aspect="equal", xticks=[-5, 0, 5], yticks=[-5, 0, 5],
               xlabel="$x_1$", title=f"{title}\n重み ({w[0]:.2f}, {w[1]:.2f})")
    axes[0].set_ylabel("$x_2$")
    fig.suptitle(r"$\frac{1}{5}\mathcal{N}((-5,-5), I) + \frac{4}{5}\mathcal{N}((5,5), I)$ からのサンプル"
                 f" ({len(samples['reference'])} 点、点線は初期値の箱)", fontsize=11)
    return fig


@figure("ch2-ncsn-mode-weights.svg")
def ncsn_mode_weights(seed: int = 0) -> Figure:
    """モード (-5,-5) の重みの推定: 真の値、ランジュバン法、焼きなましランジュバン法 (厳密・学習)。"""
    samples = _samplers(seed)
    mixture = separated_modes_mixture()
    bars = [("真の重み", mixture.weights[0], "0.3"),
            ("ランジュバン法\n厳密なスコア", None, MODEL_COLOR),
            ("ランジュバン法\n学習 $s_\\theta(x, \\sigma_L)$", None, MODEL_COLOR),
            ("焼きなまし\n厳密なスコア", None, ACCENT_COLOR),
            ("焼きなまし\n学習した NCSN", None, ACCENT_COLOR)]
    keys = (None, "plain_exact", "plain_learned", "annealed_exact", "annealed_learned")
    values = [w if key is None else estimate_mode_weights(mixture, samples[key])[0]
              for (_, w, _), key in zip(bars, keys)]
    n = len(samples["reference"])
    fig, ax = new_figure(1, 1, width=7.5, height=3.8)
    rects = ax.bar(np.arange(len(bars)), values, color=[c for _, _, c in bars])
    ax.bar_label(rects, labels=[f"{v:.3f}" for v in values], fontsize=8, padding=1)
    sd = np.sqrt(mixture.weights[0] * mixture.weights[1] / n)
    ax.axhspan(mixture.weights[0] - 2 * sd, mixture.weights[0] + 2 * sd, color=DATA_COLOR, alpha=0.15,
               label=rf"真の重み $\pm 2$ 標準誤差 ($N = {n}$)")
    ax.set(xticks=np.arange(len(bars)), xticklabels=[b for b, _, _ in bars], ylim=(0, 0.6),
           ylabel=r"モード $(-5, -5)$ の重みの推定 $\hat{\pi}_1$")
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"同じ初期値・同じ総ステップ数 ({len(noise_levels()) * N_STEPS_EACH}) での比較", fontsize=10)
    return fig
