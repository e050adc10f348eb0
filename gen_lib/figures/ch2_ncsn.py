"""第 2 章「ノイズ条件付きスコアモデルと焼きなましランジュバン法」の図。

計算は ``gen_lib.experiments.ch2_ncsn`` が行い (NCSN の学習もサンプラーの結果もキャッシュされる)、
ここでは結果を描くだけである。
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch2_ncsn import (EvaluationSettings, NcsnSettings, SamplerSettings, annealing_path,
                                         sampler_comparison, score_error_curves, score_maps, training)
from gen_lib.figures import figure
from gen_lib.score_based.langevin import separated_modes_mixture

LIM = 10.0  # 描く範囲 [-LIM, LIM]^2


def _square(ax, lim: float = LIM, **kwargs) -> None:
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[-5, 0, 5], yticks=[-5, 0, 5], **kwargs)


@figure("ch2-ncsn-scores.svg")
def ncsn_scores(seed: int = 0) -> Figure:
    """σ ごとの p_σ と厳密なスコア・学習したスコア (上段)、その誤差の地図 (下段)。"""
    result = score_maps(EvaluationSettings(seed=seed))
    axis, arrows_at, data = result["axis"], result["arrows_at"], result["data"]
    lim = axis[-1]
    extent = (-lim, lim, -lim, lim)
    spacing = arrows_at[1, 0] - arrows_at[0, 0]  # 矢印の格子の間隔
    fig, axes = new_figure(2, len(result["levels"]), width=12.0, height=6.4)
    norm = LogNorm(1e-3, 10.0)
    for j, level in enumerate(result["levels"]):
        ax = axes[0, j]
        ax.imshow(level["density"], extent=extent, origin="lower", cmap="Greys", alpha=0.8)
        # 矢印の長さはパネルごとに規格化する (厳密なスコアの最大の矢印が格子の間隔の 0.9 倍)
        scale = np.linalg.norm(level["exact"], axis=1).max() / (0.9 * spacing)
        for field, color, label in ((level["exact"], "black", "厳密"), (level["learned"], MODEL_COLOR, "学習")):
            ax.quiver(arrows_at[:, 0], arrows_at[:, 1], field[:, 0], field[:, 1], color=color,
                      angles="xy", scale_units="xy", scale=scale, width=0.006, alpha=0.8, label=label)
        _square(ax, lim, title=rf"$\sigma_{{{level['index'] + 1}}} = {level['sigma']:.3g}$")
        ax = axes[1, j]
        image = ax.imshow(np.clip(level["error"], 1e-3, 10.0), extent=extent, origin="lower", cmap="viridis",
                          norm=norm)
        ax.scatter(data[:, 0], data[:, 1], s=1, color="white", alpha=0.5)
        _square(ax, lim, xlabel="$x_1$")
    axes[0, 0].legend(fontsize=8, loc="lower right")
    axes[0, 0].set_ylabel("$p_\\sigma$ (灰) と $s(x, \\sigma)$\n$x_2$")
    axes[1, 0].set_ylabel("誤差 $\\sigma \\| s_\\theta - \\nabla \\log p_\\sigma \\|$\n$x_2$")
    fig.colorbar(image, ax=axes[1, :], shrink=0.9,
                 label=r"$\sigma \| s_\theta(x, \sigma) - \nabla_x \log p_\sigma(x) \|$")
    fig.suptitle("ノイズ条件付きスコア: 上段は厳密 (黒) と学習 (赤) のスコア (矢印の長さはパネルごとに規格化)、"
                 "下段は誤差 (白点はデータ)", fontsize=11)
    return fig


@figure("ch2-ncsn-training.svg")
def ncsn_training(seed: int = 0) -> Figure:
    """NCSN の損失の履歴と、σ ごとのスコアの相対誤差 (データ点とノイズを加えた点)。"""
    settings = NcsnSettings()
    history = np.asarray(training(settings)["history"])
    errors = score_error_curves(EvaluationSettings(seed=seed, ncsn=settings))
    sigmas = errors["sigmas"]
    fig, (ax_l, ax_e) = new_figure(1, 2, width=10.0, height=3.9)
    window = 50
    smooth = np.convolve(history, np.ones(window) / window, mode="valid")
    ax_l.plot(np.arange(1, history.size + 1), history, color="0.75", lw=0.6, label="各ステップ")
    ax_l.plot(np.arange(window, history.size + 1), smooth, color=MODEL_COLOR, label=f"{window} ステップの移動平均")
    ax_l.set(xlabel="学習のステップ", ylabel=r"$\mathcal{L}(\theta)$ (ミニバッチ)",
             title=f"学習 ({settings.steps} ステップ, バッチ {settings.batch_size})")
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
    settings = SamplerSettings(seed=seed)
    result = annealing_path(settings)
    path, sigmas = result["path"], result["sigmas"]
    shown = (0, 1, 3, 5, 7, 10)  # 0 は初期値、i は段 i の終わり
    fig, axes = new_figure(1, len(shown), width=12.0, height=2.6)
    for ax, i in zip(axes, shown):
        x = path[i]
        ax.scatter(x[:, 0], x[:, 1], s=1, color=MODEL_COLOR if i else "0.5")
        title = "初期値 $x_0$" if i == 0 else rf"$\sigma_{{{i}}} = {sigmas[i - 1]:.3g}$ の後"
        _square(ax, LIM + 2, title=title, xlabel="$x_1$")
    axes[0].set_ylabel("$x_2$")
    fig.suptitle(rf"焼きなましランジュバン法 (学習した NCSN, $L = {len(sigmas)}$, $T = {settings.n_steps_each}$, "
                 rf"$\tau = {settings.step_size}$)", fontsize=11)
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
    result = sampler_comparison(SamplerSettings(seed=seed))
    samples = result["samples"]
    fig, axes = new_figure(1, len(SAMPLER_PANELS), width=12.0, height=4.6)
    for ax, (key, title, color) in zip(axes, SAMPLER_PANELS):
        x, w = samples[key], result["weights"][key]
        ax.scatter(x[:, 0], x[:, 1], s=1, color=color)
        ax.add_patch(Rectangle((-8, -8), 16, 16, fill=False, ls=":", color="0.5"))
        _square(ax, xlabel="$x_1$", title=f"{title}\n重み ({w[0]:.2f}, {w[1]:.2f})")
    axes[0].set_ylabel("$x_2$")
    fig.suptitle(r"$\frac{1}{5}\mathcal{N}((-5,-5), I) + \frac{4}{5}\mathcal{N}((5,5), I)$ からのサンプル"
                 f" ({len(samples['reference'])} 点、点線は初期値の箱)", fontsize=11)
    return fig


@figure("ch2-ncsn-mode-weights.svg")
def ncsn_mode_weights(seed: int = 0) -> Figure:
    """モード (-5,-5) の重みの推定: 真の値、ランジュバン法、焼きなましランジュバン法 (厳密・学習)。"""
    settings = SamplerSettings(seed=seed)
    result = sampler_comparison(settings)
    true = separated_modes_mixture().weights
    bars = [(None, "真の重み", "0.3"),
            ("plain_exact", "ランジュバン法\n厳密なスコア", MODEL_COLOR),
            ("plain_learned", "ランジュバン法\n学習 $s_\\theta(x, \\sigma_L)$", MODEL_COLOR),
            ("annealed_exact", "焼きなまし\n厳密なスコア", ACCENT_COLOR),
            ("annealed_learned", "焼きなまし\n学習した NCSN", ACCENT_COLOR)]
    values = [true[0] if key is None else result["weights"][key][0] for key, _, _ in bars]
    n = len(result["samples"]["reference"])
    fig, ax = new_figure(1, 1, width=7.5, height=3.8)
    rects = ax.bar(np.arange(len(bars)), values, color=[c for _, _, c in bars])
    ax.bar_label(rects, labels=[f"{v:.3f}" for v in values], fontsize=8, padding=1)
    sd = np.sqrt(true[0] * true[1] / n)
    ax.axhspan(true[0] - 2 * sd, true[0] + 2 * sd, color=DATA_COLOR, alpha=0.15,
               label=rf"真の重み $\pm 2$ 標準誤差 ($N = {n}$)")
    ax.set(xticks=np.arange(len(bars)), xticklabels=[label for _, label, _ in bars], ylim=(0, 0.6),
           ylabel=r"モード $(-5, -5)$ の重みの推定 $\hat{\pi}_1$")
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=8, loc="upper left")
    total = settings.ncsn.n_levels * settings.n_steps_each
    ax.set_title(f"同じ初期値・同じ総ステップ数 ({total}) での比較", fontsize=10)
    return fig
