r"""敵対的生成ネットワーク (GAN, Goodfellow et al. 2014): 暗黙的生成モデルの代表例。

生成器 $G_\theta$ は潜在変数 $z \sim p(z) = \mathcal{N}(0, I)$ をデータ空間へ写すサンプラーで、
その出力の密度 $q_\theta(x)$ は評価できない。識別器 $D(x) = \sigma(a(x))$ ($a$ はロジット) と

$$
V(D, G) = \mathbb{E}_{x \sim p}[\log D(x)] + \mathbb{E}_{z \sim p(z)}[\log(1 - D(G_\theta(z)))]
$$

をめぐるミニマックスゲーム $\min_G \max_D V(D, G)$ を解く。

前半は 2 次元データで小さな GAN を学習するコード、後半は 1 次元の格子上の密度で
最適識別器 $D^* = p / (p + q_\theta)$ と $V(D^*, G) = -\log 4 + 2\,\mathrm{JS}(p \| q_\theta)$ を
数値で確かめるための関数である。
"""

from __future__ import annotations

# --8<-- [start:imports]
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gen_lib.core.nn import minibatch, train
from gen_lib.core.validation import (InputError, as_array, as_points, as_tensor_points, check_bool,
                                     check_count, check_positive, make_generator)
from gen_lib.metrics.two_sample import energy_distance

# --8<-- [end:imports]

__all__ = ["Generator", "Discriminator", "discriminator_loss", "generator_loss", "GANHistory", "train_gan",
           "sample", "optimal_discriminator", "value_function", "jensen_shannon", "optimal_value"]


# --8<-- [start:networks]
def _mlp(n_in: int, n_hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(),
                         nn.Linear(n_hidden, n_hidden), nn.ReLU(),
                         nn.Linear(n_hidden, n_out))


