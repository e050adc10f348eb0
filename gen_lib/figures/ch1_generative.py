"""第 1 章「生成モデルとはなにか」の図: 無条件のサンプリングと、着色問題のおもちゃの例。

計算 (サンプリング・学習・評価) は ``gen_lib.experiments.ch1_generative`` が行い、ここでは結果を描くだけである。
"""

from __future__ import annotations

from matplotlib.figure import Figure

from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch1_generative import (ColorizationSettings, SamplingSettings, colorization,
                                                unconditional_sampling)
from gen_lib.figures import figure


@figure("ch1-generative-sampling.svg")
def generative_sampling(seed: int = 0) -> Figure:
    result = unconditional_sampling(SamplingSettings(seed=seed))
    x, axis = result["x"], result["axis"]
    fig, ax = new_figure(1, 1, width=4.2, height=4.0)
    fig.set_dpi(150)  # ラスタ化した点と濃淡の解像度
    ax.contourf(axis, axis, result["density"], levels=12, cmap="Blues", rasterized=True)
    ax.scatter(x[:, 0], x[:, 1], s=3, color=MODEL_COLOR, alpha=0.6, label=r"サンプル $x \sim q_\theta(x)$",
               rasterized=True)
    ax.set_aspect("equal")
    ax.set_xlabel(r"$x_1$")
    ax.set_ylabel(r"$x_2$")
    ax.set_title(r"密度 $q_\theta(x)$ (濃淡) とサンプル (点)")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    return fig


@figure("ch1-generative-colorization.svg")
def generative_colorization(seed: int = 0) -> Figure:
    settings = ColorizationSettings(seed=seed)
    r = colorization(settings)
    off, loglik = r["off_mode"], r["log_likelihood"]

    fig, axes = new_figure(1, 3, width=12.0, height=4.2)
    fig.set_dpi(150)  # ラスタ化した散布図の解像度 (点をベクトルで描くと SVG が 1.6 MB になる)
    limits = (-settings.y_limit, settings.y_limit)

    ax = axes[0]
    ax.scatter(r["c"], r["y"], s=3, color=DATA_COLOR, alpha=0.35, label=r"データ $(c, y) \sim p(c, y)$",
               rasterized=True)
    ax.plot(r["c_curve"], r["regressor_curve"], color=MODEL_COLOR, lw=2.5, label=r"回帰 $\hat{y}_\theta(c)$")
    ax.plot(r["c_curve"], r["mean_curve"], color="black", lw=1.2, ls="--", label=r"$E[y \mid c]$")
    ax.set_title(f"決定的な回帰 (2 乗誤差)\nモードから 3σ 以上離れた出力: {off['regressor']:.1%}", fontsize=10)

    ax = axes[1]
    ax.scatter(r["c_test"], r["y_test"], s=3, color="0.75", alpha=0.5,
               label=r"真のサンプル $y \sim p(y \mid c)$", rasterized=True)
    ax.scatter(r["c_test"], r["y_mdn"], s=3, color=MODEL_COLOR, alpha=0.4,
               label=r"生成 $y \sim q_\theta(y \mid c)$", rasterized=True)
    ax.set_title(f"条件付き生成 (混合密度ネットワーク)\nモードから 3σ 以上離れたサンプル: "
                 f"{off['mdn']:.1%} (真の分布 {off['true']:.1%})", fontsize=10)

    for ax in axes[:2]:
        ax.axvline(settings.slice_c, color=ACCENT_COLOR, lw=1, ls=":")
        ax.set_xlim(-1.0, 1.0)
        ax.set_ylim(*limits)
        ax.set_xlabel(r"条件 $c$ (灰色の明るさ)")
        ax.set_ylabel(r"出力 $y$ (色)")
        ax.legend(loc="lower left", fontsize=8, framealpha=0.9, markerscale=3)

    ax = axes[2]
    ax.fill_between(r["y_slice"], r["slice_true"], color=DATA_COLOR, alpha=0.3, label=r"真の $p(y \mid c)$")
    ax.plot(r["y_slice"], r["slice_mdn"], color=MODEL_COLOR, lw=1.5, label=r"学習した $q_\theta(y \mid c)$")
    ax.axvline(r["slice_regressor"], color="black", lw=2, label=r"回帰の出力 $\hat{y}_\theta(c)$")
    ax.set_xlim(*limits)
    ax.set_xlabel(r"出力 $y$")
    ax.set_ylabel("密度")
    ax.set_title(f"$c = {settings.slice_c}$ での断面\n評価データの平均対数尤度\n真 {loglik['true']:.3f}, "
                 f"学習 {loglik['mdn']:.3f} (差 {loglik['true'] - loglik['mdn']:.3f})", fontsize=10)
    ax.legend(loc="upper center", fontsize=8, framealpha=0.9)
    return fig
