r"""第 1 章「生成モデルとはなにか」の実験: 無条件のサンプリングと、着色問題のおもちゃの例。

着色の例では、2 つのモードを持つ条件付き分布 $p(y \mid c)$ のデータで、2 乗誤差の回帰 $\hat{y}_\theta(c)$ と
混合密度ネットワーク $q_\theta(y \mid c)$ を学習し、出力がモードから離れる割合と対数尤度を比べる。
"""

from __future__ import annotations

# --8<-- [start:imports]
from dataclasses import dataclass

import numpy as np

from gen_lib.core.experiment import experiment
from gen_lib.core.grid import plane_points
from gen_lib.distributions.gaussian_mixture import (GaussianMixture,
                                                   ring_of_gaussians)
from gen_lib.distributions.two_mode_conditional import (TwoModeConditional,
                                                        off_mode_fraction)
from gen_lib.generative.mean_regression import predict, train_mean_regressor
from gen_lib.generative.mixture_density_network import train_mdn

# --8<-- [end:imports]

__all__ = ["sample_unconditional", "SamplingSettings", "unconditional_sampling", "ColorizationSettings",
           "colorization"]


# --8<-- [start:sample_unconditional]
def sample_unconditional(n: int = 1000,
                         seed=0) -> tuple[GaussianMixture, np.ndarray]:
    r"""生成モデル $q_\theta(x)$ から $x \sim q_\theta(x)$ を n 個引く。

    ここでは $q_\theta$ を円周上に並んだ 8 個のガウス分布の混合とする
    (θ = 混合比・平均・共分散)。
    """
    q = ring_of_gaussians(n_modes=8, radius=2.0, std=0.15)  # q_θ(x)
    x = q.sample(n, seed=seed)  # x ~ q_θ(x)、形 (n, 2)
    return q, x
# --8<-- [end:sample_unconditional]


@dataclass(frozen=True)
class SamplingSettings:
    r"""円周上の 8 個のモードの混合 $q_\theta$ の密度とサンプル。"""

    n: int = 1000  # n, 引くサンプルの数
    lim: float = 3.0  # 密度を描く範囲 [-lim, lim]^2
    n_grid: int = 121  # 密度の格子の 1 軸の点数
    seed: int = 0  # サンプルのシード


@experiment(SamplingSettings)
def unconditional_sampling(settings: SamplingSettings) -> dict:
    r"""サンプル ``x`` (n, 2) と、格子 ``axis`` 上の密度 ``density`` $q_\theta(x)$ ((n_grid, n_grid)、行が $x_2$)。"""
    q, x = sample_unconditional(settings.n, seed=settings.seed)
    axis = np.linspace(-settings.lim, settings.lim, settings.n_grid)
    density = np.exp(q.log_prob(plane_points(axis))).reshape(axis.size, axis.size)
    return {"x": x, "axis": axis, "density": density}


@dataclass(frozen=True)
class ColorizationSettings:
    r"""着色のおもちゃの例: $p(y \mid c) = w \mathcal{N}(g(c), \sigma^2) + (1-w) \mathcal{N}(-g(c), \sigma^2)$。"""

    noise_std: float = 0.1  # σ, モードの幅
    upper_weight: float = 0.5  # w, 上のモード (y > 0) を選ぶ確率
    n_train: int = 2000  # N, 訓練データ (c^n, y^n) の数
    n_test: int = 4000  # 評価データの数
    hidden: int = 32  # 回帰と MDN の MLP の隠れ層の幅
    regressor_steps: int = 300  # 回帰の学習の反復回数 (フルバッチの Adam)
    regressor_lr: float = 1e-2  # 回帰の学習率
    mdn_components: int = 3  # K, MDN の混合数 (モードの数 2 は教えない)
    mdn_steps: int = 600  # MDN の学習の反復回数 (フルバッチの Adam)
    mdn_lr: float = 5e-3  # MDN の学習率
    slice_c: float = 0.5  # 断面 p(y | c) を描く条件 c
    n_curve: int = 201  # 回帰の曲線を描く c の格子点数 ([-1, 1])
    y_limit: float = 2.0  # 断面を描く y の範囲 [-y_limit, y_limit]
    n_slice: int = 801  # 断面の y の格子点数
    seed: int = 0  # 訓練データと重みの初期値 (seed)、評価データ (seed + 1)、MDN のサンプル (seed + 2)


@experiment(ColorizationSettings)
def colorization(settings: ColorizationSettings) -> dict:
    r"""回帰と MDN を学習し、出力・サンプル・断面の密度・モードから離れた割合・対数尤度を返す。

    戻り値: 訓練データ ``c``, ``y``、評価データ ``c_test``, ``y_test`` と MDN のサンプル ``y_mdn``、
    回帰の曲線 ``c_curve``, ``regressor_curve`` と $E[y \mid c]$ (``mean_curve``)、
    $c$ = slice_c での ``y_slice``, ``slice_true`` ($p$), ``slice_mdn`` ($q_\theta$), ``slice_regressor``、
    モードから $3\sigma$ 以上離れた割合 ``off_mode`` ({"true", "regressor", "mdn"})、
    評価データの平均対数尤度 ``log_likelihood`` ({"true": E[log p(y|c)], "mdn": E[log q_θ(y|c)]})。
    """
    target = TwoModeConditional(noise_std=settings.noise_std, upper_weight=settings.upper_weight)
    c, y = target.sample_joint(settings.n_train, seed=settings.seed)  # 訓練データ (c^n, y^n) ~ p(c, y)
    c_test, y_test = target.sample_joint(settings.n_test, seed=settings.seed + 1)  # 評価用の別のデータ

    regressor = train_mean_regressor(y, c, hidden=settings.hidden, steps=settings.regressor_steps,
                                     lr=settings.regressor_lr, seed=settings.seed)  # 2 乗誤差の決定的な関数
    mdn = train_mdn(y, c, n_components=settings.mdn_components, hidden=settings.hidden,  # 最尤推定の q_θ(y|c)
                    steps=settings.mdn_steps, lr=settings.mdn_lr, seed=settings.seed)
    y_regressor = predict(regressor, c_test)
    y_mdn = mdn.sample(c_test, seed=settings.seed + 2)

    c_curve = np.linspace(-1.0, 1.0, settings.n_curve)
    y_slice = np.linspace(-settings.y_limit, settings.y_limit, settings.n_slice)
    c_slice = np.full_like(y_slice, settings.slice_c)
    return {
        "c": c, "y": y, "c_test": c_test, "y_test": y_test, "y_mdn": y_mdn,
        "c_curve": c_curve, "regressor_curve": predict(regressor, c_curve),
        "mean_curve": target.mean(c_curve),
        "y_slice": y_slice, "slice_true": np.exp(target.log_prob(y_slice, c_slice)),
        "slice_mdn": np.exp(mdn.log_prob(y_slice, c_slice)),
        "slice_regressor": float(predict(regressor, [settings.slice_c])[0]),
        "off_mode": {name: off_mode_fraction(target, values, c_test)
                     for name, values in [("true", y_test), ("regressor", y_regressor), ("mdn", y_mdn)]},
        "log_likelihood": {"true": float(target.log_prob(y_test, c_test).mean()),
                           "mdn": float(mdn.log_prob(y_test, c_test).mean())},
    }