class Generator(nn.Module):
    r"""生成器 $x = G_\theta(z)$ (2 層の MLP)。

    $z \in \mathbb{R}^{k}$ → $x \in \mathbb{R}^d$。
    """

    def __init__(self, latent_dim: int = 2, data_dim: int = 2,
                 hidden: int = 64):
        super().__init__()
        self.latent_dim = check_count(latent_dim, name="latent_dim")
        self.data_dim = check_count(data_dim, name="data_dim")
        hidden = check_count(hidden, name="hidden")
        self.net = _mlp(self.latent_dim, hidden, self.data_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # 形と有限性を確かめ、GAN の学習の dtype (float32) にそろえる
        return self.net(as_tensor_points(z, name="z", dim=self.latent_dim).to(torch.float32))


class Discriminator(nn.Module):
    r"""識別器のロジット $a(x)$。

    $D(x) = \sigma(a(x))$ は「x が本物のデータである確率」。
    """

    def __init__(self, data_dim: int = 2, hidden: int = 64):
        super().__init__()
        self.data_dim = check_count(data_dim, name="data_dim")
        self.net = _mlp(self.data_dim, check_count(hidden, name="hidden"), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(as_tensor_points(x, name="x", dim=self.data_dim).to(torch.float32))[:, 0]
# --8<-- [end:networks]


# --8<-- [start:losses]
def _check_logits(logits, name: str) -> torch.Tensor:
    """ロジットは形 (N,) (N >= 1) の有限な浮動小数点テンソル。"""
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise InputError(f"{name} must be a floating-point torch.Tensor, "
                         f"got {type(logits).__name__}")
    if logits.ndim != 1 or logits.shape[0] < 1:
        raise InputError(f"{name} must have shape (N,) with N >= 1, "
                         f"got {tuple(logits.shape)}")
    if not torch.isfinite(logits).all():
        raise InputError(f"{name} must be finite, got "
                         f"{int((~torch.isfinite(logits)).sum())} "
                         f"non-finite value(s)")
    return logits


def discriminator_loss(real_logits: torch.Tensor,
                       fake_logits: torch.Tensor) -> torch.Tensor:
    r"""識別器の損失 $-V$ のミニバッチ推定。

    $-\log\sigma(a(x)) - \log(1 - \sigma(a(G(z))))$ の平均。ロジットのまま
    BCE を使うと $\log\sigma(a) = -\mathrm{softplus}(-a)$ が安定に計算される。
    """
    real_logits = _check_logits(real_logits, "real_logits")
    fake_logits = _check_logits(fake_logits, "fake_logits")
    real = F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(
        fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss(fake_logits: torch.Tensor, *,
                   saturating: bool = False) -> torch.Tensor:
    r"""生成器の損失。

    - 非飽和 (既定): $-\log D(G(z)) = \mathrm{softplus}(-a)$。$D \to 0$ でも勾配が残る。
    - 飽和 (ミニマックスそのもの): $\log(1 - D(G(z))) = -\mathrm{softplus}(a)$。
      $a \to -\infty$ (識別器に見破られている) で勾配 $-\sigma(a)$ が 0 に消える。
    """
    fake_logits = _check_logits(fake_logits, "fake_logits")
    if check_bool(saturating, name="saturating"):
        return -F.softplus(fake_logits).mean()
    return F.binary_cross_entropy_with_logits(
        fake_logits, torch.ones_like(fake_logits))
# --8<-- [end:losses]


# --8<-- [start:train]
@dataclass
class GANHistory:
    """学習の記録。

    損失は各ステップ、距離とサンプルはチェックポイントごと (ステップ 0 = 学習前を含む)。
    """

    discriminator_loss: np.ndarray  # (steps,)
    generator_loss: np.ndarray  # (steps,)
    # 記録したステップ
    checkpoints: list[int] = field(default_factory=list)
    # データとのエネルギー距離
    distances: list[float] = field(default_factory=list)
    # 固定した z から作ったサンプル (n_eval, d)
    samples: list[np.ndarray] = field(default_factory=list)


def train_gan(data, *, steps: int = 2000, batch_size: int = 128,
              latent_dim: int = 2, hidden: int = 64, lr: float = 1e-3,
              checkpoint_every: int = 500, n_eval: int = 1000,
              seed=0) -> tuple[Generator, GANHistory]:
    r"""データセット data (N, d) で GAN を学習する。

    識別器と生成器を 1 ステップずつ交互に更新する。識別器: $\max_D V$
    (損失 $-V$)。生成器: 非飽和損失 $-\mathbb{E}_z \log D(G_\theta(z))$ を
    最小化。講義の学習ループ ``train`` に識別器を敵対者 (``adversary``) として
    渡すと、各ステップで先に識別器を、次に生成器を 1 回ずつ更新する。
    初期値・ミニバッチ・潜在変数はすべて seed から決まる (同じ seed なら同じ結果)。
    """
    points = as_points(data, name="data")
    x_data = torch.as_tensor(points, dtype=torch.float32)
    batch_size = check_count(batch_size, name="batch_size")
    checkpoint_every = check_count(checkpoint_every, name="checkpoint_every")
    n_eval = check_count(n_eval, name="n_eval", minimum=2)
    rng = make_generator(seed)
    n, d = x_data.shape

    # 重みの初期化にも同じ乱数系列から取ったシードを使う (大域の乱数状態は汚さない)
    init_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=rng))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = Generator(latent_dim, d, hidden)  # G_θ
        disc = Discriminator(d, hidden)  # D

    def latent(size: int) -> torch.Tensor:
        return torch.randn(size, latent_dim, generator=rng)  # z ~ N(0, I)

    def disc_loss(step: int) -> torch.Tensor:
        # 識別器の損失 -V: 本物 x ~ D (ミニバッチ) と偽物 G(z) を見分ける (G は動かさない)
        x_real = minibatch(x_data, batch_size, rng)
        x_fake = model(latent(batch_size)).detach()
        return discriminator_loss(disc(x_real), disc(x_fake))

    def model_loss(step: int) -> torch.Tensor:
        # 生成器の損失: 識別器に「本物」と判定させたい (非飽和損失)
        return generator_loss(disc(model(latent(batch_size))))

    # 評価用: 固定した潜在変数と、データの部分集合
    z_eval = latent(n_eval)
    subset = torch.randperm(n, generator=rng)[:n_eval]
    reference = x_data[subset].double().numpy()
    checkpoints, distances, samples = [], [], []

    # train が各更新の前と最後の更新の後に呼ぶ
    def checkpoint(step: int) -> None:
        if step % checkpoint_every != 0 and step != steps:
            return
        with torch.no_grad():
            fake = model(z_eval).double().numpy()
        checkpoints.append(step)
        distances.append(energy_distance(fake, reference))
        samples.append(fake)

    losses = train(model, model_loss, steps=steps, lr=lr, betas=(0.5, 0.999),
                   callback=checkpoint, adversary=(disc, disc_loss))
    model.eval()
    history = GANHistory(np.array(losses["adversary_loss"]),
                         np.array(losses["loss"]),
                         checkpoints, distances, samples)
    return model, history
# --8<-- [end:train]


# --8<-- [start:sample]
def sample(model: Generator, n: int, seed=0) -> np.ndarray:
    r"""$z \sim \mathcal{N}(0, I)$ を n 個引いて $x = G_\theta(z)$ を返す。

    1 回の順伝播。形 (n, d)。
    """
    if not isinstance(model, Generator):
        raise InputError(f"model must be a gen_lib.generative.gan.Generator, "
                         f"got {type(model).__name__}")
    n = check_count(n, name="n")
    z = torch.randn(n, model.latent_dim, generator=make_generator(seed))
    with torch.no_grad():
        x = model(z)
    return as_tensor_points(x.double(), name="generated samples").numpy()
# --8<-- [end:sample]


# ---- 1 次元の格子上での理論: 最適識別器と Jensen–Shannon ダイバージェンス ----

# --8<-- [start:grid_helpers]
def _grid_density(values, *, name: str, dx: float,
                  size: int | None = None) -> np.ndarray:
    r"""格子上の密度の値 (1 次元配列)。

    有限・非負・$\sum_i p_i\,\Delta x \approx 1$ を確かめる。
    """
    p = as_array(values, name=name, ndim=1)
    if p.size < 2:
        raise InputError(f"{name} must hold at least 2 grid values, "
                         f"got {p.size}")
    if size is not None and p.size != size:
        raise InputError(f"{name} must have the same length as p_x ({size}), "
                         f"got {p.size}")
    if np.any(p < 0):
        raise InputError(f"{name} must be a non-negative density, "
                         f"got minimum {p.min()}")
    mass = p.sum() * dx
    if not math.isclose(mass, 1.0, abs_tol=1e-3):
        raise InputError(f"{name} must integrate to 1 on the grid "
                         f"(sum * dx), got {mass:.6g}; "
                         f"normalise it or widen the grid")
    return p


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""$x \log y$。ただし x = 0 の点は 0 (y = 0 でも)。"""
    out = np.zeros(np.broadcast(x, y).shape)
    mask = x > 0
    with np.errstate(divide="ignore"):
        out[mask] = x[mask] * np.log(y[mask])
    return out
# --8<-- [end:grid_helpers]


# --8<-- [start:optimal_discriminator]
def optimal_discriminator(p_x, q_x) -> np.ndarray:
    r"""最適識別器 $D^*(x) = p(x) / (p(x) + q_\theta(x))$。

    生成器 G を固定したときの $\arg\max_D V$。p_x, q_x は同じ点での 2 つの
    密度の値 (同じ形の配列)。$p + q = 0$ の点では定義されない。
    """
    p = as_array(p_x, name="p_x")
    q = as_array(q_x, name="q_x")
    if p.shape != q.shape:
        raise InputError(f"p_x and q_x must have the same shape, "
                         f"got {p.shape} and {q.shape}")
    if np.any(p < 0) or np.any(q < 0):
        raise InputError(f"densities must be non-negative, "
                         f"got min p_x={p.min()}, min q_x={q.min()}")
    if np.any(p + q == 0):
        raise InputError("D* = p / (p + q) is undefined where "
                         "p_x + q_x == 0; restrict the grid to where "
                         "either density is positive")
    return p / (p + q)


def value_function(p_x, q_x, d_x, dx: float) -> float:
    r"""格子 (間隔 dx) 上の $V(D, G)$ (リーマン和)。

    $V = \int p \log D\,dx + \int q_\theta \log(1 - D)\,dx$。
    $0 \log 0 = 0$ とする (p = 0 の点で D = 0 でもよい)。
    """
    dx = check_positive(dx, name="dx")
    p = _grid_density(p_x, name="p_x", dx=dx)
    q = _grid_density(q_x, name="q_x", dx=dx, size=p.size)
    d = as_array(d_x, name="d_x", ndim=1)
    if d.size != p.size or np.any(d < 0) or np.any(d > 1):
        span = f" in [{d.min():.3g}, {d.max():.3g}]" if d.size else ""
        raise InputError(f"d_x must hold {p.size} values in [0, 1], "
                         f"got {d.size} values{span}")
    with np.errstate(divide="ignore"):
        total = np.sum(_xlogy(p, d)) + np.sum(_xlogy(q, 1.0 - d))
        return float(total * dx)


def jensen_shannon(p_x, q_x, dx: float) -> float:
    r"""Jensen–Shannon ダイバージェンス (格子上のリーマン和、自然対数)。

    $$
    \mathrm{JS}(p \| q) = \tfrac12 \mathrm{KL}(p \| m)
    + \tfrac12 \mathrm{KL}(q \| m), \quad m = \tfrac12 (p + q)
    $$

    $0 \le \mathrm{JS} \le \log 2$。0 は p = q、$\log 2$ は台が重ならないとき。
    """
    dx = check_positive(dx, name="dx")
    p = _grid_density(p_x, name="p_x", dx=dx)
    q = _grid_density(q_x, name="q_x", dx=dx, size=p.size)
    m = 0.5 * (p + q)
    # p > 0 なら m > 0 なので、0 log 0 = 0 の約束で割り算は安全
    kl_pm = np.sum(_xlogy(p, p) - _xlogy(p, m)) * dx
    kl_qm = np.sum(_xlogy(q, q) - _xlogy(q, m)) * dx
    return float(max(0.5 * kl_pm + 0.5 * kl_qm, 0.0))


def optimal_value(p_x, q_x, dx: float) -> float:
    r"""最適識別器での値 $V(D^*, G) = -\log 4 + 2\,\mathrm{JS}(p \| q_\theta)$。"""
    return -math.log(4.0) + 2.0 * jensen_shannon(p_x, q_x, dx)
# --8<-- [end:optimal_discriminator]
