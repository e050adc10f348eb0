r"""決定的な予測関数: 2 乗誤差を最小にする回帰 $\hat{y}_\theta(c)$。

$$
\min_\theta \frac{1}{N} \sum_{n=1}^N \left(y^n - \hat{y}_\theta(c^n)\right)^2
$$

2 乗誤差の期待値 $E[(y - a)^2 \mid c]$ を最小にする $a$ は条件付き期待値 $E[y \mid c]$ なので、
十分に学習した $\hat{y}_\theta(c)$ は $E[y \mid c]$ に近づく。
出力が二つのモードに分かれるとき、その平均はモードのあいだ (データのない場所) にある。
"""

from __future__ import annotations

# --8<-- [start:imports]
import numpy as np
import torch

from gen_lib.core.nn import make_mlp, train
from gen_lib.core.validation import check_callable
from gen_lib.distributions.two_mode_conditional import as_conditions, as_pairs

# --8<-- [end:imports]

__all__ = ["train_mean_regressor", "predict"]


# --8<-- [start:regressor]
def train_mean_regressor(y, c, *, hidden: int = 32, steps: int = 300,
                         lr: float = 1e-2,
                         seed: int = 0) -> torch.nn.Sequential:
    r"""MLP $\hat{y}_\theta$ を学習する。

    2 乗誤差 $\frac{1}{N}\sum_n (y^n - \hat{y}_\theta(c^n))^2$ を最小にする。
    """
    y, c = as_pairs(y, c)
    c_t, y_t = torch.from_numpy(c[:, None]), torch.from_numpy(y[:, None])
    regressor = make_mlp(1, 1, hidden=hidden, seed=seed)
    def loss(step):  # フルバッチ
        return torch.mean((y_t - regressor(c_t)) ** 2)

    train(regressor, loss, steps=steps, lr=lr)
    return regressor


def predict(regressor: torch.nn.Module, c) -> np.ndarray:
    r"""決定的な予測 $\hat{y}_\theta(c)$。

    同じ $c$ にはいつも同じ値を返す。形 (N,)。
    """
    check_callable(regressor, name="regressor", signature="(c)")
    c = as_conditions(c)
    with torch.no_grad():
        return regressor(torch.from_numpy(c[:, None]))[:, 0].numpy()
# --8<-- [end:regressor]
