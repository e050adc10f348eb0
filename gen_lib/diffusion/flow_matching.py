r"""フローマッチング (Lipman et al. 2023; Liu et al. 2023; Albergo & Vanden-Eijnden 2023)。

データ $x_0 \sim p$ とノイズ $\varepsilon \sim \mathcal{N}(0, I)$ を直線で結ぶ確率パス

$$
x_t = (1 - t)\, x_0 + t\, \varepsilon, \qquad t \in [0, 1]
$$

を考える (拡散モデルと同じく $t = 0$ がデータ、$t = 1$ がノイズ)。1 組 $(x_0, \varepsilon)$ を固定した条件付きの
速度は $\frac{d x_t}{dt} = \varepsilon - x_0$ で、条件付きフローマッチングの損失

$$
\mathcal{L}_{\mathrm{CFM}}(\theta) = \mathbb{E}_{t, x_0, \varepsilon}
  \left\| v_\theta(x_t, t) - (\varepsilon - x_0) \right\|^2
$$

を最小にする $v_\theta$ は周辺の速度場 $u_t(x) = \mathbb{E}[\varepsilon - x_0 \mid x_t = x]$ になる。
$\frac{dx}{dt} = u_t(x)$ の ODE は $x_t$ の周辺分布を運ぶので、$t = 1$ のノイズから $t = 0$ へ解けば生成になる。
"""

from __future__ import annotations

# --8<-- [start:imports]
import torch

from gen_lib.core.types import TimeScore
from gen_lib.core.validation import (InputError, as_matching_batches, check_callable, check_finite_result,
                                     check_instance)
from gen_lib.diffusion.schedule import broadcast_to
from gen_lib.diffusion.sde import _check_time, exact_score
# --8<-- [end:imports]

__all__ = ["LinearPath", "flow_matching_loss", "exact_velocity"]


# --8<-- [start:path]
class LinearPath:
    r"""直線の確率パス $x_t = (1 - t) x_0 + t \varepsilon$。

    $x_t \mid x_0 \sim \mathcal{N}((1 - t) x_0, t^2 I)$、
    つまり $m(t) = 1 - t$, $s(t) = t$。
    """

    def marginal(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t = _check_time(t)
        return 1 - t, t

    def interpolate(self, x0, t, noise) -> torch.Tensor:
        r"""$x_t = (1 - t) x_0 + t \varepsilon$。"""
        x0, noise = as_matching_batches(x0=x0, noise=noise)
        t = broadcast_to(_check_time(t, x0), x0)
        return (1 - t) * x0 + t * noise

    @staticmethod
    def conditional_velocity(x0, noise) -> torch.Tensor:
        r"""条件付きの速度 $\frac{d x_t}{dt} = \varepsilon - x_0$。"""
        x0, noise = as_matching_batches(x0=x0, noise=noise)
        return noise - x0

    def velocity_from_score(self, x, t, score: torch.Tensor) -> torch.Tensor:
        r"""スコアで書いた速度 $u_t(x) = -(x + t \nabla_x \log p_t(x)) / (1 - t)$。

        Tweedie の公式 $\mathbb{E}[x_0 \mid x_t]
        = (x + t^2 \nabla \log p_t) / (1 - t)$ と
        $\mathbb{E}[\varepsilon \mid x_t] = -t \nabla \log p_t$ を
        $u = \mathbb{E}[\varepsilon \mid x_t] - \mathbb{E}[x_0 \mid x_t]$
        に入れる。$t < 1$ が要る。
        """
        x, score = as_matching_batches(x=x, score=score)
        t = _check_time(t, x)
        if bool((t >= 1).any()):
            raise InputError("velocity_from_score needs t < 1 "
                             "(the velocity is singular at t = 1)")
        t = broadcast_to(t, x)
        return -(x + t * score) / (1 - t)
# --8<-- [end:path]


# --8<-- [start:loss]
def flow_matching_loss(model, x0, t, noise,
                       path: "LinearPath | None" = None) -> torch.Tensor:
    r"""条件付きフローマッチングの損失 (サンプル平均)

    $\frac1N \sum_n \|v_\theta(x_t^n, t^n) - (\varepsilon^n - x_0^n)\|^2$。
    ``model(x, t)`` は速度 $v_\theta$ を返す。$t$ は形 (N,)、
    ノイズ $\varepsilon$ は x0 と同じ形。
    """
    check_callable(model, name="model", signature="(x, t)")
    path = LinearPath() if path is None else check_instance(path, LinearPath, name="path")
    x_t = path.interpolate(x0, t, noise)
    target = path.conditional_velocity(x0, noise)
    out = model(x_t, _check_time(t, x_t))
    if out.shape != target.shape:
        raise InputError(f"model must return the shape of x0 "
                         f"{tuple(target.shape)}, got {tuple(out.shape)}")
    return check_finite_result(((out - target) ** 2).flatten(1).sum(dim=1).mean(), name="x0 or noise")
# --8<-- [end:loss]


# --8<-- [start:exact_velocity]
def exact_velocity(mixture, path: "LinearPath | None" = None) -> TimeScore:
    r"""データがガウス混合のときの厳密な速度場 $u_t(x)$ (厳密なスコアから)。"""
    path = LinearPath() if path is None else check_instance(path, LinearPath, name="path")
    score = exact_score(mixture, path)

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return path.velocity_from_score(x, t, score(x, t))

    return velocity
# --8<-- [end:exact_velocity]
