r"""第 3 章「フローマッチング」の図: ステップ数とサンプルの質、確率フロー ODE とフローマッチングの軌跡。

計算は ``gen_lib.experiments.ch3_flow`` が行い、ここでは結果を描くだけである。
"""

from __future__ import annotations

from matplotlib.figure import Figure

from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch3_flow import (QualitySettings, TrajectorySettings, sample_quality,
                                          trajectories)
from gen_lib.figures import figure

SAMPLERS = (("flow_euler", DATA_COLOR, "o", "フローマッチング + オイラー法"),
            ("flow_heun", ACCENT_COLOR, "s", "フローマッチング + ホイン法"),
            ("ddim", MODEL_COLOR, "^", r"DDPM + DDIM ($\eta = 0$)"))


@figure("ch3-fm-quality.svg")
def quality_against_steps(seed: int = 0) -> Figure:
    """エネルギー距離 (左) と 2-ワッサースタイン距離 (右) をネットワークの評価回数に対して。"""
    r = sample_quality(QualitySettings(seed=seed))
    steps = r["steps"]
    fig, axes = new_figure(1, 2, width=7.0, height=3.4)
    for ax, key, floor, label in ((axes[0], "energy", r["floor_energy"], "エネルギー距離"),
                                  (axes[1], "w2", r["floor_w2"], "2-ワッサースタイン距離")):
        for name, color, marker, legend in SAMPLERS:
            nfe = 2 * steps if name == "flow_heun" else steps  # ホイン法は 1 ステップに 2 回
            ax.loglog(nfe, r[name][key], marker=marker, color=color, label=legend)
        ax.axhspan(floor.min(), floor.max(), color="0.8", label="ノイズの床 (厳密なサンプルどうし)")
        ax.set(xlabel="ネットワークの評価回数", ylabel=label)
    axes[0].legend(fontsize=9, loc="upper right")
    return fig


@figure("ch3-fm-trajectories.svg")
def trajectory_panels(seed: int = 0) -> Figure:
    """同じ出発点からの確率フロー ODE (左) とフローマッチング (右) の軌跡 (厳密な速度場)。"""
    r = trajectories(TrajectorySettings(seed=seed + 3))
    fig, axes = new_figure(1, 2, width=7.0, height=3.6)
    shown = slice(0, 24)
    for ax, (name, title) in zip(axes, (("probability_flow", "確率フロー ODE (VP)"),
                                        ("flow_matching", "フローマッチング (直線の経路)"))):
        path = r[name]["path"][:, shown]
        ax.plot(path[:, :, 0], path[:, :, 1], color="0.45", linewidth=0.8)
        ax.scatter(*path[0].T, s=10, color=DATA_COLOR, zorder=3, label="出発点 $x_1$")
        ax.scatter(*path[-1].T, s=10, color=MODEL_COLOR, zorder=3, label="終点 $x_0$")
        ax.set(xlim=(-3.2, 3.2), ylim=(-3.2, 3.2), aspect="equal", xlabel="$x_1$ 成分",
               title=f"{title}\n長さ/弦 {r[name]['median_length_ratio']:.2f}、"
                     f"等速からのずれ {r[name]['mean_deviation']:.2f}")
    axes[0].set_ylabel("$x_2$ 成分")
    axes[0].legend(fontsize=9, loc="lower left")
    return fig
