"""第 1 章「記号一覧」の図: 後の章でも使うおもちゃの 2 次元分布。

計算は ``gen_lib.experiments.ch1_notation`` が行い、ここでは結果を描くだけである。
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from gen_lib.core.plotting import new_figure
from gen_lib.experiments.ch1_notation import ToySettings, toy_log_densities
from gen_lib.figures import figure


@figure("ch1-notation-toy.svg")
def toy_distributions(seed: int = 0) -> Figure:
    """円周上の 8 個のモードの混合と非対称な 3 成分の混合: 厳密な log p(x) の等高線とサンプル。"""
    result = toy_log_densities(ToySettings(seed=seed))
    titles = {"ring": "円周上に並んだ 8 個のガウス分布", "asymmetric": "重みと形の違う 3 成分の混合"}
    fig, axes = new_figure(1, 2, width=9.0, height=4.5)
    for ax, (name, title) in zip(axes, titles.items()):
        r = result[name]
        axis, log_p, x = r["axis"], r["log_p"], r["samples"]
        lim = axis[-1]
        top = np.ceil(log_p.max())
        levels = np.arange(top - 12.0, top + 0.5)  # log p が最大値から 12 下まで (それより下は同じ色)
        filled = ax.contourf(axis, axis, np.maximum(log_p, levels[0]), levels=levels, cmap="viridis")
        filled.set_rasterized(True)  # 塗りつぶしは画像として埋め込む (SVG を軽くする)
        ax.scatter(x[:, 0], x[:, 1], s=4, c="white", edgecolors="black", linewidths=0.3, label="サンプル $x^n$")
        ax.set(title=f"{title}\n" + r"格子上の数値積分 $\int p(x)\,dx \approx$" + f" {r['total']:.4f}",
               xlabel="$x_1$", ylabel="$x_2$", xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
        ax.grid(False)
        ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
        fig.colorbar(filled, ax=ax, shrink=0.85, label=r"$\log p(x)$", ticks=levels[::2])
    return fig
