r"""第 3 章「確率フロー ODE と厳密な尤度」の図: 厳密なスコアでの検算と Hutchinson の推定量、
学習したモデルの対数尤度の点ごとの差、DDIM が ODE の解に近づく様子。

計算は ``gen_lib.experiments.ch3_likelihood`` が行い、ここでは結果を描くだけである。
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from gen_lib.core.plotting import ACCENT_COLOR, DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch3_likelihood import (DdimSettings, ExactSettings, GainSettings, LikelihoodSettings,
                                                ddim_convergence, exact_likelihood,
                                                model_likelihoods, output_gains)
from gen_lib.figures import figure


@figure("ch3-pf-exact.svg")
def exact_check(seed: int = 0) -> Figure:
    """左: ODE の対数尤度と厳密な log p(x) の差 (終端が厳密な p_1 か N(0, I) か)。右: Hutchinson。"""
    r = exact_likelihood(ExactSettings(seed=seed))
    fig, (ax_l, ax_r) = new_figure(1, 2, width=7.0, height=3.2)
    order = np.argsort(r["log_p"])
    for key, color, label in (("ode_exact_terminal", DATA_COLOR, r"終端に厳密な $p_1$"),
                              ("ode_gaussian_prior", MODEL_COLOR, r"終端に $\mathcal{N}(0, I)$")):
        ax_l.semilogy(np.abs(r[key] - r["log_p"])[order], ".", color=color, label=label)
    ax_l.set(xlabel=r"点 ($\log p(x)$ の小さい順)", ylabel=r"$|\log p_{\mathrm{ODE}} - \log p|$ [nats]",
             title="厳密なスコアでの検算")
    ax_l.legend(fontsize=9, loc="lower right")

    exact, probes = r["hutchinson_exact"], r["hutchinson"]
    order = np.argsort(exact)
    rank = np.arange(len(exact))
    ax_r.plot(np.repeat(rank, probes.shape[1]), probes[order].ravel(), ".", color="0.6",
              markersize=3, label="Hutchinson ($u$ 1 本ずつ)")
    ax_r.plot(rank, probes[order].mean(axis=1), "s", color=ACCENT_COLOR, markersize=3,
              label=f"その {probes.shape[1]} 本の平均")
    ax_r.plot(rank, exact[order], color="k", linewidth=1.2, label="厳密な発散")
    ax_r.set(xlabel="点 (厳密な値の小さい順)", ylabel=r"$\log p(x)$ [nats]",
             title="Hutchinson の推定量の揺らぎ")
    ax_r.legend(fontsize=9, loc="lower right")
    return fig


@figure("ch3-pf-nll.svg")
def model_gaps(seed: int = 0) -> Figure:
    r"""学習した 2 つのモデルの点ごとの $\log p(x) - \log q_\theta(x)$ の分布と、その平均 (KL の推定)。"""
    r = model_likelihoods(LikelihoodSettings(seed=seed + 1))
    fig, ax = new_figure(1, 1, width=7.0, height=3.0)
    gaps = {name: r["log_p"] + r[name]["nll"] for name in ("ddpm", "flow")}
    bins = np.linspace(min(g.min() for g in gaps.values()), max(g.max() for g in gaps.values()), 40)
    for (name, gap), color, label in zip(gaps.items(), (MODEL_COLOR, DATA_COLOR),
                                         ("DDPM (確率フロー ODE)", "フローマッチング")):
        ax.hist(gap, bins=bins, color=color, alpha=0.5, label=label)
        ax.axvline(r[name]["kl"], color=color, linewidth=2,
                   label=f"平均 {r[name]['kl']:.3f} ± {r[name]['kl_se']:.3f} nats")
    ax.axvline(0, color="0.2", linestyle=":")
    ax.set(xlabel=r"$\log p(x) - \log q_\theta(x)$ [nats]", ylabel="点の数",
           title=f"検証用の {len(r['log_p'])} 点での対数尤度の差")
    ax.legend(fontsize=9)
    return fig


@figure("ch3-pf-gain.svg")
def output_gain_curves(seed: int = 0) -> Figure:
    r"""VP SDE で、ネットワークの出力の誤差が確率フロー ODE の速度場に入る倍率 $|\partial v / \partial f_\theta|$。"""
    r = output_gains(GainSettings())
    fig, ax = new_figure(1, 1, width=6.0, height=3.4)
    for key, color, label in (("epsilon", MODEL_COLOR, r"ε 予測 $\beta / (2s)$"),
                              ("x0", "0.45", r"x0 予測 $\beta m / (2s^2)$"),
                              ("v", ACCENT_COLOR, r"v 予測 $\beta m / (2s)$")):
        ax.semilogy(r["times"], r[key], color=color, linewidth=2, label=label)
    ax.axhline(1.0, color="0.2", linestyle=":", linewidth=1)
    ax.set(xlabel="時刻 $t$", ylabel=r"$|\partial v / \partial f_\theta|$",
           title="出力の誤差が ODE の速度場に入る倍率 (VP SDE)")
    ax.legend(fontsize=9)
    return fig


@figure("ch3-pf-ddim.svg")
def ddim_to_ode(seed: int = 0) -> Figure:
    """DDIM (η = 0) のサンプルと、それが離散化する ODE の参照解との距離 (ステップ数 S に対して)。"""
    r = ddim_convergence(DdimSettings(seed=seed + 2))
    steps, rms = r["steps"], r["rms"]
    fig, ax = new_figure(1, 1, width=6.0, height=3.2)
    ax.loglog(steps, rms, "o-", color=MODEL_COLOR, label="DDIM と参照解の差 (平均 2 乗の平方根)")
    ax.loglog(steps, rms[-1] * steps[-1] / steps, ":", color="0.3",
              label=r"傾き $-1$ ($\propto 1/S$)")
    ax.set(xlabel="DDIM のステップ数 $S$", ylabel=r"$\sqrt{\mathrm{mean}\, \|x_{\mathrm{DDIM}} "
           r"- x_{\mathrm{ODE}}\|^2}$", title="DDIM はオイラー法: 誤差は $1/S$ で減る")
    ax.legend(fontsize=9)
    return fig
