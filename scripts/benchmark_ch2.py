"""第 2 章の品質と速度の測定 (テストではない): NCSN と焼きなましランジュバン法。

    .venv/bin/python scripts/benchmark_ch2.py            # 一時ディレクトリで学習し直し、学習時間も測る
    .venv/bin/python scripts/benchmark_ch2.py --cache    # プロジェクトのモデルキャッシュを使う

測るもの (シードはすべて固定):
  (c) 学習したスコアと厳密なスコア ∇log p_σ の平均 2 乗誤差 (σ ごと、データ点とノイズを加えた点)
  (d) 焼きなましランジュバン法 (学習した NCSN) のサンプルと厳密なサンプルのエネルギー距離と、
      ノイズの床 (同じ大きさの厳密なサンプル集合どうしの距離)。R 回の平均どうしの比を出す
  モードの重みの誤差 (全変動距離): ランジュバン法と焼きなましランジュバン法、厳密なスコアと学習したスコア
  学習時間、サンプリング時間
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REPEATS = 10  # (d) とモードの重みを平均する回数
FLOOR_PAIRS = 200  # ノイズの床を平均する組の数 (1 組ごとのばらつきが大きいので多めに: 平均の相対誤差は約 5%)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", action="store_true",
                        help="use the project model cache (GEN_LIB_MODEL_CACHE or .cache/models) instead of "
                             "training afresh in a temporary directory")
    args = parser.parse_args()
    if args.cache:
        os.environ.setdefault("GEN_LIB_MODEL_CACHE", str(ROOT / ".cache" / "models"))
        run()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["GEN_LIB_MODEL_CACHE"] = tmp
            run()


def run() -> None:
    from dataclasses import replace

    import numpy as np

    from gen_lib.experiments.ch2_ncsn import (EvaluationSettings, NcsnSettings, SamplerSettings, noise_levels,
                                              sampler_comparison, score_error_curves, trained_ncsn)
    from gen_lib.metrics.mode_weights import mode_weight_error
    from gen_lib.metrics.two_sample import energy_distance, noise_floor
    from gen_lib.score_based.annealed_langevin import annealed_langevin_sample
    from gen_lib.score_based.langevin import langevin_failure_setting, separated_modes_mixture

    mixture = separated_modes_mixture()
    settings, sampler = NcsnSettings(), SamplerSettings()
    n_chains, sigmas = sampler.n_chains, noise_levels(settings)
    start = time.perf_counter()
    model, history = trained_ncsn(settings)
    train_seconds = time.perf_counter() - start
    print("第 2 章ベンチマーク: NCSN と焼きなましランジュバン法")
    print(f"  データ分布: 0.2 N((-5,-5), I) + 0.8 N((5,5), I)、初期値: 箱 [-8, 8]^2 の一様分布、連鎖 {n_chains} 本")
    print(f"  ノイズ: σ = {sigmas[0]:g} → {sigmas[-1]:g} の等比数列 L = {len(sigmas)}、"
          f"焼きなまし: ε = {sampler.step_size}, T = {sampler.n_steps_each}")
    print(f"  NCSN の設定: {settings}")
    print(f"  学習時間: {train_seconds:.1f} s (キャッシュ: {os.environ['GEN_LIB_MODEL_CACHE']})")
    print(f"  最後の 100 ステップの損失の平均: {np.mean(history[-100:]):.4f}")

    # (c) スコアの誤差 (図と同じ実験)
    evaluation = EvaluationSettings(ncsn=settings)
    errors = score_error_curves(evaluation)
    print(f"\n(c) 学習したスコアの誤差  MSE = mean ||s_θ(x, σ) - ∇log p_σ(x)||^2  "
          f"({evaluation.n_points} 点、相対 = MSE / mean ||∇log p_σ||^2)")
    print(f"  {'σ':>8} | {'MSE データ点':>12} {'相対':>8} | {'MSE ノイズ付き':>14} {'相対':>8}")
    for i, sigma in enumerate(sigmas):
        print(f"  {sigma:8.3f} | {errors['data'][i]:12.3e} {errors['relative_data'][i]:8.4f} | "
              f"{errors['noised'][i]:14.3e} {errors['relative_noised'][i]:8.4f}")

    # 時間: 学習したスコアでの焼きなましランジュバン法 1 回
    setting = langevin_failure_setting(n_chains)
    start = time.perf_counter()
    annealed_langevin_sample(model.score_numpy, setting.x0, sigmas, sampler.step_size, sampler.n_steps_each,
                             seed=setting.seed)
    sample_seconds = time.perf_counter() - start

    # (d) とモードの重み: R 回 (初期値・ノイズ・比べる相手を変えて) の平均。1 回目は図と同じ実験
    names = {"plain_exact": "ランジュバン法 + 厳密なスコア",
             "plain_learned": "ランジュバン法 + 学習 s_θ(x, σ_L)",
             "annealed_exact": "焼きなまし + 厳密なスコア",
             "annealed_learned": "焼きなまし + 学習した NCSN"}
    weight_errors = {key: [] for key in names}
    first_weights = {key: [] for key in names}
    distances = {key: [] for key in names}
    for r in range(REPEATS):
        result = sampler_comparison(replace(sampler, seed=10 * r))
        samples = result["samples"]
        for key in names:
            weight_errors[key].append(mode_weight_error(mixture, samples[key]))
            first_weights[key].append(result["weights"][key][0])
            distances[key].append(energy_distance(samples[key], samples["reference"]))
    floors = noise_floor(mixture.sample, n_chains, distance=energy_distance, n_pairs=FLOOR_PAIRS, seed=5000)
    floor = floors.mean()
    binomial = np.sqrt(0.2 * 0.8 / n_chains) * np.sqrt(2 / np.pi)  # 厳密なサンプルでも出る |π̂ - π| の期待値
    print(f"\n(d) エネルギー距離と、モードの重みの誤差 (全変動距離)。{REPEATS} 回の平均 [最小, 最大]、各回 {n_chains} 点")
    print(f"  ノイズの床 (厳密なサンプルどうし、{FLOOR_PAIRS} 組): {floor:.4f} [{floors.min():.4f}, {floors.max():.4f}]")
    print(f"  {'サンプラー':<30} {'距離':>8} {'床との比':>6}   {'重みの誤差':>8} [最小, 最大]   π̂_1 の平均 (真値 0.2)")
    for key, name in names.items():
        d, w = np.array(distances[key]), np.array(weight_errors[key])
        print(f"  {name:<30} {d.mean():8.4f} {d.mean() / floor:6.2f}   {w.mean():8.4f} "
              f"[{w.min():.3f}, {w.max():.3f}]   {np.mean(first_weights[key]):.4f}")
    print(f"  (参考: 厳密なサンプル {n_chains} 点でも重みの誤差の期待値は {binomial:.4f})")
    ratio = np.mean(distances["annealed_learned"]) / floor
    verdict = "達成" if ratio <= 1.5 else "未達"
    print(f"\n目標: 焼きなまし + 学習した NCSN の距離が床の 1.5 倍以内 → 比 {ratio:.2f} ({verdict})")
    print(f"サンプリング時間 (学習した NCSN、{n_chains} 本 × L T = {len(sigmas) * sampler.n_steps_each} ステップ): "
          f"{sample_seconds:.2f} s")


if __name__ == "__main__":
    main()
