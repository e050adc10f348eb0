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
# # ハンズオン: 第 2 章 スコアとスコアマッチング
#
# 第 2 章の流れを、`gen_lib` の関数を呼びながら最初から最後まで実行する。
#
# 1. スコア $s(x) = \nabla_x \log p(x)$ を閉じた形と自動微分で計算して比べる
# 2. 厳密なスコアを使っても、ランジュバン法が離れたモードの重みを取り違えることを確かめる
# 3. デノイジングスコアマッチングの損失と Tweedie の公式を数値で確かめる
# 4. ノイズ条件付きスコアモデル (NCSN) と焼きなましランジュバン法で、重みの取り違えを直す
#
# 使う分布は、ランジュバン法の節と同じ離れた 2 つのモードを持つガウス混合
# $p(x) = \frac{1}{5}\mathcal{N}((-5,-5)^\top, I) + \frac{4}{5}\mathcal{N}((5,5)^\top, I)$ である。
# NCSN の学習済みの重みはサイトのビルド時にキャッシュされるので、ここでは読み込むだけで済む
# (キャッシュがなければ 2 コアの CPU で 15 秒ほど学習する)。

# %%
import time

import numpy as np
import torch

from gen_lib.core.plotting import DATA_COLOR, MODEL_COLOR, new_figure
from gen_lib.experiments.ch2_ncsn import SamplerSettings, sampler_comparison, score_error_curves, trained_ncsn
from gen_lib.metrics.mode_weights import estimate_mode_weights, mode_weight_error
from gen_lib.metrics.two_sample import energy_distance, noise_floor
from gen_lib.score_based.denoising_score_matching import (denoising_score_matching_loss,
                                                          mixture_posterior_mean, tweedie_denoise)
from gen_lib.score_based.langevin import langevin_failure_setting, separated_modes_mixture
from gen_lib.score_based.score import score_from_log_density

np.set_printoptions(precision=4, suppress=True)
start = time.perf_counter()
mixture = separated_modes_mixture()
print("重み π:", mixture.weights)
print("平均 μ:", mixture.means.tolist())

# %% [markdown]
# ## スコア関数
#
# ガウス混合のスコアは負担率 $r_k(x)$ を使って
# $s(x) = -\sum_k r_k(x)\, \Sigma_k^{-1}(x - \mu_k)$ と閉じた形で書ける。
# torch の自動微分で $\log p(x)$ を微分した値と比べる。

# %%
x = np.random.default_rng(0).uniform(-8, 8, size=(1000, 2))
closed_form = mixture.score(x)
autograd = score_from_log_density(mixture.log_prob_torch, x)
print("閉じた形と自動微分の差の最大値:", np.abs(closed_form - autograd).max())
print("中点 x = 0 のスコア:", mixture.score(np.zeros((1, 2)))[0], "(= Σ π_k μ_k)")

# %% [markdown]
# ## ランジュバン法の失敗
#
# 箱 $[-8, 8]^2$ の一様分布から 1000 本の連鎖を出発させ、厳密なスコアで
# $x^{(m+1)} = x^{(m)} + \frac{\tau}{2} s(x^{(m)}) + \sqrt{\tau}\, z^{(m)}$ を回す ($\tau$ はステップ幅)。
# 下の実験 `sampler_comparison` は、ランジュバン法と焼きなましランジュバン法を同じ初期値・同じ総ステップ数で
# 走らせる (サイトの図と同じ結果。ビルドでキャッシュされている)。

# %%
model, history = trained_ncsn()
samples = sampler_comparison()["samples"]
setting = langevin_failure_setting()
print("初期値の重み:              ", estimate_mode_weights(mixture, setting.x0))
print("ランジュバン法 (厳密なスコア):", estimate_mode_weights(mixture, samples["plain_exact"]))
print("厳密なサンプル:            ", estimate_mode_weights(mixture, samples["reference"]))

# %% [markdown]
# ランジュバン法の重みは初期値の割合 (ほぼ半々) のままで、真の $0.2 : 0.8$ にならない。
#
# ## デノイジングスコアマッチング
#
# $\tilde{x} = x + \sigma z$ の分布 $p_\sigma$ のスコアは、DSM の損失
# $\ell_{\mathrm{DSM}}(\theta; \sigma) = \frac{1}{2}\mathbb{E}\|s_\theta(\tilde{x}) + z/\sigma\|^2$ で学習できる。
# 厳密なスコア $\nabla \log p_\sigma$ を入れると、損失は 0 ではなく定数
# $C_\sigma = \frac{1}{2}\left(d/\sigma^2 - \mathbb{E}_{p_\sigma}\|\nabla \log p_\sigma\|^2\right)$ になる (Vincent 2011)。

# %%
sigma = 1.0
data = torch.as_tensor(mixture.sample(100_000, seed=1))
exact_sigma = mixture.noised(1.0, sigma)  # p_σ もガウス混合


