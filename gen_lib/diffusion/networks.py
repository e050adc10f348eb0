r"""時刻で条件付けたネットワーク $f_\theta(x, t)$ と、その学習 (DDPM の ε 予測、フローマッチングの速度)。

ネットワークは講義で共通の MLP (``gen_lib.core.nn.make_mlp``) に、$x$ と時刻の特徴
$\gamma(t) = (\sin(2^j \pi t), \cos(2^j \pi t))_{j=0}^{J-1}$ を並べて入れる ($t \in [0, 1]$。離散時刻 $t$ は $t/T$ にする)。
学習も講義で共通の 1 つのループ ``gen_lib.core.nn.train`` を使う。
"""

from __future__ import annotations

import math

import torch

from gen_lib.core.nn import make_mlp, minibatch, train
from gen_lib.core.validation import (InputError, as_float_tensor, as_tensor_points, check_callable,
                                     check_count, check_instance, check_positive, make_generator)
from gen_lib.diffusion.ddpm import PREDICTIONS, q_sample, velocity_target
from gen_lib.diffusion.flow_matching import LinearPath, flow_matching_loss
from gen_lib.diffusion.schedule import NoiseSchedule, likelihood_timesteps, uniform_timesteps

__all__ = ["TimeConditionedMLP", "discrete_model", "train_ddpm", "train_flow_matching"]


# --8<-- [start:network]
class TimeConditionedMLP(torch.nn.Module):
    r"""$f_\theta(x, t) = \mathrm{MLP}([x, \gamma(t)])$。x は形 (N, d)、t は形 (N,) の $[0, 1]$ の実数。"""

    def __init__(self, dim: int, *, hidden: int = 128, n_hidden_layers: int = 3, n_frequencies: int = 6,
                 seed=0):
        super().__init__()
        self.dim = check_count(dim, name="dim")
        self.n_frequencies = check_count(n_frequencies, name="n_frequencies")
        self.mlp = make_mlp(dim + 2 * n_frequencies, dim, hidden=hidden, n_hidden_layers=n_hidden_layers, seed=seed)

    def time_features(self, t: torch.Tensor) -> torch.Tensor:
        r"""$\gamma(t)$: 周波数 $2^j \pi$ の正弦と余弦。形 (N, 2J)。"""
        t = as_float_tensor(t, name="t", ndim=1)
        if t.numel() < 1:
            raise InputError("t must hold at least one time, got shape (0,)")
        angles = math.pi * t[:, None] * 2.0 ** torch.arange(self.n_frequencies, dtype=torch.float64)
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x, t = as_tensor_points(x, name="x", dim=self.dim), as_float_tensor(t, name="t")
        if t.shape != (x.shape[0],):
            raise InputError(f"expected x of shape (N, {self.dim}) and t of shape (N,), "
                             f"got {tuple(x.shape)} and {tuple(t.shape)}")
        return self.mlp(torch.cat([x, self.time_features(t)], dim=1))
# --8<-- [end:network]


def discrete_model(network: TimeConditionedMLP, T: int):
    """離散時刻 $t \\in \\{1, …, T\\}$ で呼べる形 ``model(x, t)`` にする (ネットワークには $t/T$ を渡す)。"""
    check_callable(network, name="network", signature="(x, t)")
    T = check_count(T, name="T")
    return lambda x, t: network(x, torch.as_tensor(t, dtype=torch.float64) / T)


