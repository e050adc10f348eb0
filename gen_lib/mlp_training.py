"""小さな多層パーセプトロン (MLP) と、全データを一度に使う (フルバッチ) Adam による学習。

初期値はシードだけで決まり (``torch.random.fork_rng`` の中で ``torch.manual_seed``)、
フルバッチの学習にはミニバッチの乱択がないので、同じシードからは同じ重みが得られる。
計算は float64 で行う。学習のあいだだけ torch のスレッド数を 1 にする (終われば元に戻す):
この大きさの行列ではスレッドを増やしても速くならず、他の処理と CPU を取り合うと何倍も遅くなるうえ、
スレッド数で浮動小数点の和の順序が変わる心配もなくなる。
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import torch

from gen_lib.validation import check_count, check_positive, make_rng


# --8<-- [start:mlp]
def make_mlp(in_dim: int, out_dim: int, *, hidden: int = 32, n_hidden_layers: int = 2,
             seed: int = 0) -> torch.nn.Sequential:
    r"""$h_0 = c,\; h_{l} = \tanh(W_l h_{l-1} + b_l),\; \mathrm{out} = W_L h_{L-1} + b_L$ の MLP (float64)。"""
    in_dim = check_count(in_dim, name="in_dim")
    out_dim = check_count(out_dim, name="out_dim")
    hidden = check_count(hidden, name="hidden")
    n_hidden_layers = check_count(n_hidden_layers, name="n_hidden_layers")
    make_rng(seed)  # シードの形を確かめる (非負の整数)
    sizes = [in_dim] + [hidden] * n_hidden_layers
    layers: list[torch.nn.Module] = []
    with torch.random.fork_rng(devices=[]):  # 大域の乱数状態を汚さずに初期値を固定する
        torch.manual_seed(int(seed))
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [torch.nn.Linear(a, b, dtype=torch.float64), torch.nn.Tanh()]
        layers.append(torch.nn.Linear(sizes[-1], out_dim, dtype=torch.float64))
    return torch.nn.Sequential(*layers)


def train_full_batch(module: torch.nn.Module, loss_fn: Callable[[], torch.Tensor], *,
                     steps: int, lr: float) -> list[float]:
    """損失 ``loss_fn()`` (全データで計算するスカラー) を Adam で ``steps`` 回下げる。損失の履歴を返す。"""
    steps = check_count(steps, name="steps")
    lr = check_positive(lr, name="lr")
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    history = []
    with single_thread():
        for _ in range(steps):
            optimizer.zero_grad()
            loss = loss_fn()
            if not torch.isfinite(loss):
                raise ValueError(f"loss became non-finite ({loss.item()}) after {len(history)} steps; "
                                 f"try a smaller lr (got {lr})")
            loss.backward()
            optimizer.step()
            history.append(loss.item())
    return history
# --8<-- [end:mlp]


@contextmanager
def single_thread():
    """ブロックのあいだだけ torch を 1 スレッドで動かし、抜けるときに元のスレッド数に戻す。"""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)

