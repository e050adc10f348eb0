"""第 1 章「生成モデルとはなにか」の図: 無条件のサンプリングと、着色問題のおもちゃの例。"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from gen_lib.figures import figure
from gen_lib.distributions.gaussian_mixture import GaussianMixture, ring_of_gaussians
from gen_lib.generative.mean_regression import predict, train_mean_regressor
from gen_lib.generative.mixture_density_network import train_mdn
from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.distributions.two_mode_conditional import TwoModeConditional, off_mode_fraction


# --8<-- [start:sample_unconditional]
def sample_unconditional(n: int = 1000, seed=0) -> tuple[GaussianMixture, np.ndarray]:
    r"""生成モデル $q_\theta(x)$ から $x \sim q_\theta(x)$ を n 個引く。

    ここでは $q_\theta$ を円周上に並んだ 8 個のガウス分布の混合とする (θ = 混合比・平均・共分散)。
    """
    q = ring_of_gaussians(n_modes=8, radius=2.0, std=0.15)  # q_θ(x)
    x = q.sample(n, seed=seed)  # x ~ q_θ(x)、形 (n, 2)
    return q, x
# --8<-- [end:sample_unconditional]


@figure("ch1-generative-sampling.svg")
def generative_sampling(seed: int = 0) -> Figure:
    q, x = sample_unconditional(1000, seed=seed)
    fig, ax = new_figure(1, 1, width=4.2, height=4.0)
    fig.set_dpi(150)  # ラスタ化した点と濃淡の解像度
    grid = np.linspace(-3.0, 3.0, 121)
    xx, yy = np.meshgrid(grid, grid)
    density = np.exp(q.log_prob(np.stack([xx.ravel(), yy.ravel()], axis=1))).reshape(xx.shape)
    ax.contourf(xx, yy, density, levels=12, cmap="Blues", rasterized=True)
    ax.scatter(x[:, 0], x[:, 1], s=3, color=MODEL_COLOR, alpha=0.6, label=r"サンプル $x \sim q_\theta(x)$",
               rasterized=True)
    ax.set_aspect("equal")
    ax.set_xlabel(r"$x_1$")
    ax.set_ylabel(r"$x_2$")
    ax.set_title(r"密度 $q_\theta(x)$ (濃淡) とサンプル (点)")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    return fig


# 着色のおもちゃの例の設定 (学習は図を描くたびに行う。2 コアで数秒)
N_TRAIN = 2000
N_TEST = 4000
SLICE_C = 0.5


@figure("ch1-generative-colorization.svg")
def generative_colorization(seed: int = 0) -> Figure:
    target = TwoModeConditional(noise_std=0.1, upper_weight=0.5)
    c, y = target.sample_joint(N_TRAIN, seed=seed)  # 訓練データ (c^n, y^n) ~ p(c, y)
    c_test, y_test = target.sample_joint(N_TEST, seed=seed + 1)  # 評価用の別のデータ

    regressor = train_mean_regressor(y, c, seed=seed)  # 二乗誤差で学習した決定的な関数
    mdn = train_mdn(y, c, seed=seed)  # 最尤推定で学習した q_θ(y|c)
    y_regressor = predict(regressor, c_test)
    y_mdn = mdn.sample(c_test, seed=seed + 2)

    off_true = off_mode_fraction(target, y_test, c_test)
    off_regressor = off_mode_fraction(target, y_regressor, c_test)
    off_mdn = off_mode_fraction(target, y_mdn, c_test)
    loglik_true = target.log_prob(y_test, c_test).mean()  # E[log p(y|c)]
    loglik_mdn = mdn.log_prob(y_test, c_test).mean()  # E[log q_θ(y|c)]

    fig, axes = new_figure(1, 3, width=12.0, height=4.2)
    fig.set_dpi(150)  # ラスタ化した散布図の解像度 (点をベクトルで描くと SVG が 1.6 MB になる)
    c_grid = np.linspace(-1.0, 1.0, 201)
    limits = (-2.0, 2.0)

    ax = axes[0]
    ax.scatter(c, y, s=3, color=DATA_COLOR, alpha=0.35, label=r"データ $(c, y) \sim p(c, y)$", rasterized=True)
    ax.plot(c_grid, predict(regressor, c_grid), color=MODEL_COLOR, lw=2.5, label=r"回帰 $\hat{y}_\theta(c)$")
    ax.plot(c_grid, target.mean(c_grid), color="black", lw=1.2, ls="--", label=r"$E[y \mid c]$")
    ax.set_title(f"決定的な回帰 (二乗誤差)\n峰から 3σ 以上離れた出力: {off_regressor:.1%}", fontsize=10)

    ax = axes[1]
    ax.scatter(c_test, y_test, s=3, color="0.75", alpha=0.5, label=r"真のサンプル $y \sim p(y \mid c)$",
               rasterized=True)
    ax.scatter(c_test, y_mdn, s=3, color=MODEL_COLOR, alpha=0.4, label=r"生成 $y \sim q_\theta(y \mid c)$",
               rasterized=True)
    ax.set_title(f"条件付き生成 (混合密度ネットワーク)\n峰から 3σ 以上離れたサンプル: "
                 f"{off_mdn:.1%} (真の分布 {off_true:.1%})", fontsize=10)

    for ax in axes[:2]:
        ax.axvline(SLICE_C, color=ACCENT_COLOR, lw=1, ls=":")
        ax.set_xlim(-1.0, 1.0)
        ax.set_ylim(*limits)
        ax.set_xlabel(r"条件 $c$ (灰色の明るさ)")
        ax.set_ylabel(r"出力 $y$ (色)")
        ax.legend(loc="lower left", fontsize=8, framealpha=0.9, markerscale=3)

    ax = axes[2]
    y_grid = np.linspace(*limits, 801)
    c_slice = np.full_like(y_grid, SLICE_C)
    ax.fill_between(y_grid, np.exp(target.log_prob(y_grid, c_slice)), color=DATA_COLOR, alpha=0.3,
                    label=r"真の $p(y \mid c)$")
    ax.plot(y_grid, np.exp(mdn.log_prob(y_grid, c_slice)), color=MODEL_COLOR, lw=1.5,
            label=r"学習した $q_\theta(y \mid c)$")
    ax.axvline(predict(regressor, [SLICE_C])[0], color="black", lw=2, label=r"回帰の出力 $\hat{y}_\theta(c)$")
    ax.set_xlim(*limits)
    ax.set_xlabel(r"出力 $y$")
    ax.set_ylabel("密度")
    ax.set_title(f"$c = {SLICE_C}$ での断面\n評価データの平均対数尤度\n真 {loglik_true:.3f}, "
                 f"学習 {loglik_mdn:.3f} (差 {loglik_true - loglik_mdn:.3f})", fontsize=10)
    ax.legend(loc="upper center", fontsize=8, framealpha=0.9)
    return fig
