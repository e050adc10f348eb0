r"""第 1 章「尤度ベースモデル」の実験: 多項式エネルギーのモデルを最尤推定 (格子上で厳密な勾配) で学習する。

データは 3 つのモードを持つガウス混合から 500 点、モデルは箱 $[-4, 4]^2$ 上の 4 次多項式エネルギー
(``gen_lib.generative.maximum_likelihood.training_setup``)。$\theta = 0$ から Adam で $L(\theta)$ を上げる。
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gen_lib.core.experiment import experiment
from gen_lib.generative.maximum_likelihood import (average_log_likelihood, ebm_log_likelihood, fit_ebm,
                                                   model_weights, three_mode_mixture, training_setup)

__all__ = ["EbmFitSettings", "ebm_fit"]


@dataclass(frozen=True)
class EbmFitSettings:
    """エネルギーベースモデルの最尤推定の設定。"""

    n_data: int = 500  # N, データの数 (箱の外の点は除く)
    n_points: int = 61  # 格子 (台形則) の 1 軸の点数
    steps: int = 2000  # 反復回数
    learning_rate: float = 0.3  # Adam の学習率
    seed: int = 0  # データのシード (学習は θ = 0 から始めるので乱数を使わない)
    n_test: int = 5000  # 訓練に使わない評価用データの数
    test_seed: int = 123  # 評価用データのシード


@experiment(EbmFitSettings)
def ebm_fit(settings: EbmFitSettings) -> dict:
    r"""学習の結果。

    戻り値: ``data`` (N, 2)、``axis`` (格子の各軸)、``p_true`` (真の密度 $p$) と ``q_model``
    (学習した $q_\theta$) (どちらも (n_points, n_points)、行が $x_2$)、``history`` (各反復の $L(\theta)$、
    (steps + 1,))、``true_log_likelihood`` (真の密度で同じデータの平均対数尤度)、``theta``、
    訓練に使わない ``n_test`` 点での平均対数尤度 ``test_log_likelihood`` (学習したモデル) と
    ``true_test_log_likelihood`` (真の密度)。
    """
    data, grid, model = training_setup(settings.seed, n_data=settings.n_data, n_points=settings.n_points)
    result = fit_ebm(model, data, grid, steps=settings.steps, learning_rate=settings.learning_rate)
    mixture = three_mode_mixture()
    test, _, _ = training_setup(settings.test_seed, n_data=settings.n_test, n_points=settings.n_points)
    q_model = model_weights(model, result.theta, grid) / np.exp(grid.log_weights)  # 格子点の確率 / 重み = 密度

    def image(values):  # 格子の並び (x_1, x_2) を、行が x_2 の画像にする
        return values.reshape(grid.shape).T

    return {"data": data, "axis": grid.axes[0], "p_true": image(np.exp(mixture.log_prob(grid.points))),
            "q_model": image(q_model), "history": result.history, "theta": result.theta,
            "true_log_likelihood": average_log_likelihood(mixture.log_prob, data),
            "test_log_likelihood": ebm_log_likelihood(model, result.theta, test, grid),
            "true_test_log_likelihood": average_log_likelihood(mixture.log_prob, test)}
