r"""第 3 章「DDPM」「なぜ小さなステップを重ねるのか」「DDPM とスコア」の図。

計算は ``gen_lib.experiments.ch3_ddpm`` が行い、ここでは結果を描くだけである。
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch3_ddpm import (DdpmSettings, SmallStepsSettings, ancestral_samples,
                                          epsilon_error, reverse_step_kl, variational_bound)
from gen_lib.figures import figure

VARIANCE_LABELS = {"posterior": r"$\sigma_t^2 = \tilde{\beta}_t$", "beta": r"$\sigma_t^2 = \beta_t$"}


@figure("ch3-ddpm-samples.svg")
def ddpm_samples(seed: int = 0) -> Figure:
    """厳密なサンプルと、学習済み ε_θ の祖先サンプリング (分散 β̃_t と β_t)。"""
    result = ancestral_samples(DdpmSettings(seed=seed))
    floor = np.mean(result["energy_floor"])
    panels = [("データ分布 $p$ の厳密なサンプル", result["exact"], DATA_COLOR)]
    panels += [(f"祖先サンプリング, {VARIANCE_LABELS[v]}\nエネルギー距離 {result['energy'][v]:.4f}",
                result["samples"][v], MODEL_COLOR) for v in ("posterior", "beta")]
    fig, axes = new_figure(1, 3, width=7.0, height=2.9, sharex=True, sharey=True)
    for ax, (title, x, color) in zip(axes, panels):
        ax.scatter(x[:, 0], x[:, 1], s=2, color=color, alpha=0.5, rasterized=False)
        ax.set(xlim=(-3.2, 3.2), ylim=(-3.2, 3.2), aspect="equal", xlabel="$x_1$")
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("$x_2$")
    fig.suptitle(f"各 {len(result['exact'])} 点。エネルギー距離のノイズの床 (同じ点数の厳密なサンプルどうし)"
                 f" {floor:.4f}", fontsize=9)
    return fig


@figure("ch3-ddpm-bound.svg")
def ddpm_bound_terms(seed: int = 0) -> Figure:
    r"""変分下界の時刻ごとの項 $L_{t-1}$ ($t = 2, \dots, T$) の平均。"""
    result = variational_bound(DdpmSettings(seed=seed))
    fig, ax = new_figure(width=6.0, height=3.6)
    styles = {"trained": ("学習済み $\\varepsilon_\\theta$", MODEL_COLOR),
              "exact": ("厳密な $\\varepsilon^*$", DATA_COLOR)}
    for name, (label, color) in styles.items():
        for variance, linestyle in (("posterior", "-"), ("beta", "--")):
            per_t = result[name][variance]["per_t"]
            t = np.arange(2, len(per_t) + 2)
            ax.plot(t, per_t, color=color, linestyle=linestyle, linewidth=1.2,
                    label=f"{label}, {VARIANCE_LABELS[variance]}")
    ax.set(xscale="log", yscale="log", xlabel="時刻 $t$", ylabel="$L_{t-1}$ の平均 [nats]",
           title="変分下界の各項: 小さな $t$ が大半を占める")
    ax.legend(fontsize=9)
    return fig


@figure("ch3-small-steps.svg")
def small_steps_kl(seed: int = 0) -> Figure:
    r"""逆向きの 1 歩とそのガウス近似の KL (β に対して) と、大きな β・小さな β の密度。"""
    settings = SmallStepsSettings()
    result = reverse_step_kl(settings)
    fig = Figure(figsize=(7.0, 5.6), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.15, 1])
    ax = top.subplots()
    betas, colors = result["betas"], [MODEL_COLOR, ACCENT_COLOR]
    for x_t, kl, asymptote, color in zip(result["x_ts"], result["kl"], result["asymptote"], colors):
        shown = kl > 1e-13  # これより下は数値積分の丸め誤差
        ax.plot(betas[shown], kl[shown], "o-", color=color, markersize=3, label=f"$x_t = {x_t:g}$")
        if asymptote.max() > 1e-13:
            ax.plot(betas, asymptote, ":", color=color, linewidth=1.2)
    ax.plot([], [], ":", color="0.3", label=r"$\frac{1}{12} g'''(c)^2 w^6 \propto \beta^3$")
    ax.set(xscale="log", yscale="log", ylim=(1e-13, 3), xlabel=r"$\beta$ (1 歩のノイズの分散)",
           ylabel="KL [nats]",
           title=r"$q(x_{t-1} \mid x_t)$ と同じ平均・分散のガウス分布の KL")
    ax.legend(fontsize=9, loc="lower right")
    axes = bottom.subplots(1, 2)
    for ax, panel in zip(axes, result["panels"]):
        ax.plot(panel["grid"], panel["density"], color=MODEL_COLOR, label=r"厳密な $q(x_{t-1} \mid x_t)$")
        ax.plot(panel["grid"], panel["gaussian"], "--", color="0.3", label="同じ平均・分散のガウス分布")
        ax.set(xlabel="$x_{t-1}$", title=rf"$\beta = {panel['beta']:g}$, $x_t = {settings.panel_x_t:g}$: "
                                         f"KL = {panel['kl']:.3g}")
        ax.title.set_fontsize(10)
    axes[0].set_ylabel("密度")
    axes[0].legend(fontsize=9, loc="upper left")
    return fig


@figure("ch3-ddpm-epsilon-error.svg")
def epsilon_error_across_t(seed: int = 0) -> Figure:
    r"""学習済み ε_θ と厳密な ε* の比較: 相対誤差と、1 次元あたりの損失とその下限。"""
    result = epsilon_error(DdpmSettings(seed=seed))
    t = result["t"]
    fig, (ax_l, ax_r) = new_figure(1, 2, width=7.0, height=3.3)
    ax_l.plot(t, result["relative"], "o-", color=MODEL_COLOR, markersize=3)
    ax_l.set(xscale="log", yscale="log", xlabel="時刻 $t$",
             title=r"相対誤差 $\frac{E\|\varepsilon_\theta - \varepsilon^*\|^2}{E\|\varepsilon^*\|^2}$")
    ax_r.plot(t, result["loss"], "o-", color=MODEL_COLOR, markersize=3,
              label=r"$E\|\varepsilon - \varepsilon_\theta\|^2 / d$")
    ax_r.plot(t, result["floor"], "--", color=DATA_COLOR, label=r"下限 $E\|\varepsilon - \varepsilon^*\|^2 / d$")
    ax_r.set(xscale="log", xlabel="時刻 $t$", title="ε 予測の 2 乗誤差 (1 次元あたり)")
    ax_r.legend(fontsize=9, loc="lower left")
    return fig
