"""第 2 章「ランジュバン・モンテカルロ法」の図: 連鎖の様子、ステップ数と 2 標本距離、モードの重みの失敗。

どれも厳密なスコア (GaussianMixture.score) を使い、学習はしない。
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from gen_lib.figures import figure
from gen_lib.distributions.gaussian_mixture import ring_of_gaussians
from gen_lib.score_based.langevin import langevin_failure_setting, langevin_sample
from gen_lib.metrics.mode_weights import estimate_mode_weights
from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.core.grid import plane_points
from gen_lib.metrics.two_sample import energy_distance, mmd_squared
from gen_lib.core.validation import make_rng

SNAPSHOT_STEPS = (0, 10, 30, 100, 300)
CONVERGENCE_STEP_SIZES = (0.002, 0.01, 0.05)
CONVERGENCE_CHECKPOINTS = (1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300)
N_CHAINS = 400
EXTRA_STEP_SIZES = (0.02, 0.03, 0.04, 0.06)
MMD_BANDWIDTH = 0.2  # 円周上のモードの幅 (標準偏差 0.15) 程度: モード内の広がりの違いに敏感にする


def ring_initial_points(n: int, seed: int) -> np.ndarray:
    r"""円周の混合の連鎖の初期値 $\mathcal{N}(0, 1.5^2 I)$ (回転対称なので 8 つのモードに等しく分かれる)。"""
    return 1.5 * make_rng(seed).standard_normal((n, 2))


@figure("ch2-langevin-snapshots.svg")
def langevin_snapshots(seed: int = 0) -> Figure:
    """円周上の 8 峰を、厳密なスコアを使うランジュバン法 (ε = 0.002) でサンプリングする途中の様子。"""
    mixture = ring_of_gaussians()
    steps, path = langevin_sample(mixture.score, ring_initial_points(N_CHAINS, seed), 0.002,
                                  SNAPSHOT_STEPS[-1], seed=seed + 1, record_every=1)
    exact = mixture.sample(N_CHAINS, seed=seed + 2)
    lim = 3.2
    xs = np.linspace(-lim, lim, 121)
    grid = plane_points(xs)
    log_p = mixture.log_prob(grid).reshape(xs.size, xs.size)
    panels = [(f"$k = {k}$", path[k], MODEL_COLOR) for k in SNAPSHOT_STEPS] + [("厳密なサンプル", exact, DATA_COLOR)]
    fig, axes = new_figure(1, len(panels), width=12.0, height=2.7)
    for ax, (title, x, color) in zip(axes, panels):
        ax.contour(xs, xs, log_p, levels=np.linspace(log_p.max() - 8, log_p.max(), 4), colors="0.6",
                   linewidths=0.5, linestyles="solid")
        ax.scatter(x[:, 0], x[:, 1], s=2, color=color)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[-2, 0, 2], yticks=[-2, 0, 2],
               title=title, xlabel="$x_1$")
    axes[0].set_ylabel("$x_2$")
    fig.suptitle(r"ランジュバン法の連鎖 $x_k$ ($\varepsilon = 0.002$, 初期値 $\mathcal{N}(0, 1.5^2 I)$, "
                 f"{N_CHAINS} 本)", fontsize=11)
    return fig


def within_mode_variance(mixture, x) -> float:
    """各点を最も近い (負担率最大の) モードに割り当て、平均からのずれの 1 成分あたりの分散を求める。"""
    nearest = np.argmax(mixture.responsibilities(x), axis=1)
    return float(np.mean((x - mixture.means[nearest]) ** 2))


def convergence_curves(seed: int = 0) -> dict:
    """ステップ数ごとの MMD² (相手は厳密なサンプル) とノイズの床、ステップ幅ごとのモード内の分散。"""
    mixture = ring_of_gaussians()
    reference = mixture.sample(N_CHAINS, seed=seed + 100)
    x0 = ring_initial_points(N_CHAINS, seed)
    curves, variances = {}, {}
    for i, eps in enumerate(CONVERGENCE_STEP_SIZES):
        _, path = langevin_sample(mixture.score, x0, eps, CONVERGENCE_CHECKPOINTS[-1], seed=seed + 1 + i,
                                  record_every=1)
        curves[eps] = np.array([mmd_squared(path[k], reference, MMD_BANDWIDTH) for k in CONVERGENCE_CHECKPOINTS])
        variances[eps] = within_mode_variance(mixture, path[-1])
    for i, eps in enumerate(EXTRA_STEP_SIZES):  # 大きい ε は速く収束するので 60 ステップで足りる
        x = langevin_sample(mixture.score, x0, eps, 60, seed=seed + 10 + i)
        variances[eps] = within_mode_variance(mixture, x)
    # ノイズの床: 同じ大きさの厳密なサンプル集合どうしの距離 (8 組。平均と最小〜最大)
    floor = np.array([mmd_squared(mixture.sample(N_CHAINS, seed=seed + 200 + j), reference, MMD_BANDWIDTH)
                      for j in range(8)])
    return {"curves": curves, "floor": floor, "variances": dict(sorted(variances.items())),
            "exact_variance": within_mode_variance(mixture, reference)}


@figure("ch2-langevin-convergence.svg")
def langevin_convergence(seed: int = 0) -> Figure:
    """ステップ数 k と MMD² の関係 (ステップ幅ごと) と、ステップ幅によるモード内の分散の偏り。"""
    result = convergence_curves(seed)
    sigma2 = ring_of_gaussians().covariances[0, 0, 0]
    colors = (DATA_COLOR, ACCENT_COLOR, MODEL_COLOR)
    fig, (ax_d, ax_v) = new_figure(1, 2, width=10.0, height=3.9)
    for color, (eps, values) in zip(colors, result["curves"].items()):
        ax_d.plot(CONVERGENCE_CHECKPOINTS, values, "o-", ms=3, color=color, label=rf"$\varepsilon = {eps}$")
    floor = result["floor"]
    ax_d.axhspan(floor.min(), floor.max(), color="0.85", zorder=0)
    ax_d.axhline(floor.mean(), color="0.3", ls="--", lw=1.0,
                 label="ノイズの床 (厳密なサンプルどうし)\n灰色の帯: 8 組の最小〜最大")
    ax_d.set(xscale="log", yscale="log", xlabel="ステップ数 $k$",
             ylabel=f"厳密なサンプルとの MMD² ($h = {MMD_BANDWIDTH}$)",
             title=f"{N_CHAINS} 本の連鎖と厳密なサンプル {N_CHAINS} 点の距離")
    ax_d.set_ylim(floor.min() * 0.7, 0.25)
    ax_d.legend(fontsize=8, loc="upper right")
    eps_line = np.linspace(1e-4, max(result["variances"]) * 1.05, 200)
    ax_v.plot(eps_line, 1.0 / (1.0 - eps_line / (4 * sigma2)), color="0.3",
              label=r"ガウス分布の理論値 $1 / (1 - \varepsilon / 4\sigma^2)$")
    eps_pts = np.array(list(result["variances"]))
    ax_v.plot(eps_pts, np.array(list(result["variances"].values())) / sigma2, "o", color=MODEL_COLOR,
              label="ランジュバン法の連鎖 (測定)")
    ax_v.axhline(result["exact_variance"] / sigma2, color=DATA_COLOR, ls=":", label="厳密なサンプル (測定)")
    ax_v.set(xlabel=r"ステップ幅 $\varepsilon$", ylabel=r"モード内の分散 / $\sigma^2$",
             title=rf"大きな $\varepsilon$ は分布を広げる ($\sigma = {np.sqrt(sigma2):g}$)")
    ax_v.legend(fontsize=8)
    fig.suptitle("円周上の 8 峰をランジュバン法でサンプリング: ステップ幅の得失", fontsize=11)
    return fig


def failure_weights(seed: int = 0) -> dict:
    """失敗する設定 (langevin_failure_setting) での、真の重み・初期値・連鎖・厳密なサンプルの重みと距離。"""
    setting = langevin_failure_setting(seed=seed)
    mixture = setting.mixture
    x = langevin_sample(mixture.score, setting.x0, setting.step_size, setting.n_steps, seed=setting.seed)
    reference = setting.reference_samples()
    exact = mixture.sample(len(setting.x0), seed=setting.reference_seed + 1)
    return {
        "setting": setting, "samples": x, "reference": reference,
        "weights": {"真の重み": mixture.weights,
                    "厳密なサンプル": estimate_mode_weights(mixture, exact),
                    "初期値 (一様分布)": estimate_mode_weights(mixture, setting.x0),
                    f"ランジュバン法 ($K = {setting.n_steps}$)": estimate_mode_weights(mixture, x)},
        "energy_distance": energy_distance(x, reference),
        "floor": energy_distance(exact, reference),
    }


@figure("ch2-langevin-mode-weights.svg")
def langevin_mode_weights(seed: int = 0) -> Figure:
    """離れた 2 峰 (重み 0.2 / 0.8) で、ランジュバン法が初期値の割合を保ってしまう様子を数値で示す。"""
    result = failure_weights(seed)
    setting = result["setting"]
    x, reference = result["samples"], result["reference"]
    fig, (ax_x, ax_w) = new_figure(1, 2, width=10.0, height=4.2)
    ax_x.scatter(reference[:, 0], reference[:, 1], s=2, color=DATA_COLOR, label="厳密なサンプル")
    ax_x.scatter(x[:, 0], x[:, 1], s=2, color=MODEL_COLOR, label="ランジュバン法")
    ax_x.add_patch(Rectangle((-8, -8), 16, 16, fill=False, ls=":", color="0.4", label="初期値の箱 $[-8, 8]^2$"))
    ax_x.set(xlim=(-9, 9), ylim=(-9, 9), aspect="equal", xlabel="$x_1$", ylabel="$x_2$",
             title=rf"$\varepsilon = {setting.step_size}$, $K = {setting.n_steps}$, {len(x)} 本の連鎖")
    ax_x.legend(fontsize=8, loc="upper left", markerscale=4)
    names = list(result["weights"])
    colors = ("0.3", DATA_COLOR, "0.7", MODEL_COLOR)
    width = 0.2
    for i, (name, color) in enumerate(zip(names, colors)):
        w = result["weights"][name]
        pos = np.arange(len(w)) + (i - 1.5) * width
        bars = ax_w.bar(pos, w, width, color=color, label=name)
        ax_w.bar_label(bars, labels=[f"{v:.2f}" for v in w], fontsize=7, padding=1)
    ax_w.set(xticks=[0, 1], xticklabels=[r"モード $(-5, -5)$", r"モード $(5, 5)$"], ylim=(0, 1.0),
             ylabel="重み (負担率の平均)",
             title=f"エネルギー距離: 連鎖 {result['energy_distance']:.3f} / 床 {result['floor']:.3f}")
    ax_w.legend(fontsize=8, loc="upper left")
    fig.suptitle(r"離れた 2 峰 $\frac{1}{5}\mathcal{N}((-5,-5), I) + \frac{4}{5}\mathcal{N}((5,5), I)$"
                 ": ランジュバン法は重みを取り違える", fontsize=11)
    return fig
