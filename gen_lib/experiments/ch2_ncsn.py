r"""第 2 章の NCSN の実験: ランジュバン法が失敗する設定で、焼きなましランジュバン法と学習した NCSN を試す。

- データ分布と連鎖の初期値は ``gen_lib.score_based.langevin.langevin_failure_setting`` と同じ
  ($\tfrac15 \mathcal{N}((-5,-5), I) + \tfrac45 \mathcal{N}((5,5), I)$、箱 $[-8, 8]^2$ の一様分布)。
- ノイズの大きさは $\sigma_1 = 20$ から $\sigma_L = 0.2$ までの等比数列 ($L = 10$)。
  $\sigma_1$ は 2 つのモードの距離 ($10\sqrt{2} \approx 14$) より大きく取る (Song & Ermon 2020)。
- NCSN の学習は ``gen_lib.core.cache.cached`` でキャッシュする。図・ノートブック・
  ベンチマークは同じ学習済みモデルを使い、ビルド 1 回につき学習は 1 回で済む。
"""

from __future__ import annotations

import numpy as np

from gen_lib.distributions.gaussian_mixture import GaussianMixture
from gen_lib.score_based.annealed_langevin import annealed_langevin_sample
from gen_lib.score_based.langevin import langevin_failure_setting, langevin_sample, separated_modes_mixture
from gen_lib.score_based.ncsn import (NoiseConditionalScoreNet, check_noise_levels, exact_noise_conditional_score,
                                      geometric_noise_levels,
                          train_ncsn)
from gen_lib.core.cache import cached
from gen_lib.core.validation import as_points, make_rng

# --8<-- [start:settings]
NCSN_SETTINGS = {
    "n_data": 20000,  # データセット D の大きさ N
    "data_seed": 10,
    "sigma_max": 20.0,  # σ_1
    "sigma_min": 0.2,  # σ_L
    "n_levels": 10,  # L
    "steps": 3000,
    "batch_size": 128,
    "lr": 1e-2,
    "hidden": 64,
    "n_hidden_layers": 3,
    "seed": 0,
}
STEP_SIZE = 0.015  # ε (最後の段 σ_L の刻み幅)
N_STEPS_EACH = 200  # T (各段のステップ数)
# --8<-- [end:settings]


def noise_levels(settings: dict = NCSN_SETTINGS) -> np.ndarray:
    """実験で使う $\\sigma_1 > \\cdots > \\sigma_L$。"""
    return geometric_noise_levels(settings["sigma_max"], settings["sigma_min"], settings["n_levels"])


def trained_ncsn(settings: dict = NCSN_SETTINGS) -> tuple[NoiseConditionalScoreNet, list[float]]:
    """失敗設定のデータ D で学習した NCSN と損失の履歴 (キャッシュがあれば学習しない)。"""

    def train() -> dict:
        data = separated_modes_mixture().sample(settings["n_data"], seed=settings["data_seed"])
        return train_ncsn(data, noise_levels(settings), steps=settings["steps"],
                          batch_size=settings["batch_size"], lr=settings["lr"], hidden=settings["hidden"],
                          n_hidden_layers=settings["n_hidden_layers"], seed=settings["seed"])

    result = cached("ncsn-failure", settings, train, depends_on=__name__)
    model = NoiseConditionalScoreNet(2, hidden=settings["hidden"], n_hidden_layers=settings["n_hidden_layers"])
    model.load_state_dict(result["state_dict"])
    model.eval()
    return model, list(result["history"])


# --8<-- [start:score_errors]
def score_errors(score_fn, mixture: GaussianMixture, sigmas, x, seed=0) -> dict[str, np.ndarray]:
    r"""各 $\sigma_i$ での平均 2 乗誤差 $\frac1N \sum_n \|s(x^n, \sigma_i) - \nabla \log p_{\sigma_i}(x^n)\|^2$。

    ``data`` はデータ点 $x^n \sim p$ そのもので、``noised`` はノイズを加えた点
    $\tilde{x}^n = x^n + \sigma_i z^n \sim p_{\sigma_i}$ で測る。``relative_*`` は
    厳密なスコアの 2 乗ノルムの平均 $\frac1N \sum_n \|\nabla \log p_{\sigma_i}(x^n)\|^2$ で割った値。
    """
    x = as_points(x, dim=mixture.dim)
    sigmas = check_noise_levels(sigmas)
    rng = make_rng(seed)
    exact = exact_noise_conditional_score(mixture)
    out = {key: np.zeros(len(sigmas)) for key in ("data", "noised", "relative_data", "relative_noised")}
    for i, sigma in enumerate(sigmas):
        for key, points in (("data", x), ("noised", x + sigma * rng.standard_normal(x.shape))):
            target = exact(points, sigma)
            mse = np.mean(np.sum((score_fn(points, sigma) - target) ** 2, axis=1))
            out[key][i] = mse
            out["relative_" + key][i] = mse / np.mean(np.sum(target**2, axis=1))
    return out
# --8<-- [end:score_errors]


# --8<-- [start:compare_samplers]
def compare_samplers(model: NoiseConditionalScoreNet, n_chains: int = 1000, seed: int = 0,
                     settings: dict = NCSN_SETTINGS) -> dict[str, np.ndarray]:
    r"""失敗設定 (同じ初期値 $x_0$) で 4 つのサンプラーを走らせた結果 (各 (N, 2))。

    総ステップ数はそろえる: ランジュバン法も焼きなましと同じ $L T$ ステップ回す。

    - ``plain_exact``: ランジュバン法 + 厳密なスコア $\nabla \log p$ (ε = 0.1)
    - ``plain_learned``: ランジュバン法 + 学習したスコア $s_\theta(x, \sigma_L)$ (同じ ε)
    - ``annealed_exact``: 焼きなましランジュバン法 + 厳密な $\nabla \log p_{\sigma_i}$
    - ``annealed_learned``: 焼きなましランジュバン法 + 学習した $s_\theta(x, \sigma_i)$
    - ``reference``: 比べる相手の厳密なサンプル $x \sim p$
    """
    setting = langevin_failure_setting(n_chains, seed=seed)
    mixture, sigmas = setting.mixture, noise_levels(settings)
    exact = exact_noise_conditional_score(mixture)
    sigma_min = float(sigmas[-1])

    def plain(score_fn):
        return langevin_sample(score_fn, setting.x0, setting.step_size, len(sigmas) * N_STEPS_EACH,
                               seed=setting.seed)

    def annealed(score_fn):
        return annealed_langevin_sample(score_fn, setting.x0, sigmas, STEP_SIZE, N_STEPS_EACH, seed=setting.seed)

    return {
        "plain_exact": plain(mixture.score),
        "plain_learned": plain(lambda x: model.score_numpy(x, sigma_min)),
        "annealed_exact": annealed(exact),
        "annealed_learned": annealed(model.score_numpy),
        "reference": setting.reference_samples(),
    }
# --8<-- [end:compare_samplers]
