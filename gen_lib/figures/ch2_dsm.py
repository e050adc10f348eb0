r"""第 2 章「デノイジングスコアマッチング」の図: DSM と ESM の差が定数であること、Tweedie の公式、学習したスコア。

データは円周上の 8 峰のガウス混合 (``ring_of_gaussians``)。ノイズを加えた分布 $p_\sigma$ もガウス混合なので
(共分散 $\Sigma_k + \sigma^2 I$)、$\nabla \log p_\sigma$ と事後平均 $\mathbb{E}[x \mid \tilde{x}]$ が厳密に分かる。
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from gen_lib.score_based.denoising_score_matching import (denoising_score_matching_loss, mixture_posterior_mean,
                                              tweedie_denoise)
from gen_lib.core.grid import make_grid
from gen_lib.figures import figure
from gen_lib.figures.ch2_score_matching import random_score_models
from gen_lib.distributions.gaussian_mixture import GaussianMixture, ring_of_gaussians
from gen_lib.core.nn import make_mlp, single_thread
from gen_lib.score_based.ncsn import perturbed_mixture
from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, draw_score_panel, new_figure
from gen_lib.core.grid import plane_points
from gen_lib.score_based.score_matching import evaluate_score
from gen_lib.core.cache import cached
from gen_lib.core.validation import make_rng

SIGMA = 0.5
DSM_SETTINGS = {"sigma": SIGMA, "n_data": 2000, "hidden": 32, "steps": 1000, "batch": 512, "lr": 5e-3,
                "eval_every": 50, "n_eval": 10000}


def fisher_term_by_quadrature(mixture: GaussianMixture, box: float = 5.0, n: int = 121) -> float:
    r"""$\mathbb{E}_{p}\|\nabla \log p\|^2$ を格子上の台形則で計算する (2 次元)。"""
    grid = make_grid([-box, -box], [box, box], n)
    weights = np.exp(mixture.log_prob(grid.points) + grid.log_weights)
    return float(weights @ np.sum(mixture.score(grid.points) ** 2, axis=1))


def dsm_constant(mixture: GaussianMixture, sigma: float) -> float:
    r"""$C_\sigma = \tfrac12 \big(d/\sigma^2 - \mathbb{E}_{p_\sigma}\|\nabla \log p_\sigma\|^2\big)$ (DSM − ESM)。"""
    return 0.5 * (mixture.dim / sigma**2 - fisher_term_by_quadrature(perturbed_mixture(mixture, sigma)))


def _eval_pairs(mixture: GaussianMixture, n: int, sigma: float, seed: int):
    r"""評価用に固定した組 $(x, \tilde{x} = x + \sigma\varepsilon)$ と $\nabla \log p_\sigma(\tilde{x})$。"""
    rng = make_rng(seed)
    x = mixture.sample(n, seed=rng)
    eps = rng.standard_normal(x.shape)
    x_noisy = x + sigma * eps
    return (torch.as_tensor(x_noisy), torch.as_tensor(-eps / sigma),
            torch.as_tensor(perturbed_mixture(mixture, sigma).score(x_noisy)))


def _dsm_and_esm(score_fn, pairs) -> tuple[float, float]:
    r"""固定した組で DSM と ESM($p_\sigma$) を計算する (どちらも同じ $\tilde{x}$ を使う)。"""
    x_noisy, dsm_target, exact_score = pairs
    with torch.no_grad():
        s = evaluate_score(score_fn, x_noisy)
        dsm = 0.5 * ((s - dsm_target) ** 2).sum(dim=1).mean().item()
        esm = 0.5 * ((s - exact_score) ** 2).sum(dim=1).mean().item()
    return dsm, esm


def train_dsm_model(seed: int = 0, settings: dict = DSM_SETTINGS) -> dict:
    r"""固定したデータ $D$ (ring_of_gaussians から n_data 点) で、1 つの $\sigma$ の DSM 損失を Adam で下げる。

    毎ステップ $D$ から batch 点を選び、ノイズを引き直す。途中で固定した評価用の組
    $(x, \tilde{x})$ の上で DSM と ESM($p_\sigma$) を記録する (キャッシュ付き)。
    """

    def train() -> dict:
        mixture = ring_of_gaussians()
        sigma = settings["sigma"]
        data = torch.as_tensor(mixture.sample(settings["n_data"], seed=seed))
        pairs = _eval_pairs(mixture, settings["n_eval"], sigma, seed + 1)
        model = make_mlp(2, 2, hidden=settings["hidden"], seed=seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"])
        generator = torch.Generator().manual_seed(seed + 2)
        steps, dsm_hist, esm_hist = [], [], []
        with single_thread():
            for step in range(settings["steps"] + 1):
                if step % settings["eval_every"] == 0:
                    dsm, esm = _dsm_and_esm(model, pairs)
                    steps.append(step)
                    dsm_hist.append(dsm)
                    esm_hist.append(esm)
                if step == settings["steps"]:
                    break
                batch = data[torch.randint(len(data), (settings["batch"],), generator=generator)]
                loss = denoising_score_matching_loss(model, batch, sigma, generator=generator)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return {"state_dict": model.state_dict(), "steps": steps, "dsm": dsm_hist, "esm": esm_hist}

    result = cached("ch2-dsm", {**settings, "seed": seed}, train, depends_on=__name__)
    model = make_mlp(2, 2, hidden=settings["hidden"], seed=seed)
    model.load_state_dict(result["state_dict"])
    return {**result, "model": model}


def relative_score_error(score_fn, mixture: GaussianMixture, sigma: float, n: int = 20000, seed: int = 7) -> float:
    r"""$\mathbb{E}_{p_\sigma}\|s_\theta - \nabla \log p_\sigma\|^2 / \mathbb{E}_{p_\sigma}\|\nabla \log p_\sigma\|^2$ (モンテカルロ)。"""
    noisy = perturbed_mixture(mixture, sigma)
    x = noisy.sample(n, seed=seed)
    with torch.no_grad():
        s = evaluate_score(score_fn, torch.as_tensor(x)).numpy()
    exact = noisy.score(x)
    return float(np.sum((s - exact) ** 2) / np.sum(exact**2))


@figure("ch2-dsm-identity.svg")
def dsm_esm_identity(seed: int = 0) -> Figure:
    r"""左: DSM で学習する間の DSM と ESM($p_\sigma$)。右: いろいろなモデルで ESM($p_\sigma$) 対 DSM。"""
    mixture = ring_of_gaussians()
    run = train_dsm_model(seed)
    constant = dsm_constant(mixture, SIGMA)
    steps, dsm, esm = np.array(run["steps"]), np.array(run["dsm"]), np.array(run["esm"])

    fig, (ax_l, ax_r) = new_figure(1, 2, width=10.5, height=4.0)
    ax_l.plot(steps, dsm, color=MODEL_COLOR, label=r"DSM 損失 (データとノイズだけで計算できる)")
    ax_l.plot(steps, esm, color=DATA_COLOR, label=r"$p_\sigma$ の ESM (真のスコアが必要)")
    ax_l.plot(steps, dsm - esm, color=ACCENT_COLOR, linewidth=2.5, label="差 DSM − ESM")
    ax_l.axhline(constant, color="0.2", linestyle=":", label=rf"$C_\sigma = {constant:.3f}$")
    ax_l.set(xlabel="DSM で学習したステップ数",
             ylabel=f"評価用の {DSM_SETTINGS['n_eval']} 組での値",
             title=rf"$\sigma = {SIGMA}$: 差はほぼ一定 (ずれは最大 {np.max(np.abs(dsm - esm - constant)):.3f})")
    ax_l.legend(fontsize=8, loc="upper right")

    pairs = _eval_pairs(mixture, DSM_SETTINGS["n_eval"], SIGMA, seed + 5)
    values = np.array([_dsm_and_esm(model, pairs) for model in random_score_models(seed)])
    trained = _dsm_and_esm(run["model"], pairs)
    line = np.array([0.0, values[:, 1].max() + 1.0])
    ax_r.plot(line, line + constant, color="0.2", linestyle=":", label=r"DSM $=$ ESM $+ C_\sigma$")
    ax_r.scatter(values[:, 1], values[:, 0], color=DATA_COLOR, zorder=3, label="乱数初期化の MLP・線形モデル")
    ax_r.scatter([trained[1]], [trained[0]], color=ACCENT_COLOR, marker="*", s=140, zorder=4,
                 label="左の学習後のモデル")
    ax_r.set(xlabel=r"$p_\sigma$ の ESM", ylabel="DSM 損失",
             title=f"{DSM_SETTINGS['n_eval']} 組のモンテカルロ推定 (同じ組を使う)")
    ax_r.legend(fontsize=8, loc="upper left")
    return fig


def _denoising_panel(ax, mixture, x_noisy, denoised, title):
    clean = mixture.sample(300, seed=11)
    ax.scatter(clean[:, 0], clean[:, 1], s=3, color=DATA_COLOR, alpha=0.35, label="データ $x$")
    ax.scatter(x_noisy[:, 0], x_noisy[:, 1], s=8, color="0.55", label=r"ノイズ入り $\tilde{x}$")
    ax.quiver(x_noisy[:, 0], x_noisy[:, 1], *(denoised - x_noisy).T, angles="xy", scale_units="xy", scale=1.0,
              width=0.003, color="0.35", alpha=0.8)
    ax.scatter(denoised[:, 0], denoised[:, 1], s=10, color=MODEL_COLOR, zorder=3,
               label=r"$\tilde{x} + \sigma^2 \nabla \log p_\sigma(\tilde{x})$")
    ax.set(xlim=(-4, 4), ylim=(-4, 4), aspect="equal", xlabel="$x_1$", title=title)
    ax.title.set_fontsize(9.5)


@figure("ch2-dsm-tweedie.svg")
def tweedie_denoising(seed: int = 0) -> Figure:
    r"""Tweedie の公式で雑音を除く: 厳密なスコア ($\sigma = 0.3, 1.0$) と DSM で学習したスコア ($\sigma = 0.5$)。"""
    mixture = ring_of_gaussians()
    fig, axes = new_figure(1, 3, width=12.5, height=4.6)
    for ax, sigma in zip(axes[:2], (0.3, 1.0)):
        rng = make_rng(seed + 3)
        x_noisy = mixture.sample(120, seed=rng) + sigma * rng.standard_normal((120, 2))
        denoised = tweedie_denoise(x_noisy, perturbed_mixture(mixture, sigma).score(x_noisy), sigma)
        gap = np.max(np.abs(denoised - mixture_posterior_mean(mixture, x_noisy, sigma)))
        _denoising_panel(ax, mixture, x_noisy, denoised,
                         rf"厳密なスコア, $\sigma = {sigma}$" + "\n" + rf"事後平均との差は最大 {gap:.1e}")
    model = train_dsm_model(seed)["model"]
    rng = make_rng(seed + 4)
    x_noisy = mixture.sample(120, seed=rng) + SIGMA * rng.standard_normal((120, 2))
    with torch.no_grad():
        learned = evaluate_score(model, torch.as_tensor(x_noisy)).numpy()
    denoised = tweedie_denoise(x_noisy, learned, SIGMA)
    gap = np.sqrt(np.mean(np.sum((denoised - mixture_posterior_mean(mixture, x_noisy, SIGMA)) ** 2, axis=1)))
    _denoising_panel(axes[2], mixture, x_noisy, denoised,
                     rf"DSM で学習した $s_\theta$, $\sigma = {SIGMA}$" + "\n" + rf"事後平均との差 (二乗平均平方根) {gap:.3f}")
    axes[0].set_ylabel("$x_2$")
    axes[0].legend(fontsize=8, loc="lower left", framealpha=0.9)
    fig.suptitle(r"Tweedie の公式: 赤い点 $E[x \mid \tilde{x}]$ はノイズ入りの点 (灰色) を峰の方へ引き戻す", fontsize=10)
    return fig


@figure("ch2-dsm-field.svg")
def dsm_score_field(seed: int = 0) -> Figure:
    r"""$\sigma = 0.5$ の厳密なスコア $\nabla \log p_\sigma$ と、DSM で学習した $s_\theta$。"""
    mixture = ring_of_gaussians()
    noisy = perturbed_mixture(mixture, SIGMA)
    model = train_dsm_model(seed)["model"]
    relative = relative_score_error(model, mixture, SIGMA)
    lim, cap = 4.0, 4.0
    xs = np.linspace(-lim, lim, 17)
    arrows_at = plane_points(xs)
    fine = np.linspace(-lim, lim, 121)
    fine_points = plane_points(fine)
    log_p = noisy.log_prob(fine_points).reshape(fine.size, fine.size)
    with torch.no_grad():
        learned_arrows = evaluate_score(model, torch.as_tensor(arrows_at)).numpy()
        learned_fine = evaluate_score(model, torch.as_tensor(fine_points)).numpy()
    error = np.linalg.norm(learned_fine - noisy.score(fine_points), axis=1).reshape(fine.size, fine.size)

    fig, axes = new_figure(1, 2, width=9.5, height=4.6)
    panels = [(r"厳密なスコア $\nabla_{\tilde{x}} \log p_\sigma(\tilde{x})$", noisy.score(arrows_at), None),
              (r"DSM で学習した $s_\theta(\tilde{x})$" + "\n"
               + rf"相対誤差 $E_{{p_\sigma}}\|s_\theta - \nabla \log p_\sigma\|^2 / E_{{p_\sigma}}\|\nabla \log p_\sigma\|^2 = {relative:.3f}$",
               learned_arrows, error)]
    image = None
    for ax, (title, arrows, err) in zip(axes, panels):
        if err is None:
            ax.imshow(np.exp(log_p), origin="lower", extent=(-lim, lim, -lim, lim), cmap="Blues",
                      interpolation="none", alpha=0.5)
        panel_image = draw_score_panel(ax, arrows_at, arrows, lim=lim, fine=fine, log_p=log_p,
                                       density_fractions=(0.1,), error=err, cap=cap, title=title,
                                       xlabel=r"$\tilde{x}_1$")
        image = panel_image if panel_image is not None else image
    axes[0].set_ylabel(r"$\tilde{x}_2$")
    fig.colorbar(image, ax=axes[1], label=r"誤差 $\log_{10}\|s_\theta - \nabla \log p_\sigma\|$", shrink=0.85)
    fig.suptitle(rf"$\sigma = {SIGMA}$: 左の背景は $p_\sigma$、右の背景は誤差 (薄いほど正確)、青線は $p_\sigma$ が最大値の 10% の等高線、"
                 "矢印の長さは 4 で切っている",
                 fontsize=10)
    return fig
