# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # ハンズオン: 第 1 章 生成モデルの基礎
#
# 第 1 章の各節の計算を、`gen_lib` を使って手元で確かめるノートブックである。
# 上から順に実行すればよい (全体で数秒)。`gen_lib` は `pip install -e .` で入る。
#
# 1. データセットを $(N, d)$ 配列として扱う
# 2. 前向き過程: データにノイズを加えていく
# 3. 分配関数 $Z(\theta)$ を数値積分で求める
# 4. 専門家の積
# 5. エネルギーベースモデルの最尤推定
# 6. 決定的な回帰と条件付き生成モデル
# 7. GAN の最適な識別器

# %%
import matplotlib.pyplot as plt
import numpy as np

from gen_lib.distributions.gaussian_mixture import ring_of_gaussians

# %% [markdown]
# ## データセットを配列として扱う
#
# 訓練データ $\mathcal{D} = \{x^1, \dots, x^N\}$ は形 $(N, d)$ の配列で、$n$ 番目のデータ $x^n$ は `D[n - 1]` である。
# 円周上に並んだ 8 つのガウス分布から $N = 1000$ 点を取り出し、厳密な対数密度 $\log p(x)$ も計算する。

# %%
p = ring_of_gaussians(n_modes=8, radius=2.0, std=0.15)
D = p.sample(1000, seed=0)
print("D の形:", D.shape, " x^1 =", D[0].round(3), " log p(x^1) =", p.log_prob(D[:1]).round(3))

fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(D[:, 0], D[:, 1], s=3)
ax.set_aspect("equal")
ax.set_title("円周上の 8 個のモードから 1000 点")
plt.show()

# %% [markdown]
# ## 前向き過程: ノイズで壊していく
#
# $x_t = \sqrt{\bar{\alpha}_t}\, x_0 + \sqrt{1 - \bar{\alpha}_t}\, \varepsilon$ で、$t$ が大きくなるほど
# データは標準正規分布 $\mathcal{N}(0, I)$ に近づく。平均と分散で確かめる。

# %%
from gen_lib.diffusion.forward_noising import alpha_bar_from_betas, linear_beta_schedule, noise_data

alpha_bar = alpha_bar_from_betas(linear_beta_schedule(T=1000))
for t in [1, 100, 300, 1000]:
    x_t = noise_data(D, alpha_bar[t - 1], seed=t)
    print(f"t={t:4d}  alpha_bar={alpha_bar[t - 1]:.4f}  平均={x_t.mean(axis=0).round(2)}  分散={x_t.var(axis=0).round(2)}")

# %% [markdown]
# ## 分配関数を数値積分で求める
#
# ガウス型のエネルギー $f(x) = \frac{1}{2}(x-\mu)^\top \Lambda (x-\mu)$ では
# $\log Z = \frac{d}{2}\log 2\pi - \frac{1}{2}\log\det\Lambda$ が閉じた形で分かる。
# 2 次元の格子で数値積分した値と比べ、格子を細かくすると誤差が急速に小さくなることを見る。

# %%
from gen_lib.generative.energy_model import gaussian_log_partition, log_partition_on_grid, quadratic_energy
from gen_lib.core.grid import make_grid

mean = np.array([0.3, -0.2])
precision = np.array([[2.0, 0.6], [0.6, 1.0]])
exact = gaussian_log_partition(precision)
for n in [5, 9, 17, 33]:
    grid = make_grid([-8, -8], [8, 8], n)
    numeric = log_partition_on_grid(lambda x: quadratic_energy(x, mean, precision), grid)
    print(f"格子 {n:2d}×{n:2d}: log Z = {numeric:.10f}  誤差 = {abs(numeric - exact):.1e}")
print(f"閉じた形: log Z = {exact:.10f}")

# %% [markdown]
# ## 専門家の積
#
# エネルギーを足すと密度は掛け算になる: $\exp(-f_1 - f_2) \propto q_1 q_2$。
# 両辺を格子上で正規化して比べる。

