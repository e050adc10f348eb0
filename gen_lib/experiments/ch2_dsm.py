r"""第 2 章「デノイジングスコアマッチング」の実験: DSM − ESM が定数であること、Tweedie の公式、学習したスコア。

データは円周上に 8 個のモードが並ぶガウス混合 (``ring_of_gaussians``)。ノイズを加えた分布 $p_\sigma$ もガウス混合なので
(``mixture.noised(1.0, σ)``、共分散 $\Sigma_k + \sigma^2 I$)、$\nabla \log p_\sigma$ と事後平均
$\mathbb{E}[x \mid \tilde{x}]$ が厳密に分かる。
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gen_lib.core.experiment import experiment
from gen_lib.core.grid import make_grid
from gen_lib.core.nn import make_mlp, minibatch, single_thread, train
from gen_lib.core.types import ScoreModel
from gen_lib.core.validation import (InputError, check_callable, check_instance, check_positive,
                                     make_generator, make_rng)
from gen_lib.distributions.gaussian_mixture import GaussianMixture, ring_of_gaussians
from gen_lib.experiments.ch2_score_matching import random_score_models, score_field
from gen_lib.metrics.score_error import relative_score_error
from gen_lib.score_based.denoising_score_matching import (denoising_score_matching_loss,
                                                          mixture_posterior_mean, tweedie_denoise)
from gen_lib.score_based.score_matching import evaluate_score

__all__ = ["DsmSettings", "eval_pairs", "dsm_and_esm", "dsm_constant", "training", "trained_dsm_model",
           "identity_across_models", "tweedie_denoising"]


@dataclass(frozen=True)
class DsmSettings:
    """1 つの σ の DSM で円周上の 8 個のモードの混合のスコアを学習し、恒等式・Tweedie の公式・スコア場を調べる設定。"""

    sigma: float = 0.5  # σ, 加えるノイズの大きさ
    n_data: int = 2000  # N, 固定したデータ D の大きさ
    hidden: int = 32  # MLP の隠れ層のユニット数 (2 層)
    steps: int = 1000  # 学習のステップ数
    batch_size: int = 512  # ミニバッチの大きさ
    lr: float = 5e-3  # Adam の学習率
    eval_every: int = 50  # DSM と ESM を測る間隔 (ステップ)
    n_eval: int = 10000  # 評価用に固定した組 (x, x̃) の数
    quadrature_box: float = 5.0  # C_σ の数値積分の箱 [-b, b]^2
    quadrature_points: int = 121  # その格子の 1 軸の点数
    n_error: int = 20000  # 相対誤差を測る x̃ ~ p_σ の数
    tweedie_sigmas: tuple[float, ...] = (0.3, 1.0)  # 厳密なスコアで Tweedie の公式を試す σ
    n_denoised: int = 120  # Tweedie の公式で雑音を除いてみせる点の数
    lim: float = 4.0  # スコア場を描く範囲 [-lim, lim]^2
    n_arrows: int = 17  # 矢印の格子の 1 軸の点数
    n_fine: int = 121  # 誤差の地図の格子の 1 軸の点数
    seed: int = 0  # 乱数のシード (データ・初期値は seed、ほかはここからずらして作る)


def eval_pairs(mixture: GaussianMixture, n: int, sigma: float, seed) -> tuple[torch.Tensor, ...]:
    r"""評価用に固定した組 $(x, \tilde{x} = x + \sigma\varepsilon)$。

    戻り値は $\tilde{x}$、DSM の目標 $-\varepsilon/\sigma$、$\nabla \log p_\sigma(\tilde{x})$ (どれも (n, d) のテンソル)。
    """
    check_instance(mixture, GaussianMixture, name="mixture")
    sigma = check_positive(sigma, name="sigma")
    rng = make_rng(seed)
    x = mixture.sample(n, seed=rng)
    eps = rng.standard_normal(x.shape)
    x_noisy = x + sigma * eps
    return (torch.as_tensor(x_noisy), torch.as_tensor(-eps / sigma),
            torch.as_tensor(mixture.noised(1.0, sigma).score(x_noisy)))


def dsm_and_esm(score_model: ScoreModel, pairs) -> tuple[float, float]:
    r"""固定した組で DSM と $p_\sigma$ の ESM を計算する (どちらも同じ $\tilde{x}$ を使う)。"""
    check_callable(score_model, name="score_model", signature="(x)")
    if not (isinstance(pairs, tuple) and len(pairs) == 3 and all(isinstance(p, torch.Tensor) for p in pairs)):
        raise InputError(f"pairs must be the 3 tensors returned by eval_pairs, got {type(pairs).__name__}")
    x_noisy, dsm_target, exact_score = pairs
    with torch.no_grad():
        s = evaluate_score(score_model, x_noisy)
        dsm = 0.5 * ((s - dsm_target) ** 2).sum(dim=1).mean().item()
        esm = 0.5 * ((s - exact_score) ** 2).sum(dim=1).mean().item()
    return dsm, esm


def dsm_constant(mixture: GaussianMixture, sigma: float, box: float, n_points: int) -> float:
    r"""DSM − ESM の定数 $C_\sigma = \tfrac12 (d/\sigma^2 - \mathbb{E}_{p_\sigma}\|\nabla \log p_\sigma\|^2)$。

    期待値は箱 $[-b, b]^d$ の格子の台形則で計算する。
    """
    check_instance(mixture, GaussianMixture, name="mixture")
    sigma, box = check_positive(sigma, name="sigma"), check_positive(box, name="box")
    noisy = mixture.noised(1.0, sigma)
    grid = make_grid([-box] * mixture.dim, [box] * mixture.dim, n_points)
    weights = np.exp(noisy.log_prob(grid.points) + grid.log_weights)
    return 0.5 * (mixture.dim / sigma**2 - float(weights @ np.sum(noisy.score(grid.points) ** 2, axis=1)))


@experiment(DsmSettings)
def training(settings: DsmSettings) -> dict:
    r"""固定したデータ $D$ で 1 つの $\sigma$ の DSM 損失を Adam で下げる。

    毎ステップ $D$ から batch_size 点を選び、ノイズを引き直す。途中で固定した評価用の組
    $(x, \tilde{x})$ の上で DSM と $p_\sigma$ の ESM を記録する。

    戻り値: ``steps``, ``dsm``, ``esm`` (記録)、定数 ``constant`` $C_\sigma$、$\nabla \log p_\sigma$ との相対誤差
    ``relative`` (n_error 点の $\tilde{x} \sim p_\sigma$ で測る)、$p_\sigma$ に対するスコア場 (``score_field``)、
    ``state_dict``。
    """
    mixture, sigma = ring_of_gaussians(), settings.sigma
    noisy = mixture.noised(1.0, sigma)
    data = torch.as_tensor(mixture.sample(settings.n_data, seed=settings.seed))
    pairs = eval_pairs(mixture, settings.n_eval, sigma, settings.seed + 1)
    model = make_mlp(2, 2, hidden=settings.hidden, seed=settings.seed)
    generator = make_generator(settings.seed + 2)
    history = {"steps": [], "dsm": [], "esm": []}

    def record(step: int) -> None:
        if step % settings.eval_every == 0 or step == settings.steps:
            for key, value in zip(history, (step, *dsm_and_esm(model, pairs))):
                history[key].append(value)

    def loss_fn(step: int) -> torch.Tensor:
        return denoising_score_matching_loss(model, minibatch(data, settings.batch_size, generator), sigma,
                                             generator=generator)

    train(model, loss_fn, steps=settings.steps, lr=settings.lr, callback=record)
    x = noisy.sample(settings.n_error, seed=settings.seed + 7)
    with torch.no_grad(), single_thread():
        learned = evaluate_score(model, torch.as_tensor(x)).numpy()
    return {**{key: np.array(value) for key, value in history.items()},
            "constant": dsm_constant(mixture, sigma, settings.quadrature_box, settings.quadrature_points),
            "relative": relative_score_error(learned, noisy.score(x)),
            **score_field(model, noisy, settings.lim, settings.n_arrows, settings.n_fine),
            "state_dict": model.state_dict()}


def trained_dsm_model(settings: DsmSettings = DsmSettings()) -> torch.nn.Sequential:
    """``training(settings)`` で学習した MLP (キャッシュがあれば学習しない)。"""
    check_instance(settings, DsmSettings, name="settings")
    model = make_mlp(2, 2, hidden=settings.hidden, seed=settings.seed)
    model.load_state_dict(training(settings)["state_dict"])
    return model


@experiment(DsmSettings)
def identity_across_models(settings: DsmSettings) -> dict:
    r"""いろいろなモデルと学習後のモデルの (DSM, $p_\sigma$ の ESM)。同じ評価用の組 (``eval_pairs``) を使う。

    戻り値: ``models`` (モデルの数, 2)、学習後のモデルの ``trained`` (2,) (列はどちらも DSM, ESM)。
    """
    pairs = eval_pairs(ring_of_gaussians(), settings.n_eval, settings.sigma, settings.seed + 5)
    with single_thread():
        values = [dsm_and_esm(model, pairs) for model in random_score_models(settings.seed)]
        trained = dsm_and_esm(trained_dsm_model(settings), pairs)
    return {"models": np.array(values), "trained": np.array(trained)}


@experiment(DsmSettings)
def tweedie_denoising(settings: DsmSettings) -> dict:
    r"""Tweedie の公式 $\tilde{x} + \sigma^2 \nabla \log p_\sigma(\tilde{x})$ で雑音を除いた点と、厳密な事後平均との差。

    戻り値: ``clean`` (背景に描くデータ)、``panels`` (厳密なスコアの tweedie_sigmas、学習したスコアの順) の各要素が
    ``{"sigma", "learned", "noisy", "denoised", "max_gap", "rms_gap"}``
    (gap は事後平均 ``mixture_posterior_mean`` との差の最大値と 2 乗平均平方根)。
    """
    mixture = ring_of_gaussians()
    cases = [(sigma, False, settings.seed + 3) for sigma in settings.tweedie_sigmas]
    cases.append((settings.sigma, True, settings.seed + 4))
    model = trained_dsm_model(settings)
    panels = []
    for sigma, learned, seed in cases:
        rng = make_rng(seed)
        x = mixture.sample(settings.n_denoised, seed=rng)
        x_noisy = x + sigma * rng.standard_normal(x.shape)
        if learned:
            with torch.no_grad(), single_thread():
                score = evaluate_score(model, torch.as_tensor(x_noisy)).numpy()
        else:
            score = mixture.noised(1.0, sigma).score(x_noisy)
        denoised = tweedie_denoise(x_noisy, score, sigma)
        gap = denoised - mixture_posterior_mean(mixture, x_noisy, sigma)
        panels.append({"sigma": sigma, "learned": learned, "noisy": x_noisy, "denoised": denoised,
                       "max_gap": float(np.max(np.abs(gap))),
                       "rms_gap": float(np.sqrt(np.mean(np.sum(gap**2, axis=1))))})
    return {"clean": mixture.sample(300, seed=settings.seed + 11), "panels": panels}