def exact_score_torch(x_tilde):
    return torch.as_tensor(exact_sigma.score(x_tilde.detach().numpy()))


dsm = denoising_score_matching_loss(exact_score_torch, data, sigma, generator=2).item()
x_tilde = exact_sigma.sample(100_000, seed=3)
c_sigma = 0.5 * (2 / sigma**2 - np.mean(np.sum(exact_sigma.score(x_tilde) ** 2, axis=1)))
print(f"厳密なスコアでの DSM の損失: {dsm:.4f}   C_σ (モンテカルロ): {c_sigma:.4f}")

# %% [markdown]
# Tweedie の公式 $\mathbb{E}[x \mid \tilde{x}] = \tilde{x} + \sigma^2 \nabla \log p_\sigma(\tilde{x})$ を、
# スコアを使わない事後平均の式と比べる。

# %%
points = x_tilde[:500]
by_tweedie = tweedie_denoise(points, exact_sigma.score(points), sigma)
by_posterior = mixture_posterior_mean(mixture, points, sigma)
print("Tweedie の公式と事後平均の差の最大値:", np.abs(by_tweedie - by_posterior).max())

# %% [markdown]
# ## NCSN と焼きなましランジュバン法
#
# ノイズの列 $\sigma_1 > \cdots > \sigma_L$ (等比数列) のすべてのスコアを、一つのネットワーク
# $s_\theta(x, \sigma)$ で学習した。目的関数は
# $J_{\mathrm{NCSN}}(\theta) = \frac{1}{L}\sum_l \sigma_l^2\, \ell_{\mathrm{DSM}}(\theta; \sigma_l)$ である。
# 学習したスコアと厳密なスコア $\nabla \log p_{\sigma_l}$ の相対 2 乗誤差を $\sigma_l$ ごとに測る。

# %%
errors = score_error_curves()  # 2000 点での誤差 (サイトの図と同じ実験)
sigmas = errors["sigmas"]
print(f"学習: {len(history)} ステップ、最後の 100 ステップの損失の平均 {np.mean(history[-100:]):.4f}")
print("   σ_i   | 相対誤差 (データ点) | 相対誤差 (ノイズを加えた点)")
for sigma_l, e_data, e_noised in zip(sigmas, errors["relative_data"], errors["relative_noised"]):
    print(f"{sigma_l:8.3f} | {e_data:18.4f} | {e_noised:.4f}")

# %% [markdown]
# 焼きなましランジュバン法は、段 $l$ でステップ幅 $\alpha_l = \tau\, \sigma_l^2 / \sigma_L^2$ のランジュバン法を
# $M$ 回ずつ、$\sigma_1$ から $\sigma_L$ まで回す。4 つのサンプラーの重みと、厳密なサンプルとのエネルギー距離を比べる。
# ノイズの床は、同じ大きさの厳密なサンプル集合どうしの距離 (20 組の平均) である。

# %%
sampler = SamplerSettings()
print(f"L = {len(sigmas)}, M = {sampler.n_steps_each}, τ = {sampler.step_size}")
reference = samples["reference"]
floor = noise_floor(mixture.sample, len(reference), distance=energy_distance, n_pairs=20, seed=100).mean()
names = {"plain_exact": "ランジュバン法 + 厳密なスコア",
         "plain_learned": "ランジュバン法 + 学習 s_θ(x, σ_L)",
         "annealed_exact": "焼きなまし + 厳密なスコア",
         "annealed_learned": "焼きなまし + 学習した NCSN"}
print(f"ノイズの床: {floor:.4f}")
for key, name in names.items():
    w = estimate_mode_weights(mixture, samples[key])
    print(f"{name:<24} 重み {w}  重みの誤差 {mode_weight_error(mixture, samples[key]):.3f}  "
          f"エネルギー距離 {energy_distance(samples[key], reference):.4f}")

# %% [markdown]
# 1 回ずつのエネルギー距離は、各モードに入った点の数の偶然のばらつきで大きく揺れる。
# 平均どうしの比較は `scripts/benchmark_ch2.py` が行う。
#
# 最後に、4 つのサンプルを並べて描く。

# %%
panels = [("reference", "厳密なサンプル", DATA_COLOR), ("plain_exact", "ランジュバン法", MODEL_COLOR),
          ("annealed_exact", "焼きなまし (厳密)", MODEL_COLOR), ("annealed_learned", "焼きなまし (NCSN)", MODEL_COLOR)]
fig, axes = new_figure(1, len(panels), width=12.0, height=3.2)
for ax, (key, title, color) in zip(axes, panels):
    w = estimate_mode_weights(mixture, samples[key])
    ax.scatter(samples[key][:, 0], samples[key][:, 1], s=1, color=color)
    ax.set(xlim=(-10, 10), ylim=(-10, 10), aspect="equal", title=f"{title}\n重み ({w[0]:.2f}, {w[1]:.2f})")
fig

# %%
print(f"このノートブックの実行時間: {time.perf_counter() - start:.1f} 秒")
