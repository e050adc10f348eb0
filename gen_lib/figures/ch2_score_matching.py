r"""第 2 章「スコアマッチング」の図: ESM と ISM の差が定数であること、計算量、学習したスコア場。

2 次元のガウス混合 (``asymmetric_mixture``) は真のスコアが厳密に分かるので、明示的スコアマッチング
$J_{\mathrm{ESM}}$ も計算できる。期待値は格子上の数値積分 (台形則) で計算する:
$\mathbb{E}_p[g] \approx \sum_j w_j\, p(x_j)\, g(x_j)$。
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from matplotlib.figure import Figure

from gen_lib.core.grid import make_grid
from gen_lib.figures import figure
from gen_lib.distributions.gaussian_mixture import GaussianMixture, asymmetric_mixture
from gen_lib.core.nn import make_mlp, single_thread
from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, draw_score_panel, new_figure
from gen_lib.core.grid import plane_points
from gen_lib.score_based.score_matching import (evaluate_score, explicit_score_matching_loss, implicit_score_matching_loss,
                                    jacobian_trace, sliced_score_matching_loss)
from gen_lib.core.cache import cached
from gen_lib.core.validation import make_rng

TRAIN_SETTINGS = {"hidden": 32, "steps": 1000, "batch": 256, "lr": 5e-3, "eval_every": 50, "grid": 81,
                  "box": 4.5}


def quadrature_grid(box: float = 4.5, n: int = 81):
    """$[-b, b]^2$ の格子 (台形則)。asymmetric_mixture の質量のほぼすべて (1 - 2e-8) が入る。"""
    return make_grid([-box, -box], [box, box], n)


def objectives_by_quadrature(score_model, mixture: GaussianMixture, grid) -> dict:
    r"""$J_{\mathrm{ESM}}$, $J_{\mathrm{ISM}}$, $C = \tfrac12 \mathbb{E}_p \|\nabla \log p\|^2$ を格子上の数値積分で計算する。"""
    weights = np.exp(mixture.log_prob(grid.points) + grid.log_weights)  # w_j p(x_j)
    true = mixture.score(grid.points)
    trace, s = jacobian_trace(score_model, torch.as_tensor(grid.points), create_graph=False)
    trace, s = trace.detach().numpy(), s.detach().numpy()
    return {"esm": float(weights @ (0.5 * np.sum((s - true) ** 2, axis=1))),
            "ism": float(weights @ (trace + 0.5 * np.sum(s**2, axis=1))),
            "constant": float(weights @ (0.5 * np.sum(true**2, axis=1)))}


def train_score_model(method: str, seed: int = 0, settings: dict = TRAIN_SETTINGS) -> dict:
    r"""asymmetric_mixture のスコアを ISM か SSM (射影 1 本、分散低減版) で学習する (キャッシュ付き)。

    毎ステップ真の分布から新しいミニバッチを引く。固定した有限個のデータで ISM を下げ続けると、
    データ点の上でだけ発散 $\operatorname{tr}\nabla_x s_\theta$ を大きく負にする過学習が起きて
    経験 ISM が下がり続ける (試した 1000 点・32 ユニットでは数百ステップで起きた)。
    """
    if method not in ("ism", "ssm"):
        raise ValueError(f"method must be 'ism' or 'ssm', got {method!r}")

    def train() -> dict:
        mixture = asymmetric_mixture()
        grid = quadrature_grid(settings["box"], settings["grid"])
        model = make_mlp(2, 2, hidden=settings["hidden"], seed=seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"])
        rng = make_rng(seed + 1)
        generator = torch.Generator().manual_seed(seed + 2)
        steps, esm, ism = [], [], []
        with single_thread():
            for step in range(settings["steps"] + 1):
                if step % settings["eval_every"] == 0:
                    values = objectives_by_quadrature(model, mixture, grid)
                    steps.append(step)
                    esm.append(values["esm"])
                    ism.append(values["ism"])
                if step == settings["steps"]:
                    break
                x = torch.as_tensor(mixture.sample(settings["batch"], seed=rng))
                if method == "ism":
                    loss = implicit_score_matching_loss(model, x)
                else:
                    loss = sliced_score_matching_loss(model, x, 1, generator)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return {"state_dict": model.state_dict(), "steps": steps, "esm": esm, "ism": ism}

    result = cached(f"ch2-sm-{method}", {**settings, "seed": seed}, train, depends_on=__name__)
    model = make_mlp(2, 2, hidden=settings["hidden"], seed=seed)
    model.load_state_dict(result["state_dict"])
    return {**result, "model": model}


def random_score_models(seed: int) -> list:
    """いろいろなスコアモデル: 出力を拡大した乱数初期化の MLP と、線形モデル $s(x) = Ax + b$。"""
    models = []
    for k, (hidden, scale) in enumerate([(8, 1.0), (16, 3.0), (32, 6.0), (64, 2.0), (16, 8.0), (32, 0.5)]):
        mlp = make_mlp(2, 2, hidden=hidden, seed=seed + 10 + k)
        models.append(lambda x, mlp=mlp, scale=scale: scale * mlp(x))
    rng = make_rng(seed + 20)
    for _ in range(4):
        a = torch.as_tensor(rng.normal(scale=1.5, size=(2, 2)))
        b = torch.as_tensor(rng.normal(size=2))
        models.append(lambda x, a=a, b=b: x @ a.T + b)
    return models


@figure("ch2-sm-identity.svg")
def esm_ism_identity(seed: int = 0) -> Figure:
    """左: ISM で学習する間の ESM と ISM (数値積分)。右: いろいろなモデルで ESM 対 ISM (直線 ESM = ISM + C)。"""
    mixture = asymmetric_mixture()
    run = train_score_model("ism", seed)
    grid = quadrature_grid(TRAIN_SETTINGS["box"], TRAIN_SETTINGS["grid"])
    constant = objectives_by_quadrature(lambda x: torch.zeros_like(x), mixture, grid)["constant"]
    steps, esm, ism = np.array(run["steps"]), np.array(run["esm"]), np.array(run["ism"])

    fig, (ax_l, ax_r) = new_figure(1, 2, width=10.5, height=4.0)
    ax_l.plot(steps, esm, color=DATA_COLOR, label=r"$J_{\mathrm{ESM}}(\theta)$ (真のスコアが必要)")
    ax_l.plot(steps, ism, color=MODEL_COLOR, label=r"$J_{\mathrm{ISM}}(\theta)$ (データだけで計算できる)")
    ax_l.plot(steps, esm - ism, color=ACCENT_COLOR, linewidth=2.5, label=r"差 $J_{\mathrm{ESM}} - J_{\mathrm{ISM}}$")
    ax_l.axhline(constant, color="0.2", linestyle=":", label=rf"$C = \frac{{1}}{{2}}E_p\|\nabla \log p\|^2 = {constant:.4f}$")
    ax_l.set(xlabel="ISM で学習したステップ数", ylabel="目的関数の値 (数値積分)",
             title=f"学習中ずっと差は一定 (最大のずれ {np.max(np.abs(esm - ism - constant)):.1e})")
    ax_l.legend(fontsize=8, loc="center right", bbox_to_anchor=(1.0, 0.33))

    x_mc = mixture.sample(4000, seed=seed + 3)
    true_mc = mixture.score(x_mc)
    quad, mc = [], []
    with single_thread():
        for model in random_score_models(seed):
            values = objectives_by_quadrature(model, mixture, grid)
            quad.append((values["ism"], values["esm"]))
            mc.append((implicit_score_matching_loss(model, x_mc).item(),
                       explicit_score_matching_loss(model, x_mc, true_mc).item()))
        trained = objectives_by_quadrature(run["model"], mixture, grid)
    quad, mc = np.array(quad), np.array(mc)
    line = np.array([trained["ism"] - 1.0, quad[:, 0].max() + 1.0])
    ax_r.plot(line, line + constant, color="0.2", linestyle=":", label=r"$J_{\mathrm{ESM}} = J_{\mathrm{ISM}} + C$")
    ax_r.scatter(quad[:, 0], quad[:, 1], color=DATA_COLOR, zorder=3, label="数値積分")
    ax_r.scatter(mc[:, 0], mc[:, 1], color=MODEL_COLOR, marker="x", zorder=4, label="モンテカルロ (4000 点)")
    ax_r.scatter([trained["ism"]], [trained["esm"]], color=ACCENT_COLOR, marker="*", s=140, zorder=5,
                 label="左の学習後のモデル (数値積分)")
    ax_r.set(xlabel=r"$J_{\mathrm{ISM}}$", ylabel=r"$J_{\mathrm{ESM}}$",
             title="乱数初期化の MLP と線形モデル 10 個でも同じ $C$")
    ax_r.legend(fontsize=8, loc="upper left")
    return fig


TIMING_SETTINGS = {"dims": [2, 8, 32, 128], "batch": 128, "hidden": 64, "repeats": 3}


def measure_loss_times(settings: dict = TIMING_SETTINGS) -> dict:
    """ISM と SSM (射影 1 本) の「損失 + θ についての勾配」1 回の時間 [ms] を次元 d ごとに測る (1 スレッド)。

    時間は計算機と負荷で変わるので、測った値はコードと設定を鍵にキャッシュする
    (同じコードなら図は毎回同じになる)。各設定で 1 回捨ててから repeats 回測り、最小値を取る。
    """

    def measure() -> dict:
        result = {"dims": list(settings["dims"]), "ism": [], "ssm": []}
        generator = torch.Generator().manual_seed(0)
        with single_thread():
            for d in settings["dims"]:
                model = make_mlp(d, d, hidden=settings["hidden"], seed=0)
                x = torch.randn(settings["batch"], d, generator=generator, dtype=torch.float64)
                losses = {"ism": lambda: implicit_score_matching_loss(model, x),
                          "ssm": lambda: sliced_score_matching_loss(model, x, 1, generator)}
                for name, loss_fn in losses.items():
                    times = []
                    for _ in range(settings["repeats"] + 1):
                        start = time.perf_counter()
                        model.zero_grad()
                        loss_fn().backward()
                        times.append(1e3 * (time.perf_counter() - start))
                    result[name].append(min(times[1:]))
        return result

    return cached("ch2-sm-timing", settings, measure, depends_on=__name__)


@figure("ch2-sm-cost.svg")
def score_matching_cost(seed: int = 0) -> Figure:
    """ISM (逆伝播 d 回) と SSM (逆伝播 1 回) の 1 ステップの時間を次元 d に対して両対数で描く。"""
    t = measure_loss_times()
    dims = np.array(t["dims"])
    fig, ax = new_figure(1, 1, width=6.4, height=4.0)
    ax.plot(dims, t["ism"], "o-", color=MODEL_COLOR, label=r"ISM: 厳密な $\mathrm{tr}\,\nabla_x s_\theta$ (逆伝播 $d$ 回)")
    ax.plot(dims, t["ssm"], "s-", color=DATA_COLOR, label=r"SSM: 射影 1 本 (逆伝播 1 回)")
    ax.plot(dims, t["ism"][0] * dims / dims[0], color="0.5", linestyle=":", label=r"$d$ に比例する線")
    for d, a, b in zip(dims, t["ism"], t["ssm"]):  # 比 ISM / SSM を 2 点の間に書く
        ax.plot([d, d], [b, a], color="0.6", linewidth=0.8, zorder=1)
        ax.annotate(f"×{a / b:.1f}" if a / b < 10 else f"×{a / b:.0f}", (d, np.sqrt(a * b)),
                    ha="left", va="center", fontsize=8, xytext=(3, 0), textcoords="offset points")
    ax.set_xlim(dims[0] / 1.4, dims[-1] * 1.6)
    ax.set(xscale="log", yscale="log", xlabel="次元 $d$", ylabel="損失と勾配 1 回の時間 [ms]",
           title=f"計算時間 ({TIMING_SETTINGS['batch']} 点, 隠れ層 {TIMING_SETTINGS['hidden']} ユニット×2, CPU 1 スレッド)")
    ax.set_xticks(dims, [str(d) for d in dims])
    ax.legend(fontsize=8)
    return fig


@figure("ch2-sm-field.svg")
def learned_score_field(seed: int = 0) -> Figure:
    r"""真のスコア場と、ISM・SSM で学習したスコア場。背景の色は誤差 $\|s_\theta - \nabla \log p\|$。"""
    mixture = asymmetric_mixture()
    grid = quadrature_grid(TRAIN_SETTINGS["box"], TRAIN_SETTINGS["grid"])
    lim, cap = 3.5, 4.0
    xs = np.linspace(-lim, lim, 15)
    arrows_at = plane_points(xs)
    fine = np.linspace(-lim, lim, 141)
    fine_points = plane_points(fine)
    log_p = mixture.log_prob(fine_points).reshape(fine.size, fine.size)
    true_fine = mixture.score(fine_points)

    panels = [("真のスコア $\\nabla_x \\log p(x)$", None, mixture.score(arrows_at), None)]
    for method, label in (("ism", "ISM"), ("ssm", "SSM (射影 1 本)")):
        model = train_score_model(method, seed)["model"]
        with torch.no_grad():
            learned_arrows = evaluate_score(model, torch.as_tensor(arrows_at)).numpy()
            error = np.linalg.norm(evaluate_score(model, torch.as_tensor(fine_points)).numpy() - true_fine, axis=1)
        values = objectives_by_quadrature(model, mixture, grid)
        relative = values["esm"] / values["constant"]  # E‖s_θ - s‖² / E‖s‖²
        panels.append((f"{label} で学習した $s_\\theta(x)$\n相対誤差 $E_p\\|s_\\theta - s\\|^2 / E_p\\|s\\|^2 = {relative:.3f}$",
                       error.reshape(fine.size, fine.size), learned_arrows, relative))

    fig, axes = new_figure(1, 3, width=12.5, height=4.6)
    image = None
    for ax, (title, error, arrows, _) in zip(axes, panels):
        panel_image = draw_score_panel(ax, arrows_at, arrows, lim=lim, fine=fine, log_p=log_p,
                                       density_fractions=(0.01, 0.05, 0.2), error=error, cap=cap, title=title)
        image = panel_image if panel_image is not None else image
    axes[0].set_ylabel("$x_2$")
    fig.colorbar(image, ax=axes[1:], label=r"誤差 $\log_{10}\|s_\theta(x) - \nabla_x \log p(x)\|$", shrink=0.85)
    fig.suptitle("青線は $p(x)$ の等高線 (最大値の 20%, 5%, 1%)、背景の色は誤差 (薄いほど正確)、矢印の長さは 4 で切っている", fontsize=10)
    return fig
