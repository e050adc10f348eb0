# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # ハンズオン: 第 3 章 拡散モデル
#
# 第 3 章の流れを、`gen_lib` の関数を呼びながら実行する。
#
# 1. 前向き過程の閉じた形 $x_t = \sqrt{\bar{\alpha}_t}\, x_0 + \sqrt{1 - \bar{\alpha}_t}\, \varepsilon$ でノイズを加える
# 2. 学習した DDPM で生成する: 祖先サンプリング (1000 ステップ) と DDIM (20 ステップ)
# 3. 確率フロー ODE で厳密な対数尤度を計算する
# 4. フローマッチングの速度場をホイン法で解いて生成する
#
# データ分布は円周上に 8 個のモードが並ぶ混合 (半径 2、標準偏差 0.15 のガウス分布を 8 個) である。学習済みの
# DDPM とフローマッチングのモデルはサイトのビルド時にキャッシュされるので、ここでは読み込むだけで済む
# (キャッシュがなければ 2 コアの CPU で 1 つ 10 秒ほど学習する)。

# %%
import time

import numpy as np
import torch

from gen_lib.core.plotting import DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.diffusion.ddpm import q_sample
from gen_lib.diffusion.likelihood import ode_log_likelihood
from gen_lib.diffusion.ode import heun
from gen_lib.diffusion.samplers import ddim_sample, ddpm_sample
from gen_lib.diffusion.sde import VPSDE, check_time_grid, exact_score
from gen_lib.experiments.ch3_models import data_distribution, schedule, trained_ddpm, trained_flow
from gen_lib.metrics.two_sample import energy_distance, noise_floor

np.set_printoptions(precision=4, suppress=True)
start = time.perf_counter()
p = data_distribution()
sched = schedule()
print(sched)

# %% [markdown]
# ## 閉じた形でノイズを加える
#
# $x_0 \sim p$ に時刻 $t$ のノイズを一度に加える (`q_sample`)。$t$ は点ごとに違ってよい (形 (N,))。
# $\bar{\alpha}_t$ が小さくなるにつれて 8 個のモードはぼやけ、$t = T$ ではほぼ $\mathcal{N}(0, I)$ になる。

# %%
x0 = torch.as_tensor(p.sample(2000, seed=0))
generator = torch.Generator().manual_seed(1)
fig, axes = new_figure(1, 4, width=7.0, height=2.2)
for ax, t in zip(axes, (1, 100, 300, 1000)):
    tt = torch.full((len(x0),), t)
    x_t = q_sample(sched, x0, tt, torch.randn(x0.shape, generator=generator, dtype=torch.float64))
    ax.scatter(x_t[:, 0], x_t[:, 1], s=1, color=DATA_COLOR)
    ax.set(xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), aspect="equal",
           title=f"t = {t}\nalpha_bar_t = {sched.alpha_bar(tt[:1]).item():.3f}")
    print(f"t = {t:4d}: 平均 {x_t.mean(0).numpy()}, 分散 {x_t.var(0).numpy()}")
fig

# %% [markdown]
# ## DDPM と DDIM で生成する
#
# 学習した $\varepsilon_\theta(x_t, t)$ を読み込み、同じノイズ $x_T$ から祖先サンプリング (1000 ステップ) と
# DDIM ($\eta = 0$、20 ステップ) で生成する。出来は厳密なサンプルとのエネルギー距離で測り、
# 同じ大きさの厳密なサンプルどうしの距離 (ノイズの床) と比べる。

# %%
model, history = trained_ddpm()
print(f"学習の損失 (最後の 100 ステップの平均): {np.mean(history[-100:]):.4f}")
n = 500
x_T = torch.randn((n, 2), generator=torch.Generator().manual_seed(2), dtype=torch.float64)
ddpm = ddpm_sample(sched, model, x_T, seed=3)
ddim = ddim_sample(sched, model, x_T, 20, seed=3)
reference = p.sample(n, seed=4)
floor = noise_floor(p.sample, n, n_pairs=5, seed=5).mean()
print(f"ノイズの床:            {floor:.4f}")
print(f"DDPM (1000 ステップ):  {energy_distance(ddpm.numpy(), reference):.4f}")
print(f"DDIM (20 ステップ):    {energy_distance(ddim.numpy(), reference):.4f}")

