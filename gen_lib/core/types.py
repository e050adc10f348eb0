"""関数を受け取る引数の型。1 種類の関数に 1 つの名前を使う。"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

__all__ = ["Energy", "LogDensity", "ScoreFunction", "NoiseConditionalScore", "TorchScalarField", "ScoreModel",
           "TimeScore", "Velocity", "DiscreteModel"]

Energy = Callable[[np.ndarray], np.ndarray]  # f(x): (N, d) -> (N,)、確率は exp(-f) に比例する
LogDensity = Callable[[np.ndarray], np.ndarray]  # log p(x): (N, d) -> (N,)
ScoreFunction = Callable[[np.ndarray], np.ndarray]  # ∇_x log p(x): (N, d) -> (N, d)
NoiseConditionalScore = Callable[[np.ndarray, float], np.ndarray]  # s(x, σ): (N, d), σ -> (N, d)
TorchScalarField = Callable[[torch.Tensor], torch.Tensor]  # torch 版のエネルギー・対数密度: (N, d) -> (N,)
ScoreModel = Callable[[torch.Tensor], torch.Tensor]  # 学習するスコア s_θ(x): (N, d) -> (N, d)
TimeScore = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # s(x, t): (N, …), t (N,) ∈ [0, 1] -> (N, …)
Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # ODE の速度 v(x, t): (N, …), t (N,) -> (N, …)
DiscreteModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # ε_θ(x_t, t) など、t (N,) ∈ {1..T} -> (N, …)
