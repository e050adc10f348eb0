r"""第 1 章「暗黙的生成モデル」の実験: 円周上の 8 個のモードの混合での GAN の学習と、1 次元の最適識別器。

- ``gan_training``: GAN を学習し、チェックポイントごとのエネルギー距離とモード被覆、損失の履歴、
  いくつかのステップのサンプルを返す。距離は同じ分布からの 2 つのサンプル集合どうしの距離
  (ノイズの床) と比べて読む。
- ``optimal_discriminator_example``: 1 次元の格子上の密度 $p$, $q_\theta$ で
  $D^* = p / (p + q_\theta)$、$V(D^*, G)$、$\mathrm{JS}(p \| q_\theta)$ と、
  生成器の 2 つの損失のロジットについての勾配を計算する (乱数も学習も使わない)。
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gen_lib.core.experiment import experiment
from gen_lib.core.validation import InputError
from gen_lib.distributions.gaussian_mixture import isotropic_mixture, ring_of_gaussians
from gen_lib.generative.gan import (generator_loss, jensen_shannon, optimal_discriminator, optimal_value,
                                   train_gan, value_function)
from gen_lib.metrics.mode_coverage import mode_coverage
from gen_lib.metrics.two_sample import noise_floor

__all__ = ["GanSettings", "gan_training", "OptimalDiscriminatorSettings", "optimal_discriminator_example"]


@dataclass(frozen=True)
class GanSettings:
    """円周上の 8 個のガウス分布 (``ring_of_gaussians``) で GAN を学習する設定。"""

    n_data: int = 4000  # N, 訓練データの数
    steps: int = 1500  # K, 学習のステップ数 (各ステップで識別器と生成器を 1 回ずつ更新)
    batch_size: int = 128  # B, ミニバッチの大きさ
    latent_dim: int = 2  # k, 潜在変数 z の次元
    hidden: int = 64  # 生成器・識別器の隠れ層の幅
    lr: float = 1e-3  # Adam の学習率 (β_1 = 0.5)
    checkpoint_every: int = 50  # エネルギー距離とモード被覆を測る間隔 (ステップ)
    n_eval: int = 500  # 評価に使う固定した z の数とデータの部分集合の大きさ
    snapshot_steps: tuple[int, ...] = (0, 200, 500, 1500)  # サンプルを残すステップ (チェックポイントのどれか)
    n_shown_data: int = 1000  # 図に描くデータの点数
    floor_pairs: int = 10  # ノイズの床を測る厳密なサンプル集合の組の数
    seed: int = 0  # データ (seed)、学習 (seed)、ノイズの床 (seed + 1) のシード


@experiment(GanSettings)
def gan_training(settings: GanSettings) -> dict:
    r"""GAN を学習し、学習の経過を返す。

    戻り値: ``data`` (図に描くデータ (n_shown_data, 2))、``checkpoints`` (測ったステップ)、
    ``distances`` (データとのエネルギー距離)、``covered`` (捉えたモードの数)、``high_quality`` (3σ 以内の割合)、
    ``mode_counts`` (各モードの高品質サンプルの数 (チェックポイント数, K))、``snapshot_steps`` と
    ``snapshots`` (そのステップのサンプル (S, n_eval, 2))、``discriminator_loss`` ($-V$)、
    ``generator_loss`` ($-\log D(G(z))$) (各 (K,))、``noise_floor`` (n_eval 点ずつの厳密なサンプルどうしの
    エネルギー距離 (floor_pairs,))。
    """
    bad = [step for step in settings.snapshot_steps if not 0 <= step <= settings.steps
           or (step % settings.checkpoint_every != 0 and step != settings.steps)]
    if bad:
        raise InputError(f"snapshot_steps must be checkpoints (multiples of checkpoint_every = "
                         f"{settings.checkpoint_every} up to steps = {settings.steps}, or steps), got {bad}")
    mixture = ring_of_gaussians()
    data = mixture.sample(settings.n_data, seed=settings.seed)
    _, history = train_gan(data, steps=settings.steps, batch_size=settings.batch_size,
                           latent_dim=settings.latent_dim, hidden=settings.hidden, lr=settings.lr,
                           checkpoint_every=settings.checkpoint_every, n_eval=settings.n_eval,
                           seed=settings.seed)
    coverage = [mode_coverage(mixture, fake) for fake in history.samples]
    return {
        "data": data[:settings.n_shown_data],
        "checkpoints": np.array(history.checkpoints),
        "distances": np.array(history.distances),
        "covered": np.array([c.covered for c in coverage]),
        "high_quality": np.array([c.high_quality for c in coverage]),
        "mode_counts": np.stack([c.counts for c in coverage]),
        "snapshot_steps": np.array(settings.snapshot_steps),
        "snapshots": np.stack([history.samples[history.checkpoints.index(step)]
                               for step in settings.snapshot_steps]),
        "discriminator_loss": history.discriminator_loss,
        "generator_loss": history.generator_loss,
        "noise_floor": noise_floor(mixture.sample, settings.n_eval, n_pairs=settings.floor_pairs,
                                   seed=settings.seed + 1),
    }


@dataclass(frozen=True)
class OptimalDiscriminatorSettings:
    r"""1 次元の例: $p = \tfrac12 \mathcal{N}(-1.5, 0.5^2) + \tfrac12 \mathcal{N}(1.5, 0.5^2)$,
    $q_\theta = \mathcal{N}(0.5, 1)$。"""

    data_means: tuple[float, ...] = (-1.5, 1.5)  # p の成分の平均 (混合比は等しい)
    data_std: float = 0.5  # p の成分の標準偏差
    model_mean: float = 0.5  # q_θ の平均
    model_std: float = 1.0  # q_θ の標準偏差
    x_limit: float = 7.0  # 格子の範囲 [-x_limit, x_limit]
    n_points: int = 2801  # 格子点の数 (間隔 Δx = 2 x_limit / (n_points - 1))
    logit_min: float = -8.0  # 勾配を測る識別器のロジット a の範囲の下端
    logit_max: float = 4.0  # 同じく上端
    n_logits: int = 241  # ロジットの格子点の数


@experiment(OptimalDiscriminatorSettings)
def optimal_discriminator_example(settings: OptimalDiscriminatorSettings) -> dict:
    r"""格子上の $p$, $q_\theta$, $D^*$ と $V(D^*, G)$, $-\log 4 + 2\,\mathrm{JS}$, JS、損失の勾配の大きさ。

    戻り値: ``x``, ``p``, ``q``, ``d_star`` (各 (n_points,))、``value`` ($V(D^*, G)$ のリーマン和)、
    ``optimal_value`` ($-\log 4 + 2\,\mathrm{JS}$)、``js``、``logits`` (n_logits,) と
    ``gradients`` ({"saturating": $|\partial_a \log(1 - \sigma(a))|$,
    "non_saturating": $|\partial_a (-\log \sigma(a))|$}、自動微分)。
    """
    x = np.linspace(-settings.x_limit, settings.x_limit, settings.n_points)
    dx = x[1] - x[0]
    p = np.exp(isotropic_mixture([[m] for m in settings.data_means], settings.data_std).log_prob(x[:, None]))
    q = np.exp(isotropic_mixture([[settings.model_mean]], settings.model_std).log_prob(x[:, None]))
    d_star = optimal_discriminator(p, q)

    logits = torch.linspace(settings.logit_min, settings.logit_max, settings.n_logits, dtype=torch.float64)
    gradients = {}
    for name, saturating in [("saturating", True), ("non_saturating", False)]:
        values = []
        for value in logits:  # 1 点ずつのロジット a で損失を作り、dL/da を自動微分で求める
            logit = value.clone().requires_grad_(True)
            generator_loss(logit[None], saturating=saturating).backward()
            values.append(abs(logit.grad.item()))
        gradients[name] = np.array(values)
    return {"x": x, "p": p, "q": q, "d_star": d_star, "value": value_function(p, q, d_star, dx),
            "optimal_value": optimal_value(p, q, dx), "js": jensen_shannon(p, q, dx),
            "logits": logits.numpy(), "gradients": gradients}