fig, axes = new_figure(1, 2, width=6.0, height=3.0)
for ax, (name, x) in zip(axes, (("DDPM 1000 ステップ", ddpm), ("DDIM 20 ステップ", ddim))):
    ax.scatter(reference[:, 0], reference[:, 1], s=1, color=DATA_COLOR, label="厳密なサンプル")
    ax.scatter(x[:, 0], x[:, 1], s=1, color=MODEL_COLOR, label="生成")
    ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal", title=name)
axes[0].legend(loc="upper right", fontsize=9, markerscale=5)
fig

# %% [markdown]
# ## 確率フロー ODE による厳密な対数尤度
#
# VP SDE の確率フロー ODE $\frac{dx}{dt} = f(x, t) - \frac{1}{2} g(t)^2 \nabla_x \log p_t(x)$ で
# $x$ を $t = 1$ まで運び、瞬間的な変数変換の公式
# $\log p_0(x) = \log p_1(x(1)) + \int_0^1 \nabla \cdot v\, dt$ で対数尤度を得る。
# まず厳密なスコアを入れ、$\log p(x)$ そのものが戻ることを 5 点で確かめる。

# %%
sde = VPSDE()
exact = exact_score(p, sde)


def exact_flow(x, t):
    return sde.reverse_drift(x, t, exact(x, t), probability_flow=True)


points = p.sample(5, seed=6)
by_ode = ode_log_likelihood(exact_flow, points, sde.prior_log_prob, t_start=1e-5, rtol=1e-6, atol=1e-6)
print("ODE で求めた log p:", by_ode.numpy())
print("厳密な log p:      ", p.log_prob(points))

# %% [markdown]
# ## フローマッチング
#
# 学習した速度場 $v_\theta(x, t)$ の ODE を $t = 1$ (ノイズ) から $t = 0$ (データ) へホイン法で解く。
# 同じ速度場で、上と同じ公式からモデルの対数尤度 $\log q_\theta(x)$ も計算できる
# (終端の密度は $\mathcal{N}(0, I)$)。

# %%
velocity, _ = trained_flow()
flow = heun(velocity, x_T, check_time_grid(1.0, 0.0, 20))
print(f"フローマッチング (ホイン法 20 ステップ): {energy_distance(flow.numpy(), reference):.4f}")
log_q = ode_log_likelihood(velocity, points, sde.prior_log_prob, rtol=1e-6, atol=1e-6)
print("log q_θ:", log_q.numpy())
print("log p:  ", p.log_prob(points))
print(f"ここまで {time.perf_counter() - start:.1f} 秒")

# %% [markdown]
# ## 演習
#
# 1. DDIM のステップ数を 5, 10, 50, 200 と変え、エネルギー距離がノイズの床に近づく様子を表にせよ。
#    *ヒント*: `ddim_sample(sched, model, x_T, n_steps, seed=3)`。`spacing="trailing"` にすると
#    少ないステップで $t = T$ から始まる。
# 2. 確率フロー ODE の対数尤度を、厳密なスコアの代わりに学習した DDPM で計算せよ。
#    *ヒント*: `ch3_models.ddpm_training()["state_dict"]` を `TimeConditionedMLP(2)` に読み込むと、
#    連続時刻 $t \in [0, 1]$ で呼べる $\varepsilon_\theta(x, t)$ になる。スコアは $s_\theta(x, t) = -\varepsilon_\theta(x, t) / s(t)$ で、
#    $s(t)$ は `sde.marginal(t)[1]`。$t \to 0$ で $1/s(t)$ が大きくなるので `t_start=1e-3` から解く。
#    500 点の平均 $\mathbb{E}_p[\log p - \log q_\theta]$ が KL ダイバージェンス $D_{\mathrm{KL}}(p \| q_\theta)$ になる。
# 3. フローマッチングをオイラー法 (`gen_lib.diffusion.ode.euler`) で解き、ホイン法と
#    同じネットワーク評価回数 (オイラー法 $2S$ ステップとホイン法 $S$ ステップ) で比べよ。
# 4. Hutchinson の推定量 (`estimator="hutchinson"`) で対数尤度を計算し、シードを変えたときの
#    ばらつきを厳密な発散の値と比べよ。
