r"""第 2 章「デノイジングスコアマッチング」の図: DSM と ESM の差が定数であること、Tweedie の公式、学習したスコア。

計算は ``gen_lib.experiments.ch2_dsm`` が行い、ここでは結果を描くだけである。
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, draw_score_panel, new_figure
from gen_lib.experiments.ch2_dsm import DsmSettings, identity_across_models, training, tweedie_denoising
from gen_lib.figures import figure


@figure("ch2-dsm-identity.svg")
def dsm_esm_identity(seed: int = 0) -> Figure:
    r"""左: DSM で学習する間の DSM と ESM($p_\sigma$)。右: いろいろなモデルで ESM($p_\sigma$) 対 DSM。"""
    settings = DsmSettings(seed=seed)
    run, models = training(settings), identity_across_models(settings)
    constant = run["constant"]
    steps, dsm, esm = run["steps"], run["dsm"], run["esm"]

    fig, (ax_l, ax_r) = new_figure(1, 2, width=10.5, height=4.0)
    ax_l.plot(steps, dsm, color=MODEL_COLOR, label=r"DSM 損失 (データとノイズだけで計算できる)")
    ax_l.plot(steps, esm, color=DATA_COLOR, label=r"$p_\sigma$ の ESM (真のスコアが必要)")
    ax_l.plot(steps, dsm - esm, color=ACCENT_COLOR, linewidth=2.5, label="差 DSM − ESM")
    ax_l.axhline(constant, color="0.2", linestyle=":", label=rf"$C_\sigma = {constant:.3f}$")
    ax_l.set(xlabel="DSM で学習したステップ数", ylabel=f"評価用の {settings.n_eval} 組での値",
             title=rf"$\sigma = {settings.sigma}$: 差はほぼ一定 "
                   f"(ずれは最大 {np.max(np.abs(dsm - esm - constant)):.3f})")
    ax_l.legend(fontsize=8, loc="upper right")

    values, trained = models["models"], models["trained"]
    line = np.array([0.0, values[:, 1].max() + 1.0])
    ax_r.plot(line, line + constant, color="0.2", linestyle=":", label=r"DSM $=$ ESM $+ C_\sigma$")
    ax_r.scatter(values[:, 1], values[:, 0], color=DATA_COLOR, zorder=3, label="乱数初期化の MLP・線形モデル")
    ax_r.scatter([trained[1]], [trained[0]], color=ACCENT_COLOR, marker="*", s=140, zorder=4,
                 label="左の学習後のモデル")
    ax_r.set(xlabel=r"$p_\sigma$ の ESM", ylabel="DSM 損失",
             title=f"{settings.n_eval} 組のモンテカルロ推定 (同じ組を使う)")
    ax_r.legend(fontsize=8, loc="upper left")
    return fig


@figure("ch2-dsm-tweedie.svg")
def tweedie_panels(seed: int = 0) -> Figure:
    r"""Tweedie の公式で雑音を除く: 厳密なスコア ($\sigma = 0.3, 1.0$) と DSM で学習したスコア ($\sigma = 0.5$)。"""
    result = tweedie_denoising(DsmSettings(seed=seed))
    clean = result["clean"]
    fig, axes = new_figure(1, len(result["panels"]), width=12.5, height=4.6)
    for ax, panel in zip(axes, result["panels"]):
        x_noisy, denoised, sigma = panel["noisy"], panel["denoised"], panel["sigma"]
        ax.scatter(clean[:, 0], clean[:, 1], s=3, color=DATA_COLOR, alpha=0.35, label="データ $x$")
        ax.scatter(x_noisy[:, 0], x_noisy[:, 1], s=8, color="0.55", label=r"ノイズ入り $\tilde{x}$")
        ax.quiver(x_noisy[:, 0], x_noisy[:, 1], *(denoised - x_noisy).T, angles="xy", scale_units="xy",
                  scale=1.0, width=0.003, color="0.35", alpha=0.8)
        ax.scatter(denoised[:, 0], denoised[:, 1], s=10, color=MODEL_COLOR, zorder=3,
                   label=r"$\tilde{x} + \sigma^2 \nabla \log p_\sigma(\tilde{x})$")
        if panel["learned"]:
            title = (rf"DSM で学習した $s_\theta$, $\sigma = {sigma}$" + "\n"
                     + rf"事後平均との差 (2 乗平均平方根) {panel['rms_gap']:.3f}")
        else:
            title = rf"厳密なスコア, $\sigma = {sigma}$" + "\n" + rf"事後平均との差は最大 {panel['max_gap']:.1e}"
        ax.set(xlim=(-4, 4), ylim=(-4, 4), aspect="equal", xlabel="$x_1$", title=title)
        ax.title.set_fontsize(9.5)
    axes[0].set_ylabel("$x_2$")
    axes[0].legend(fontsize=8, loc="lower left", framealpha=0.9)
    fig.suptitle(r"Tweedie の公式: 赤い点 $E[x \mid \tilde{x}]$ はノイズ入りの点 (灰色) をモードの方へ引き戻す",
                 fontsize=10)
    return fig


@figure("ch2-dsm-field.svg")
def dsm_score_field(seed: int = 0) -> Figure:
    r"""$\sigma = 0.5$ の厳密なスコア $\nabla \log p_\sigma$ と、DSM で学習した $s_\theta$。"""
    settings = DsmSettings(seed=seed)
    run = training(settings)
    fine, log_p, lim = run["fine_axis"], run["log_p"], settings.lim
    relative = (r"相対誤差 $E_{p_\sigma}\|s_\theta - \nabla \log p_\sigma\|^2"
                rf" / E_{{p_\sigma}}\|\nabla \log p_\sigma\|^2 = {run['relative']:.3f}$")
    panels = [(r"厳密なスコア $\nabla_{\tilde{x}} \log p_\sigma(\tilde{x})$", run["exact_arrows"], None),
              (r"DSM で学習した $s_\theta(\tilde{x})$" + "\n" + relative, run["arrows"], run["error"])]
    fig, axes = new_figure(1, 2, width=9.5, height=4.6)
    image = None
    for ax, (title, arrows, error) in zip(axes, panels):
        if error is None:
            ax.imshow(np.exp(log_p), origin="lower", extent=(-lim, lim, -lim, lim), cmap="Blues",
                      interpolation="none", alpha=0.5)
        panel_image = draw_score_panel(ax, run["arrows_at"], arrows, lim=lim, fine=fine, log_p=log_p,
                                       density_fractions=(0.1,), error=error, cap=4.0, title=title,
                                       xlabel=r"$\tilde{x}_1$")
        image = panel_image if panel_image is not None else image
    axes[0].set_ylabel(r"$\tilde{x}_2$")
    fig.colorbar(image, ax=axes[1], label=r"誤差 $\log_{10}\|s_\theta - \nabla \log p_\sigma\|$", shrink=0.85)
    fig.suptitle(rf"$\sigma = {settings.sigma}$: 左の背景は $p_\sigma$、右の背景は誤差 (薄いほど正確)、"
                 r"青線は $p_\sigma$ が最大値の 10% の等高線、矢印の長さは 4 で切っている", fontsize=10)
    return fig
