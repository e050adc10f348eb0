r"""第 2 章「スコアマッチング」の図: ESM と ISM の差が定数であること、計算量、学習したスコア場。

計算は ``gen_lib.experiments.ch2_score_matching`` が行い、ここでは結果を描くだけである。
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, draw_score_panel, new_figure
from gen_lib.experiments.ch2_score_matching import (ScoreMatchingSettings, TimingSettings,
                                                    identity_across_models, loss_times, training)
from gen_lib.figures import figure


@figure("ch2-sm-identity.svg")
def esm_ism_identity(seed: int = 0) -> Figure:
    """左: ISM で学習する間の ESM と ISM (数値積分)。右: いろいろなモデルで ESM 対 ISM (直線 ESM = ISM + C)。"""
    settings = ScoreMatchingSettings(seed=seed)
    run, models = training(settings), identity_across_models(settings)
    constant = models["constant"]
    steps, esm, ism = run["steps"], run["esm"], run["ism"]

    fig, (ax_l, ax_r) = new_figure(1, 2, width=10.5, height=4.0)
    ax_l.plot(steps, esm, color=DATA_COLOR, label=r"$J_{\mathrm{ESM}}(\theta)$ (真のスコアが必要)")
    ax_l.plot(steps, ism, color=MODEL_COLOR, label=r"$J_{\mathrm{ISM}}(\theta)$ (データだけで計算できる)")
    ax_l.plot(steps, esm - ism, color=ACCENT_COLOR, linewidth=2.5,
              label=r"差 $J_{\mathrm{ESM}} - J_{\mathrm{ISM}}$")
    ax_l.axhline(constant, color="0.2", linestyle=":",
                 label=rf"$C = \frac{{1}}{{2}}E_p\|\nabla \log p\|^2 = {constant:.4f}$")
    ax_l.set(xlabel="ISM で学習したステップ数", ylabel="目的関数の値 (数値積分)",
             title=f"学習中ずっと差は一定 (最大のずれ {np.max(np.abs(esm - ism - constant)):.1e})")
    ax_l.legend(fontsize=8, loc="center right", bbox_to_anchor=(1.0, 0.33))

    quad, mc, trained = models["quadrature"], models["monte_carlo"], models["trained"]
    line = np.array([trained[0] - 1.0, quad[:, 0].max() + 1.0])
    ax_r.plot(line, line + constant, color="0.2", linestyle=":",
              label=r"$J_{\mathrm{ESM}} = J_{\mathrm{ISM}} + C$")
    ax_r.scatter(quad[:, 0], quad[:, 1], color=DATA_COLOR, zorder=3, label="数値積分")
    ax_r.scatter(mc[:, 0], mc[:, 1], color=MODEL_COLOR, marker="x", zorder=4,
                 label=f"モンテカルロ ({settings.n_monte_carlo} 点)")
    ax_r.scatter([trained[0]], [trained[1]], color=ACCENT_COLOR, marker="*", s=140, zorder=5,
                 label="左の学習後のモデル (数値積分)")
    ax_r.set(xlabel=r"$J_{\mathrm{ISM}}$", ylabel=r"$J_{\mathrm{ESM}}$",
             title=f"乱数初期化の MLP と線形モデル {len(quad)} 個でも同じ $C$")
    ax_r.legend(fontsize=8, loc="upper left")
    return fig


@figure("ch2-sm-cost.svg")
def score_matching_cost(seed: int = 0) -> Figure:
    """ISM (逆伝播 d 回) と SSM (逆伝播 1 回) の 1 ステップの時間を次元 d に対して両対数で描く。"""
    settings = TimingSettings()
    t = loss_times(settings)
    dims = t["dims"]
    fig, ax = new_figure(1, 1, width=6.4, height=4.0)
    ax.plot(dims, t["ism"], "o-", color=MODEL_COLOR,
            label=r"ISM: 厳密な $\mathrm{tr}\,\nabla_x s_\theta$ (逆伝播 $d$ 回)")
    ax.plot(dims, t["ssm"], "s-", color=DATA_COLOR, label=r"SSM: 射影 1 本 (逆伝播 1 回)")
    ax.plot(dims, t["ism"][0] * dims / dims[0], color="0.5", linestyle=":", label=r"$d$ に比例する線")
    for d, a, b in zip(dims, t["ism"], t["ssm"]):  # 比 ISM / SSM を 2 点の間に書く
        ax.plot([d, d], [b, a], color="0.6", linewidth=0.8, zorder=1)
        ax.annotate(f"×{a / b:.1f}" if a / b < 10 else f"×{a / b:.0f}", (d, np.sqrt(a * b)),
                    ha="left", va="center", fontsize=8, xytext=(3, 0), textcoords="offset points")
    ax.set_xlim(dims[0] / 1.4, dims[-1] * 1.6)
    ax.set(xscale="log", yscale="log", xlabel="次元 $d$", ylabel="損失と勾配 1 回の時間 [ms]",
           title=f"計算時間 ({settings.batch_size} 点, 隠れ層 {settings.hidden} ユニット×2, CPU 1 スレッド)")
    ax.set_xticks(dims, [str(d) for d in dims])
    ax.legend(fontsize=8)
    return fig


@figure("ch2-sm-field.svg")
def learned_score_field(seed: int = 0) -> Figure:
    r"""真のスコア場と、ISM・SSM で学習したスコア場。背景の色は誤差 $\|s_\theta - \nabla \log p\|$。"""
    runs = {method: training(ScoreMatchingSettings(method=method, seed=seed))
            for method in ("ism", "ssm")}
    field = runs["ism"]
    panels = [("真のスコア $\\nabla_x \\log p(x)$", None, field["exact_arrows"])]
    for method, label in (("ism", "ISM"), ("ssm", "SSM (射影 1 本)")):
        run = runs[method]
        panels.append((f"{label} で学習した $s_\\theta(x)$\n相対誤差 "
                       f"$E_p\\|s_\\theta - s\\|^2 / E_p\\|s\\|^2 = {run['final']['relative']:.3f}$",
                       run["error"], run["arrows"]))

    fig, axes = new_figure(1, 3, width=12.5, height=4.6)
    image = None
    for ax, (title, error, arrows) in zip(axes, panels):
        panel_image = draw_score_panel(ax, field["arrows_at"], arrows, lim=field["fine_axis"][-1],
                                       fine=field["fine_axis"], log_p=field["log_p"],
                                       density_fractions=(0.01, 0.05, 0.2), error=error, cap=4.0, title=title)
        image = panel_image if panel_image is not None else image
    axes[0].set_ylabel("$x_2$")
    fig.colorbar(image, ax=axes[1:], label=r"誤差 $\log_{10}\|s_\theta(x) - \nabla_x \log p(x)\|$", shrink=0.85)
    fig.suptitle("青線は $p(x)$ の等高線 (最大値の 20%, 5%, 1%)、背景の色は誤差 (薄いほど正確)、"
                 "矢印の長さは 4 で切っている", fontsize=10)
    return fig