# %%
from gen_lib.generative.energy_model import double_well_energy, normalize_on_grid

grid = make_grid([-4, -4], [4, 4], 81)
f1 = double_well_energy(grid.points)
f2 = quadratic_energy(grid.points, np.array([1.0, 0.5]), np.eye(2))
lhs = normalize_on_grid(-(f1 + f2), grid)
rhs = normalize_on_grid(np.log(normalize_on_grid(-f1, grid) * normalize_on_grid(-f2, grid)), grid)
print("正規化した exp(-f1-f2) と q1 q2 の最大の差:", np.abs(lhs - rhs).max())

# %% [markdown]
# ## エネルギーベースモデルの最尤推定
#
# 勾配 $\nabla_\theta L = -\mathbb{E}_{\text{data}}[\nabla_\theta f_\theta] + \mathbb{E}_{q_\theta}[\nabla_\theta f_\theta]$
# のモデル側の期待値を格子上で厳密に計算して、多項式エネルギーのモデルを学習する。

# %%
from gen_lib.generative.maximum_likelihood import three_mode_mixture, training_setup
from gen_lib.generative.maximum_likelihood import average_log_likelihood, fit_ebm

data, grid, model = training_setup(seed=0)
result = fit_ebm(model, data, grid, steps=2000)
print(f"L(θ): 学習前 {result.history[0]:.3f} → 学習後 {result.history[-1]:.3f}")
print(f"真の密度の平均対数尤度: {average_log_likelihood(three_mode_mixture().log_prob, data):.3f}")

# %% [markdown]
# ## 決定的な回帰と条件付き生成モデル
#
# 条件 $c$ に対して $y$ が 2 つのモードを持つとき、2 乗誤差で学習した回帰は条件付き平均
# $\mathbb{E}[y \mid c]$ を出力し、データのないモードの間に答える。
# 混合密度ネットワーク $q_\theta(y \mid c)$ からサンプリングすれば両方のモードが再現される。

# %%
from gen_lib.generative.mean_regression import predict, train_mean_regressor
from gen_lib.generative.mixture_density_network import train_mdn
from gen_lib.distributions.two_mode_conditional import TwoModeConditional, off_mode_fraction

target = TwoModeConditional()
c, y = target.sample_joint(2000, seed=0)
regressor = train_mean_regressor(y, c, seed=0)
mdn = train_mdn(y, c, seed=0)
c_test = np.linspace(-1, 1, 500)
print("モードから 3σ 以上離れた出力の割合")
print("  回帰           :", off_mode_fraction(target, predict(regressor, c_test), c_test))
print("  MDN のサンプル :", off_mode_fraction(target, mdn.sample(c_test, seed=1), c_test))
print("  真のサンプル   :", off_mode_fraction(target, target.sample(c_test, seed=2), c_test))

# %% [markdown]
# ## GAN の最適な識別器
#
# 識別器を最適にすると $D^*(x) = \frac{p(x)}{p(x) + q_\theta(x)}$ となり、
# 価値関数は $V(D^*, G) = -\log 4 + 2\,\mathrm{JS}(p \,\|\, q_\theta)$ になる。1 次元の格子で確かめる。

# %%
from gen_lib.generative.gan import jensen_shannon, optimal_discriminator, value_function

# q_θ の裾を p より広くとる (逆だと裾で D* が丸めで 1 になり、log(1 - D*) = -inf になる)
x = np.linspace(-10, 10, 5001)
dx = x[1] - x[0]
p_x = np.exp(-0.5 * (x + 1) ** 2) / np.sqrt(2 * np.pi)
q_x = np.exp(-0.5 * ((x - 1.5) / 1.5) ** 2) / (1.5 * np.sqrt(2 * np.pi))
v = value_function(p_x, q_x, optimal_discriminator(p_x, q_x), dx)
print(f"V(D*, G) = {v:.6f},  -log 4 + 2 JS = {-np.log(4) + 2 * jensen_shannon(p_x, q_x, dx):.6f}")
