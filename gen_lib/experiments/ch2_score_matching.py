r"""第 2 章「スコアマッチング」の実験: ESM と ISM の差が定数であること、計算量、学習したスコア場。

2 次元のガウス混合 (``asymmetric_mixture``) は真のスコアが厳密に分かるので、明示的スコアマッチング
$J_{\mathrm{ESM}}$ も計算できる。期待値は格子上の数値積分 (台形則) で計算する:
$\mathbb{E}_p[g] \approx \sum_j w_j\, p(x_j)\, g(x_j)$。
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from gen_lib.core.experiment import experiment
from gen_lib.core.grid import Grid, make_grid, plane_points
from gen_lib.core.nn import make_mlp, minibatch, single_thread, train
from gen_lib.core.types import ScoreModel
from gen_lib.core.validation import (InputError, check_callable, check_count, check_instance, check_positive,
                                     make_generator, make_rng)
from gen_lib.distributions.gaussian_mixture import GaussianMixture, asymmetric_mixture
from gen_lib.metrics.score_error import relative_score_error
from gen_lib.score_based.score_matching import (evaluate_score, explicit_score_matching_loss,
                                                implicit_score_matching_loss, jacobian_trace,
                                                sliced_score_matching_loss)

__all__ = ["ScoreMatchingSettings", "quadrature_objectives", "training", "score_field", "random_score_models",
           "identity_across_models", "trained_score_model", "TimingSettings", "loss_times"]


@dataclass(frozen=True)
class ScoreMatchingSettings:
    """asymmetric_mixture のスコアを ISM か SSM で学習し、数値積分で評価する設定。"""

    method: str = "ism"  # 目的関数: "ism" (暗黙的) か "ssm" (スライス化、射影 1 本、分散低減版)
    n_data: int = 200_000  # N, データ D の大きさ (小さいと ISM が過学習する: 下の training)
    hidden: int = 32  # MLP の隠れ層のユニット数 (2 層)
    steps: int = 1000  # 学習のステップ数
    batch_size: int = 256  # ミニバッチの大きさ
    lr: float = 5e-3  # Adam の学習率
    eval_every: int = 50  # 数値積分で J_ESM, J_ISM を測る間隔 (ステップ)
    box: float = 4.5  # b, 数値積分の箱 [-b, b]^2 (質量のほぼすべて 1 - 2e-8 が入る)
    grid_points: int = 81  # 数値積分の格子の 1 軸の点数
    n_monte_carlo: int = 4000  # サンプル平均で目的関数を推定する点の数
    lim: float = 3.5  # スコア場を描く範囲 [-lim, lim]^2
    n_arrows: int = 15  # 矢印の格子の 1 軸の点数
    n_fine: int = 141  # 誤差の地図の格子の 1 軸の点数
    seed: int = 0  # 初期値 (seed)、データ (seed + 1)、ミニバッチと射影 (seed + 2) のシード


def quadrature_objectives(score_model: ScoreModel, mixture: GaussianMixture, grid: Grid) -> dict[str, float]:
    r"""$J_{\mathrm{ESM}}$, $J_{\mathrm{ISM}}$, $C = \tfrac12 \mathbb{E}_p \|\nabla \log p\|^2$ と相対誤差 (数値積分)。

    相対誤差 ``relative`` は $\mathbb{E}_p\|s_\theta - \nabla \log p\|^2 / \mathbb{E}_p\|\nabla \log p\|^2
    = J_{\mathrm{ESM}} / C$ (``relative_score_error`` に重み $w_j p(x_j)$ を渡す)。
    """
    check_callable(score_model, name="score_model", signature="(x)")
    check_instance(mixture, GaussianMixture, name="mixture")
    check_instance(grid, Grid, name="grid", hint=" (use make_grid)")
    weights = np.exp(mixture.log_prob(grid.points) + grid.log_weights)  # w_j p(x_j)
    true = mixture.score(grid.points)
    trace, s = jacobian_trace(score_model, torch.as_tensor(grid.points), create_graph=False)
    trace, s = trace.detach().numpy(), s.detach().numpy()
    return {"esm": float(weights @ (0.5 * np.sum((s - true) ** 2, axis=1))),
            "ism": float(weights @ (trace + 0.5 * np.sum(s**2, axis=1))),
            "constant": float(weights @ (0.5 * np.sum(true**2, axis=1))),
            "relative": relative_score_error(s, true, weights)}


def _quadrature_grid(settings: ScoreMatchingSettings) -> Grid:
    return make_grid([-settings.box] * 2, [settings.box] * 2, settings.grid_points)


@experiment(ScoreMatchingSettings, variants=(ScoreMatchingSettings(method="ssm"),))
def training(settings: ScoreMatchingSettings) -> dict:
    r"""MLP $s_\theta$ を ISM か SSM で学習し、途中の $J_{\mathrm{ESM}}$, $J_{\mathrm{ISM}}$ (数値積分) と学習後のスコア場。

    データ $D$ は大きく取る。小さな固定データで ISM を下げ続けると、データ点の上でだけ発散
    $\operatorname{tr}\nabla_x s_\theta$ を大きく負にする過学習が起き、経験 ISM が下がり続ける
    (試した 1000 点・32 ユニットでは数百ステップで起きた)。

    戻り値: ``steps``, ``esm``, ``ism`` (評価したステップと目的関数)、学習後の ``final``
    (``quadrature_objectives``)、スコア場 (``score_field``)、``state_dict``。
    """
    if settings.method not in ("ism", "ssm"):
        raise InputError(f"method must be 'ism' or 'ssm', got {settings.method!r}")
    mixture = asymmetric_mixture()
    grid = _quadrature_grid(settings)
    data = torch.as_tensor(mixture.sample(settings.n_data, seed=settings.seed + 1))
    model = make_mlp(2, 2, hidden=settings.hidden, seed=settings.seed)
    generator = make_generator(settings.seed + 2)

    def loss_fn(step: int) -> torch.Tensor:
        x = minibatch(data, settings.batch_size, generator)
        if settings.method == "ism":
            return implicit_score_matching_loss(model, x)
        return sliced_score_matching_loss(model, x, 1, generator)

    history = {"steps": [], "esm": [], "ism": []}

    def record(step: int) -> None:
        if step % settings.eval_every == 0 or step == settings.steps:
            values = quadrature_objectives(model, mixture, grid)
            for key, value in (("steps", step), ("esm", values["esm"]), ("ism", values["ism"])):
                history[key].append(value)

    train(model, loss_fn, steps=settings.steps, lr=settings.lr, callback=record)
    return {**{key: np.array(value) for key, value in history.items()},
            "final": quadrature_objectives(model, mixture, grid),
            **score_field(model, mixture, settings.lim, settings.n_arrows, settings.n_fine),
            "state_dict": model.state_dict()}


def score_field(score_model: ScoreModel, mixture: GaussianMixture, lim: float, n_arrows: int,
                n_fine: int) -> dict[str, np.ndarray]:
    r"""$[-\mathrm{lim}, \mathrm{lim}]^2$ 上の学習したスコア場と真のスコア場 (``draw_score_panel`` で描く)。

    戻り値: 矢印の格子 ``arrows_at`` (M, 2) での ``arrows`` $s_\theta$ と ``exact_arrows`` $\nabla \log p$、
    細かい格子の目盛り ``fine_axis`` (n,) での ``log_p`` と誤差 ``error`` $\|s_\theta - \nabla \log p\|$ (どちらも (n, n))。
    """
    check_callable(score_model, name="score_model", signature="(x)")
    check_instance(mixture, GaussianMixture, name="mixture")
    lim = check_positive(lim, name="lim")
    n_arrows = check_count(n_arrows, name="n_arrows")
    n_fine = check_count(n_fine, name="n_fine", maximum=3000)  # 細かい格子は n_fine² 点
    arrows_at = plane_points(np.linspace(-lim, lim, n_arrows))
    fine_axis = np.linspace(-lim, lim, n_fine)
    fine = plane_points(fine_axis)
    with torch.no_grad(), single_thread():
        arrows = evaluate_score(score_model, torch.as_tensor(arrows_at)).numpy()
        learned = evaluate_score(score_model, torch.as_tensor(fine)).numpy()
    error = np.linalg.norm(learned - mixture.score(fine), axis=1)
    return {"arrows_at": arrows_at, "arrows": arrows, "exact_arrows": mixture.score(arrows_at),
            "fine_axis": fine_axis, "log_p": mixture.log_prob(fine).reshape(n_fine, n_fine),
            "error": error.reshape(n_fine, n_fine)}


def random_score_models(seed: int) -> list:
    """いろいろなスコアモデル: 出力を拡大した乱数初期化の MLP と、線形モデル $s(x) = Ax + b$。"""
    seed = check_count(seed, name="seed", minimum=0, maximum=2**63)
    models = []
    for k, (hidden, scale) in enumerate([(8, 1.0), (16, 3.0), (32, 6.0), (64, 2.0), (16, 8.0), (32, 0.5)]):
        mlp = make_mlp(2, 2, hidden=hidden, seed=seed + 10 + k)
        models.append(lambda x, mlp=mlp, scale=scale: scale * mlp(x))
    rng = make_rng(seed + 20)
    for _ in range(4):
        a = torch.as_tensor(rng.normal(scale=1.5, size=(2, 2)))
        b = torch.as_tensor(rng.normal(size=2))
        models.append(lambda x, a=a, b=b: x @ a.T + b)
    return models


@experiment(ScoreMatchingSettings)
def identity_across_models(settings: ScoreMatchingSettings) -> dict:
    r"""いろいろなモデルと学習後のモデルの $(J_{\mathrm{ISM}}, J_{\mathrm{ESM}})$: 数値積分とモンテカルロ。

    戻り値: ``quadrature``, ``monte_carlo`` (モデルの数, 2)、学習後のモデルの ``trained`` (2,)
    (列はどれも ISM, ESM)、定数 ``constant`` $C$。学習後のモデルは ``training(settings)``。
    """
    mixture = asymmetric_mixture()
    grid = _quadrature_grid(settings)
    x = mixture.sample(settings.n_monte_carlo, seed=settings.seed + 3)
    true = mixture.score(x)
    quadrature, monte_carlo = [], []
    with single_thread():
        for model in random_score_models(settings.seed):
            values = quadrature_objectives(model, mixture, grid)
            quadrature.append((values["ism"], values["esm"]))
            monte_carlo.append((implicit_score_matching_loss(model, x).item(),
                                explicit_score_matching_loss(model, x, true).item()))
        trained = quadrature_objectives(trained_score_model(settings), mixture, grid)
    return {"quadrature": np.array(quadrature), "monte_carlo": np.array(monte_carlo),
            "trained": np.array([trained["ism"], trained["esm"]]), "constant": trained["constant"]}


def trained_score_model(settings: ScoreMatchingSettings = ScoreMatchingSettings()) -> torch.nn.Sequential:
    """``training(settings)`` で学習した MLP (キャッシュがあれば学習しない)。"""
    check_instance(settings, ScoreMatchingSettings, name="settings")
    model = make_mlp(2, 2, hidden=settings.hidden, seed=settings.seed)
    model.load_state_dict(training(settings)["state_dict"])
    return model


@dataclass(frozen=True)
class TimingSettings:
    """ISM と SSM の「損失 + θ についての勾配」1 回の時間を測る設定 (CPU 1 スレッド)。"""

    dims: tuple[int, ...] = (2, 8, 32, 128)  # d, 測る次元
    batch_size: int = 128  # 点の数
    hidden: int = 64  # MLP の隠れ層のユニット数 (2 層)
    repeats: int = 3  # 測る回数 (1 回捨ててから測り、最小値を取る)


@experiment(TimingSettings, timing=True)
def loss_times(settings: TimingSettings) -> dict:
    """次元 d ごとの ISM と SSM (射影 1 本) の時間 [ms]。戻り値は ``{"dims", "ism", "ssm"}`` (各 (len(dims),))。

    時間は計算機と負荷で変わるので、結果はキャッシュしたものを使う (同じコードなら図は毎回同じになる)。
    """
    result = {"dims": np.array(settings.dims), "ism": [], "ssm": []}
    generator = make_generator(0)
    with single_thread():
        for d in settings.dims:
            model = make_mlp(d, d, hidden=settings.hidden, seed=0)
            x = torch.randn(settings.batch_size, d, generator=generator, dtype=torch.float64)
            losses = {"ism": lambda: implicit_score_matching_loss(model, x),
                      "ssm": lambda: sliced_score_matching_loss(model, x, 1, generator)}
            for name, loss_fn in losses.items():
                times = []
                for _ in range(settings.repeats + 1):
                    start = time.perf_counter()
                    model.zero_grad()
                    loss_fn().backward()
                    times.append(1e3 * (time.perf_counter() - start))
                result[name].append(min(times[1:]))
    return {key: np.array(value) for key, value in result.items()}