# --8<-- [start:train_ddpm]
def train_ddpm(data, schedule: NoiseSchedule, *, steps: int, batch_size: int = 256, lr: float = 2e-3,
               hidden: int = 128, n_hidden_layers: int = 3, timesteps: str = "uniform",
               prediction: str = "epsilon", seed=0) -> tuple[TimeConditionedMLP, list[float]]:
    r"""DDPM の簡略化した損失 (Ho et al. 2020, 式 (14)) を下げる:

    $$
    L_{\mathrm{simple}}(\theta) = \mathbb{E}_{t, x_0, \varepsilon}
      \left\| \varepsilon - \varepsilon_\theta(\sqrt{\bar{\alpha}_t} x_0 + \sqrt{1 - \bar{\alpha}_t} \varepsilon, t) \right\|^2,
    \quad t \sim \mathrm{Uniform}\{1, \dots, T\}
    $$

    毎ステップ、データから batch_size 点を選び、時刻とノイズを引き直す。学習率は余弦で 0 まで下げる。
    ``timesteps="likelihood"`` なら $t$ を尤度の重みで引く (``likelihood_timesteps``):
    損失は連続時間の対数尤度の上界 (Song et al. 2021b) を下げる重み付きの ε の損失になる。
    ``prediction`` はネットワークに予測させる量 (``gen_lib.diffusion.ddpm`` の 3 通り)。目標 $\varepsilon$ を
    $x_0$ か $v = \sqrt{\bar{\alpha}_t}\, \varepsilon - \sqrt{1 - \bar{\alpha}_t}\, x_0$ に替えて同じ 2 乗誤差を下げる。
    """
    draw_timesteps = {"uniform": lambda n, g: uniform_timesteps(n, schedule.T, g),
                      "likelihood": lambda n, g: likelihood_timesteps(n, schedule, g)}
    if timesteps not in draw_timesteps:
        raise InputError(f"timesteps must be 'uniform' or 'likelihood', got {timesteps!r}")
    if prediction not in PREDICTIONS:
        raise InputError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
    x_all = as_tensor_points(data, name="data")
    steps, batch_size = check_count(steps, name="steps"), check_count(batch_size, name="batch_size")
    lr = check_positive(lr, name="lr")
    generator = make_generator(seed)
    check_instance(schedule, NoiseSchedule, name="schedule")
    network = TimeConditionedMLP(x_all.shape[1], hidden=hidden, n_hidden_layers=n_hidden_layers, seed=seed)
    model = discrete_model(network, schedule.T)

    def loss_fn(step: int) -> torch.Tensor:
        x0 = minibatch(x_all, batch_size, generator)  # (B, d)
        t = draw_timesteps[timesteps](batch_size, generator)  # (B,)
        noise = torch.randn(x0.shape, generator=generator, dtype=torch.float64)
        target = (noise if prediction == "epsilon" else x0 if prediction == "x0"
                  else velocity_target(schedule, x0, t, noise))
        return ((model(q_sample(schedule, x0, t, noise), t) - target) ** 2).sum(dim=1).mean()

    history = train(network, loss_fn, steps=steps, lr=lr, cosine_decay=True)["loss"]
    return network.eval(), history
# --8<-- [end:train_ddpm]


# --8<-- [start:train_flow_matching]
def train_flow_matching(data, *, steps: int, batch_size: int = 256, lr: float = 2e-3, hidden: int = 128,
                        n_hidden_layers: int = 3, seed=0) -> tuple[TimeConditionedMLP, list[float]]:
    r"""条件付きフローマッチングの損失 $\mathbb{E}\|v_\theta(x_t, t) - (\varepsilon - x_0)\|^2$ を下げる
    ($t \sim \mathrm{Uniform}[0, 1]$)。ネットワーク・予算・最適化は ``train_ddpm`` と同じにそろえる。"""
    x_all = as_tensor_points(data, name="data")
    steps, batch_size = check_count(steps, name="steps"), check_count(batch_size, name="batch_size")
    lr = check_positive(lr, name="lr")
    generator = make_generator(seed)
    network = TimeConditionedMLP(x_all.shape[1], hidden=hidden, n_hidden_layers=n_hidden_layers, seed=seed)
    path = LinearPath()

    def loss_fn(step: int) -> torch.Tensor:
        x0 = minibatch(x_all, batch_size, generator)
        t = torch.rand(batch_size, generator=generator, dtype=torch.float64)
        noise = torch.randn(x0.shape, generator=generator, dtype=torch.float64)
        return flow_matching_loss(network, x0, t, noise, path)

    history = train(network, loss_fn, steps=steps, lr=lr, cosine_decay=True)["loss"]
    return network.eval(), history
# --8<-- [end:train_flow_matching]
