"""2-ワッサースタイン距離: 点の数が等しいときの最適な対応 (割当問題) と、1 次元の閉じた形と比べる。"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from gen_lib.metrics.wasserstein import wasserstein2


def test_equals_the_optimal_assignment():
    # 重みのそろった N 点どうしでは、最適な輸送計画は置換 (バーコフの定理): 割当問題の解と一致する
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + [1.0, 0.0]
    cost = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    assert wasserstein2(x, y) == pytest.approx(np.sqrt(cost[rows, cols].mean()), rel=1e-10)


def test_one_dimensional_closed_form_and_translation():
    # 1 次元では並べ替えた点どうしを対応させるのが最適: W2² = mean((x_(i) - y_(i))²)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(200, 1)), rng.exponential(size=(200, 1))
    expected = np.sqrt(np.mean((np.sort(x[:, 0]) - np.sort(y[:, 0])) ** 2))
    assert wasserstein2(x, y) == pytest.approx(expected, rel=1e-10)
    # 平行移動 c だけずらした集合との距離は |c|、同じ集合 (並べ替え) とは 0
    assert wasserstein2(x, x + 0.7) == pytest.approx(0.7, rel=1e-10)
    assert wasserstein2(x, x[::-1]) == pytest.approx(0.0, abs=1e-12)


def test_unequal_sizes():
    # 1 点と N 点: すべてをその 1 点へ運ぶので W2² は平均 2 乗距離
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 2))
    y = np.array([[0.5, -0.2]])
    assert wasserstein2(x, y) == pytest.approx(np.sqrt(((x - y) ** 2).sum(1).mean()), rel=1e-10)


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((3, 2)), np.zeros((3, 3)), "dimension"),
    (np.array([[0.0, np.nan]]), np.zeros((3, 2)), "finite"),
    (np.zeros(3), np.zeros((3, 2)), "shape"),
])
def test_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        wasserstein2(x, y)
