r"""スコア関数: 対数密度の $x$ についての勾配。

$$
s(x) = \nabla_x \log p(x)
$$

エネルギーベースモデル $q_\theta(x) = \exp(-f_\theta(x)) / Z(\theta)$ では $Z(\theta)$ が $x$ に
よらないので、スコアはエネルギーの勾配の符号を変えたものになり、分配関数を含まない:

$$
\nabla_x \log q_\theta(x) = -\nabla_x f_\theta(x) - \nabla_x \log Z(\theta) = -\nabla_x f_\theta(x)
$$

ここでは torch の自動微分でスコアを計算する。関数は「形 (N, d) の torch テンソル → 形 (N,) の
torch テンソル」を受け取り、スコアを形 (N, d) の numpy 配列 (float64) で返す。
"""

from __future__ import annotations

# --8<-- [start:score_autograd]
import numpy as np
import torch

from gen_lib.core.types import TorchScalarField
from gen_lib.core.validation import InputError, as_points, check_callable

__all__ = ["score_from_log_density", "score_from_energy"]


def _gradient(function: TorchScalarField, x, *, name: str) -> np.ndarray:
    r"""$\nabla_x \sum_n g(x^n)$ を自動微分で求める。

    点ごとに独立なので各行が $\nabla g(x^n)$ になる。
    """
    check_callable(function, name=name)
    points = torch.tensor(as_points(x), dtype=torch.float64,
                          requires_grad=True)
    values = function(points)
    is_tensor = isinstance(values, torch.Tensor)
    if not is_tensor or values.shape != (points.shape[0],):
        shape = tuple(values.shape) if is_tensor else type(values).__name__
        raise InputError(f"{name} must map a (N, d) tensor to a tensor of "
                         f"shape (N,), got {shape} for N={points.shape[0]}")
    if not torch.isfinite(values).all():
        n_bad = int((~torch.isfinite(values)).sum())
        raise InputError(f"{name} returned {n_bad} non-finite value(s)")
    (grad,) = torch.autograd.grad(values.sum(), points)
    grad = grad.detach().numpy()
    if not np.all(np.isfinite(grad)):
        raise InputError(f"the gradient of {name} has non-finite value(s)")
    return grad


def score_from_log_density(log_prob_fn: TorchScalarField, x) -> np.ndarray:
    r"""$s(x) = \nabla_x \log p(x)$。形 (N, d)。

    log_prob_fn は形 (N, d) → (N,) の torch 関数。
    """
    return _gradient(log_prob_fn, x, name="log_prob_fn")


def score_from_energy(energy_fn: TorchScalarField, x) -> np.ndarray:
    r"""エネルギーベースモデルのスコア $\nabla_x \log q_\theta(x) = -\nabla_x f_\theta(x)$。

    $Z(\theta)$ は $x$ によらないので現れない。energy_fn は形 (N, d) → (N,) の torch 関数。
    """
    return -_gradient(energy_fn, x, name="energy_fn")
# --8<-- [end:score_autograd]
