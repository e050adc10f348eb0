"""第 1 章「拡散モデルの概要」の図: 前向き過程でデータがノイズに変わっていく様子と、その逆の生成過程。

計算は ``gen_lib.experiments.ch1_overview`` が行い、ここでは結果を描くだけである。
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch1_overview import (ForwardSettings, GenerationSettings, LatentSettings,
                                              ScheduleSettings, forward_process, generation_process,
                                              latent_marginals, schedules)
from gen_lib.figures import figure


def _format_alpha_bar(a: float) -> str:
    return f"{a:.3f}" if a >= 1e-3 else f"{a:.1e}"


@figure("ch1-overview-forward.svg")
def forward_process_panels(seed: int = 0) -> Figure:
    """前向き過程: 閉形式 (1 段目) とマルコフ連鎖 (2 段目)。生成過程: 学習した DDPM で x_T から逆向きに (3 段目)。"""
    settings = ForwardSettings(seed=seed)
    r = forward_process(settings)
    generated = generation_process(GenerationSettings(seed=seed))["samples"]
    axis, lim = r["axis"], settings.lim
    fig, axes = new_figure(3, len(r["times"]), width=7.0, height=4.5)
    colors = (DATA_COLOR, MODEL_COLOR, ACCENT_COLOR)
    for j, (t, a, log_q) in enumerate(zip(r["times"], r["alpha_bar"], r["log_q"])):
        for i, x_t in enumerate((r["closed_form"][j], r["chain"][j], generated[j])):
            ax = axes[i, j]
            ax.contour(axis, axis, log_q, levels=np.linspace(log_q.max() - 8, log_q.max(), 5),
                       colors="0.55", linewidths=0.6, linestyles="solid")
            ax.scatter(x_t[:, 0], x_t[:, 1], s=1.5, color=colors[i],
                       rasterized=True)  # 点は画像として埋め込む (SVG を軽くする)
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[-2, 0, 2], yticks=[-2, 0, 2])
            ax.tick_params(labelsize=9)
            if j > 0:
                ax.set_yticklabels([])
            if i < 2:
                ax.set_xticklabels([])
            if i == 0:
                ax.set_title(f"$t = {t}$\n" + r"$\bar{\alpha}_t = $" + _format_alpha_bar(a), fontsize=9)
    for i, label in enumerate(("閉形式で一度に", "連鎖を $t$ 回", "生成 ($T \\to t$)")):
        axes[i, 0].set_ylabel(label, fontsize=9)
    fig.suptitle(r"前向き過程 (上 2 段) と生成過程 (下段)。灰色の線は厳密な $\log q(x_t)$ の等高線",
                 fontsize=10)
    return fig


@figure("ch1-overview-schedules.svg")
def noise_schedules(seed: int = 0) -> Figure:
    """線形スケジュールとコサインスケジュールの ᾱ_t と β_t (乱数は使わない)。"""
    del seed  # 乱数を使わない
    r = schedules(ScheduleSettings())
    t = r["t"]
    fig, (ax_a, ax_b) = new_figure(1, 2, width=7.0, height=3.4)
    for name, label, color in [("linear", "線形", DATA_COLOR), ("cosine", "コサイン", MODEL_COLOR)]:
        betas, alpha_bar = r[name]["betas"], r[name]["alpha_bar"]
        ax_a.plot(t, alpha_bar, color=color,
                  label=f"{label}\n" + r"$\bar{\alpha}_T = $" + _format_alpha_bar(alpha_bar[-1]))
        ax_b.plot(t, betas, color=color, label=label)
    ax_a.set(xlabel="$t$", ylabel=r"$\bar{\alpha}_t$",
             title=r"信号の割合 $\bar{\alpha}_t$", ylim=(-0.02, 1.02))
    ax_b.set(xlabel="$t$", ylabel=r"$\beta_t$", yscale="log", title=r"ノイズの分散 $\beta_t$")
    ax_a.legend(fontsize=9)
    ax_b.legend(fontsize=9)
    return fig


@figure("ch1-overview-latent.svg")
def latent_paths(seed: int = 0) -> Figure:
    """1 次元のデータ分布から出発した q(x_t) の時間変化 (濃淡) と、x_0 から x_T へのサンプルの経路 (線)。"""
    r = latent_marginals(LatentSettings(seed=seed))
    times, xs, path = r["times"], r["xs"], r["path"]

    fig, ax = new_figure(1, 1, width=7.0, height=3.6)
    image = ax.imshow(r["density"], origin="lower", aspect="auto", cmap="Blues", interpolation="bilinear",
                      extent=(times[0], times[-1], xs[0], xs[-1]))
    for n in range(path.shape[1]):
        ax.plot(np.arange(path.shape[0]), path[:, n], color=MODEL_COLOR, linewidth=0.6, alpha=0.9,
                label="サンプルの経路 $x_0, x_1, \\dots, x_T$" if n == 0 else None)
    ax.scatter(np.zeros(path.shape[1]), path[0], color=ACCENT_COLOR, zorder=3, s=16, clip_on=False,
               label="データ $x_0$")
    ax.grid(False)
    ax.set(xlabel="時刻 $t$", ylabel="$x_t$", ylim=(xs[0], xs[-1]),
           title=r"$q(x_t)$ の濃淡: 3 つのモードの分布がほぼ $\mathcal{N}(0, 1)$ になる")
    ax.legend(loc="upper right", fontsize=9, framealpha=0.9)
    fig.colorbar(image, ax=ax, label="$q(x_t)$")
    return fig
