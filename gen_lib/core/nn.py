"""小さな多層パーセプトロン (MLP) と、講義のすべての学習が使う 1 つの学習ループ (Adam)。

初期値はシードだけで決まり (``torch.random.fork_rng`` の中で ``torch.manual_seed``)、
ミニバッチの乱択は呼び出し側の乱数生成器で行うので、同じシードからは同じ重みが得られる。
計算は float64 で行う。学習のあいだだけ torch のスレッド数を 1 にする (終われば元に戻す):
この大きさの行列ではスレッドを増やしても速くならず、他の処理と CPU を取り合うと何倍も遅くなるうえ、
スレッド数で浮動小数点の和の順序が変わる心配もなくなる。
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import torch

from gen_lib.core.validation import (InputError, check_bool, check_callable, check_count, check_instance,
                                     check_positive, make_generator, make_rng)

__all__ = ["make_mlp", "minibatch", "train", "single_thread"]


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


def minibatch(data: torch.Tensor, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """``data`` (N, ...) から復元抽出で ``batch_size`` 個を選ぶ (乱数は ``generator`` だけから)。"""
    if (not isinstance(data, torch.Tensor) or data.ndim < 1 or len(data) < 1 or not data.is_floating_point()
            or not torch.isfinite(data).all()):
        shape, dtype = tuple(getattr(data, "shape", ())), getattr(data, "dtype", "")
        raise InputError(f"data must be a finite floating-point torch.Tensor of shape (N, ...) with N >= 1, "
                         f"got {type(data).__name__} {shape} {dtype}")
    batch_size = check_count(batch_size, name="batch_size")
    generator = make_generator(generator, name="generator")
    return data[torch.randint(len(data), (batch_size,), generator=generator)]  # (B, ...)


LossFunction = Callable[[int], torch.Tensor]  # step -> そのステップのミニバッチでのスカラー損失


def train(module: torch.nn.Module, loss_fn: LossFunction, *, steps: int, lr: float,
          betas: tuple[float, float] = (0.9, 0.999), cosine_decay: bool = False,
          callback: Callable[[int], None] | None = None,
          adversary: tuple[torch.nn.Module, LossFunction] | None = None) -> dict[str, list[float]]:
    r"""``loss_fn(step)`` を Adam で ``steps`` 回下げる (講義のすべての学習が使う 1 つのループ)。

    - ``loss_fn(step)`` は step 番目の更新に使う損失を返す。ミニバッチは呼び出し側が自分の乱数で選ぶ
      (``minibatch``)。全データを使えばフルバッチの勾配法になる。
    - 損失が非有限になったら、何ステップ目かと学習率を示して ``ValueError`` を送出する。
    - ``cosine_decay``: 学習率を余弦で 0 まで下げる $\eta_k = 	frac{\eta}{2}(1 + \cos(\pi k / K))$。
    - ``callback(step)`` は各更新の前 (step = 0, …, K−1) と最後の更新の後 (step = K) に呼ぶ (評価・記録用)。
    - ``adversary = (module_D, loss_fn_D)``: 各ステップで先に敵対者 (GAN の識別器) を 1 回更新する
      (同じ Adam の設定)。

    戻り値は損失の履歴 ``{"loss": [...]}`` (敵対者があれば ``"adversary_loss"`` も)。
    """
    steps = check_count(steps, name="steps")
    lr = check_positive(lr, name="lr")
    cosine_decay = check_bool(cosine_decay, name="cosine_decay")
    check_instance(module, torch.nn.Module, name="module")
    check_callable(loss_fn, name="loss_fn", signature="(step)")
    if callback is not None:
        check_callable(callback, name="callback", signature="(step)")
    if (not isinstance(betas, tuple) or len(betas) != 2
            or not all(isinstance(b, float) and 0 <= b < 1 for b in betas)):
        raise InputError(f"betas must be a tuple of two floats in [0, 1), got {betas!r}")
    if adversary is not None and not (isinstance(adversary, tuple) and len(adversary) == 2
                                      and isinstance(adversary[0], torch.nn.Module)
                                      and callable(adversary[1])):
        raise InputError(f"adversary must be a tuple (module, loss_fn), got {adversary!r:.80}")
    players = [("loss", module, loss_fn)]
    if adversary is not None:
        players.insert(0, ("adversary_loss", *adversary))
    optimizers = [torch.optim.Adam(player.parameters(), lr=lr, betas=betas) for _, player, _ in players]
    schedules = [torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=steps) for o in optimizers] if cosine_decay else []
    history: dict[str, list[float]] = {name: [] for name, _, _ in players}
    with single_thread():
        for step in range(steps):
            if callback is not None:
                callback(step)
            for (name, _, objective), optimizer in zip(players, optimizers):
                loss = objective(step)
                if not torch.isfinite(loss):
                    raise InputError(f"{name} became non-finite ({loss.item()}) at step {step}; "
                                     f"try a smaller lr (got {lr})")
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                history[name].append(loss.item())
            for schedule in schedules:
                schedule.step()
        if callback is not None:
            callback(steps)
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

