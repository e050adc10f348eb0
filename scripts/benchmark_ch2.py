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

N_CHAINS = 1000  # ランジュバン法の失敗設定と同じ連鎖の数
REPEATS = 10  # (d) とモードの重みを平均する回数
FLOOR_PAIRS = 50  # ノイズの床を平均する組の数 (厳密なサンプリングは速いので多めに)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    import numpy as np

    from gen_lib.score_based.annealed_langevin import annealed_langevin_sample
    from gen_lib.score_based.langevin import langevin_failure_setting, separated_modes_mixture
    from gen_lib.metrics.mode_weights import estimate_mode_weights, mode_weight_error
    from gen_lib.experiments.ch2_ncsn import (N_STEPS_EACH, NCSN_SETTINGS, STEP_SIZE, compare_samplers, noise_levels,
                                         score_errors, trained_ncsn)
    from gen_lib.metrics.two_sample import energy_distance

    mixture = separated_modes_mixture()
    sigmas = noise_levels()
    start = time.perf_counter()
    model, history = trained_ncsn()
    train_seconds = time.perf_counter() - start
    print("第 2 章ベンチマーク: NCSN と焼きなましランジュバン法")
    print(f"  データ分布: 0.2 N((-5,-5), I) + 0.8 N((5,5), I)、初期値: 箱 [-8, 8]^2 の一様分布、連鎖 {N_CHAINS} 本")
    print(f"  ノイズ: σ = {sigmas[0]:g} → {sigmas[-1]:g} の等比数列 L = {len(sigmas)}、"
          f"焼きなまし: ε = {STEP_SIZE}, T = {N_STEPS_EACH}")
    print(f"  NCSN の設定: {NCSN_SETTINGS}")
    print(f"  学習時間: {train_seconds:.1f} s (キャッシュ: {os.environ['GEN_LIB_MODEL_CACHE']})")
    print(f"  最後の 100 ステップの損失の平均: {np.mean(history[-100:]):.4f}")

    # (c) スコアの誤差
    errors = score_errors(model.score_numpy, mixture, sigmas, mixture.sample(2000, seed=11), seed=12)
    print("\n(c) 学習したスコアの誤差  MSE = mean ||s_θ(x, σ) - ∇log p_σ(x)||^2  (2000 点、相対 = MSE / mean ||∇log p_σ||^2)")
    print(f"  {'σ':>8} | {'MSE データ点':>12} {'相対':>8} | {'MSE ノイズ付き':>14} {'相対':>8}")
    for i, sigma in enumerate(sigmas):
        print(f"  {sigma:8.3f} | {errors['data'][i]:12.3e} {errors['relative_data'][i]:8.4f} | "
              f"{errors['noised'][i]:14.3e} {errors['relative_noised'][i]:8.4f}")

    # 時間: 学習したスコアでの焼きなましランジュバン法 1 回
    setting = langevin_failure_setting(N_CHAINS)
    start = time.perf_counter()
    annealed_langevin_sample(model.score_numpy, setting.x0, sigmas, STEP_SIZE, N_STEPS_EACH, seed=setting.seed)
    sample_seconds = time.perf_counter() - start

    # (d) とモードの重み: R 回 (初期値・ノイズ・比べる相手を変えて) の平均
    names = {"plain_exact": "ランジュバン法 + 厳密なスコア",
             "plain_learned": "ランジュバン法 + 学習 s_θ(x, σ_L)",
             "annealed_exact": "焼きなまし + 厳密なスコア",
             "annealed_learned": "焼きなまし + 学習した NCSN"}
    weight_errors = {key: [] for key in names}
    first_weights = {key: [] for key in names}
    distances = {key: [] for key in names}
    floors = []
    for r in range(REPEATS):
        samples = compare_samplers(model, N_CHAINS, seed=10 * r)
        reference = samples["reference"]
        for key in names:
            weight_errors[key].append(mode_weight_error(mixture, samples[key]))
            first_weights[key].append(estimate_mode_weights(mixture, samples[key])[0])
            distances[key].append(energy_distance(samples[key], reference))
    for j in range(FLOOR_PAIRS):
        floors.append(energy_distance(mixture.sample(N_CHAINS, seed=5000 + j),
                                      mixture.sample(N_CHAINS, seed=6000 + j)))
    floor = np.mean(floors)
    binomial = np.sqrt(0.2 * 0.8 / N_CHAINS) * np.sqrt(2 / np.pi)  # 厳密なサンプルでも出る |π̂ - π| の期待値
    print(f"\n(d) エネルギー距離と、モードの重みの誤差 (全変動距離)。{REPEATS} 回の平均 [最小, 最大]、各回 {N_CHAINS} 点")
    print(f"  ノイズの床 (厳密なサンプルどうし、{FLOOR_PAIRS} 組): {floor:.4f} [{min(floors):.4f}, {max(floors):.4f}]")
    print(f"  {'サンプラー':<30} {'距離':>8} {'床との比':>6}   {'重みの誤差':>8} [最小, 最大]   π̂_1 の平均 (真値 0.2)")
    for key, name in names.items():
        d, w = np.array(distances[key]), np.array(weight_errors[key])
        print(f"  {name:<30} {d.mean():8.4f} {d.mean() / floor:6.2f}   {w.mean():8.4f} [{w.min():.3f}, {w.max():.3f}]"
              f"   {np.mean(first_weights[key]):.4f}")
    print(f"  (参考: 厳密なサンプル {N_CHAINS} 点でも重みの誤差の期待値は {binomial:.4f})")
    ratio = np.mean(distances["annealed_learned"]) / floor
    verdict = "達成" if ratio <= 1.5 else "未達"
    print(f"\n目標: 焼きなまし + 学習した NCSN の距離が床の 1.5 倍以内 → 比 {ratio:.2f} ({verdict})")
    print(f"サンプリング時間 (学習した NCSN、{N_CHAINS} 本 × L T = {len(sigmas) * N_STEPS_EACH} ステップ): "
          f"{sample_seconds:.2f} s")


if __name__ == "__main__":
    main()
