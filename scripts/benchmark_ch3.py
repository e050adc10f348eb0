"""第 3 章の品質と速度の測定 (テストではない): 円周上の 8 個のモードで学習した DDPM とフローマッチング。

    .venv/bin/python scripts/benchmark_ch3.py                  # 全部 (学習済みモデルはプロジェクトのキャッシュ)
    .venv/bin/python scripts/benchmark_ch3.py --fresh          # 一時ディレクトリで学習し直す
    .venv/bin/python scripts/benchmark_ch3.py --quick          # 小さな設定での動作確認
    .venv/bin/python scripts/benchmark_ch3.py --json out.json  # 数値を JSON にも書く

測るもの (シードはすべて固定、torch と BLAS は 1 スレッド):
  (a) エントロピー H(p) (厳密な log p のモンテカルロ) と、確率フロー ODE の厳密な対数尤度による
      KL(p‖q_θ) = NLL − H(p)。ベンチマークで長く学習したモデルとビルドのモデル (ch3_models の既定)
  (b) サンプルの 2 サンプル距離: エネルギー距離 (ノイズの床と比べる) と 2-ワッサースタイン距離。
      DDPM 1000 ステップと、ステップ数を変えた DDIM (η = 0)・オイラー・丸山法・確率フロー ODE・
      フローマッチング。床の 1.5 倍に届く最少のステップ数
  (c) 速さ: 1000 ステップの DDPM を我々のサンプラーと diffusers の DDPMScheduler で回したときの点/秒
  (d) ビルドの計算量: 第 3 章の実験と図を冷えたキャッシュで計算した時間の和
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # numpy の行列演算も 1 スレッド (ほかの計算と CPU を分け合う)

import argparse
import json
import math
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

T_START = 1e-3  # DDPM の確率フロー ODE を始める時刻 (ネットワークは t ≥ 1/T で学習している)


@dataclass(frozen=True)
class BenchmarkSettings:
    """ベンチマークの大きさ。``QUICK`` は同じ処理を小さくした動作確認用。"""

    train_steps: int = 20000  # ベンチマークで学習するモデルのステップ数
    train_batch: int = 512  # そのミニバッチの大きさ
    train_data: int = 20000  # N, 学習データの大きさ
    n_entropy: int = 1_000_000  # H(p) のモンテカルロの点数
    n_likelihood: int = 500  # NLL を測るデータ点の数
    n_exact_check: int = 100  # 厳密なスコアで ODE の尤度を確かめる点の数
    rtol: float = 1e-8  # 尤度の ODE (DOP853) の相対許容誤差
    n_points: int = 2000  # 2 サンプル距離のサンプル数
    n_seeds: int = 10  # エネルギー距離を平均するシードの数
    n_w2_seeds: int = 3  # ステップ数の曲線で W2 を平均するシードの数 (W2 は 1 回数秒かかる)
    n_floor_pairs: int = 50  # エネルギー距離のノイズの床を平均する組の数
    ddim_steps: tuple[int, ...] = (5, 10, 20, 50, 100, 200, 500, 1000)
    sde_steps: tuple[int, ...] = (10, 20, 50, 100, 200, 500, 1000)
    ode_steps: tuple[int, ...] = (5, 10, 20, 50, 100, 200, 500)
    flow_steps: tuple[int, ...] = (2, 5, 10, 20, 50, 100, 200)
    split_times: tuple[float, ...] = (0.1, 0.3, 0.7)  # 誤差の出どころを調べる境の時刻 t_c
    speed_points: int = 2000  # 速さを測るサンプル数
    speed_repeats: int = 3  # 速さの計測の繰り返し (中央値をとる)
    build_models: bool = True  # ビルドのモデル (ch3_models の既定) の行も出すか
    build_costs: bool = True  # (d) を測るか


QUICK = BenchmarkSettings(train_steps=100, train_batch=128, train_data=2000, n_entropy=10_000, n_likelihood=8,
                          n_exact_check=4, rtol=1e-5, n_points=100, n_seeds=2, n_w2_seeds=1, n_floor_pairs=2,
                          ddim_steps=(5, 20), sde_steps=(10, 50), ode_steps=(5, 10), flow_steps=(2, 10),
                          split_times=(0.5,),
                          speed_points=50, speed_repeats=1, build_models=False,
                          build_costs=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny settings for a smoke run of every part")
    parser.add_argument("--fresh", action="store_true",
                        help="train every model afresh in a temporary cache instead of the project cache")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON to this path")
    args = parser.parse_args()
    settings = QUICK if args.quick else BenchmarkSettings()
    if args.quick or args.fresh:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["GEN_LIB_MODEL_CACHE"] = tmp
            numbers = run(settings)
    else:
        os.environ.setdefault("GEN_LIB_MODEL_CACHE", str(ROOT / ".cache" / "models"))
        numbers = run(settings)
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=1, ensure_ascii=False))
        print(f"\nJSON: {args.json}")


# --- モデル ---------------------------------------------------------------------------------------

def network_from(state_dict, model_settings):
    """学習済みの ``TimeConditionedMLP`` (連続時刻 t ∈ [0, 1] で呼ぶ形)。"""
    from gen_lib.diffusion.networks import TimeConditionedMLP

    network = TimeConditionedMLP(2, hidden=model_settings.hidden, n_hidden_layers=model_settings.n_hidden_layers)
    network.load_state_dict(state_dict)
    return network.eval()


def trained_networks(model_settings, *, benchmark: bool) -> dict:
    """{"ddpm", "ddpm_v", "ddpm_likelihood", "flow"} → (ネットワーク, 学習時間 [s], 学習の設定)。

    ``ddpm_v`` は同じ DDPM の目標を v に替えたもの (``prediction="v"``)。
    ``ddpm_likelihood`` は尤度の重みで t を引いて学習したもの (``timesteps="likelihood"``)。
    ``benchmark`` なら ch3_models と同じ学習をこの設定で行い、学習時間とともに ``ch3-benchmark-*`` の名前で
    キャッシュする (ビルドはこの名前を計算しない)。そうでなければビルドのモデル (ch3_models の実験) を読む
    (ビルドに v 予測と尤度の重みのモデルはないので、ビルドの設定の v 予測はここで学習してキャッシュする)。
    """
    from gen_lib.core.cache import cached
    from gen_lib.experiments import ch3_models

    runs = {"ddpm": (ch3_models.ddpm_training, model_settings),
            "ddpm_v": (ch3_models.ddpm_training, replace(model_settings, prediction="v")),
            "flow": (ch3_models.flow_matching_training, model_settings)}
    if benchmark:
        runs["ddpm_likelihood"] = (ch3_models.ddpm_training, replace(model_settings, timesteps="likelihood"))
    out = {}
    for kind, (training, settings) in runs.items():
        def compute(training=training, settings=settings):
            start = time.perf_counter()
            result = training.function(settings)  # 実験のキャッシュを通さずに学習する
            return {**result, "seconds": time.perf_counter() - start}

        if benchmark:
            result = cached(f"ch3-benchmark-{kind.replace('_', '-')}", settings, compute,
                            depends_on=ch3_models.__name__)
        else:
            result = training(settings)
        out[kind] = (network_from(result["state_dict"], settings), result.get("seconds"), settings)
    return out


def ddpm_score(network, model_settings, sde):
    r"""DDPM のネットワーク ($t \in [0, 1]$ で呼ぶ) のスコア。予測の種類 (ε か v) は学習の設定のとおりに変換する
    (gen_lib.diffusion.sde.score_from_epsilon)。"""
    from gen_lib.diffusion.networks import discrete_model
    from gen_lib.diffusion.sde import score_from_epsilon

    T = model_settings.T
    return score_from_epsilon(discrete_model(network, T), sde, T, prediction=model_settings.prediction)


# --- 測定 -----------------------------------------------------------------------------------------

def likelihood_row(velocity, x, log_p, t_start: float, rtol: float) -> dict:
    """NLL = −mean log q_θ(x) と、対にした差 log p − log q_θ の平均 (= KL の推定) とその標準誤差。"""
    from gen_lib.diffusion.likelihood import ode_log_likelihood
    from gen_lib.diffusion.sde import VPSDE

    start = time.perf_counter()
    log_q = ode_log_likelihood(velocity, x, VPSDE().prior_log_prob, t_start=t_start, rtol=rtol,
                               atol=rtol).numpy()
    gap = log_p - log_q
    return {"nll": float(-log_q.mean()), "nll_se": float(log_q.std(ddof=1) / math.sqrt(len(x))),
            "kl": float(gap.mean()), "kl_se": float(gap.std(ddof=1) / math.sqrt(len(x))),
            "seconds": time.perf_counter() - start}


def kl_by_time(score, true_score, x, log_p, settings: BenchmarkSettings) -> list[dict]:
    r"""$t < t_c$ では学習したスコア、$t \ge t_c$ では厳密なスコアを使う確率フロー ODE の KL (t_c ごと)。

    $t_c = 1$ なら学習したモデルそのもの、$t_c = 0$ なら厳密な ODE (KL ≈ 0)。KL がどの $t_c$ で増えるかで、
    ODE の尤度を損なう誤差がどの時刻帯のものかが分かる。
    """
    import torch

    from gen_lib.diffusion.ode import probability_flow
    from gen_lib.diffusion.sde import VPSDE

    def spliced(t_c):
        return lambda y, t: torch.where((t < t_c)[:, None], score(y, t), true_score(y, t))

    return [likelihood_row(probability_flow(VPSDE(), spliced(t_c)), x, log_p, T_START, settings.rtol)
            for t_c in settings.split_times]


def sde_bound(network, model_settings) -> float:
    """同じ ε_θ の逆向き SDE の KL の上界のスコアの項 (gen_lib.diffusion.likelihood.sde_kl_bound)。"""
    import numpy as np

    from gen_lib.diffusion.likelihood import sde_kl_bound
    from gen_lib.diffusion.sde import VPSDE, exact_score
    from gen_lib.experiments.ch3_models import data_distribution

    p, sde = data_distribution(), VPSDE()
    return sde_kl_bound(ddpm_score(network, model_settings, sde), exact_score(p, sde), sde,
                        p.sample(4000, seed=300), np.geomspace(T_START, 1.0, 40), seed=301)["bound"]


def distances(samples_for_seed, settings: BenchmarkSettings, n_w2: int) -> dict:
    """seed ごとのサンプルと厳密なサンプルのエネルギー距離 (n_seeds 回) と W2 (最初の n_w2 回)。"""
    import numpy as np

    from gen_lib.experiments.ch3_models import data_distribution
    from gen_lib.metrics.two_sample import energy_distance
    from gen_lib.metrics.wasserstein import wasserstein2

    p = data_distribution()
    energy, w2 = [], []
    for r in range(settings.n_seeds):
        x = np.asarray(samples_for_seed(r))
        reference = p.sample(settings.n_points, seed=5000 + r)
        energy.append(energy_distance(x, reference))
        if r < n_w2:
            w2.append(wasserstein2(x, reference))
    return {"energy": float(np.mean(energy)), "energy_sd": float(np.std(energy, ddof=1)),
            "w2": float(np.mean(w2)), "w2_sd": float(np.std(w2, ddof=1)) if len(w2) > 1 else 0.0}


def samplers(ddpm_model, scores, flow_network, schedule):
    """名前 → (1 ステップのネットワーク評価回数, sample(n_steps, x_T, seed))。x_T は N(0, I)。

    ``scores`` は DDPM (ε 予測) と v 予測の DDPM の連続時刻のスコア ``{"ddpm", "ddpm_v"}``。"""
    from gen_lib.diffusion.ode import euler, heun, probability_flow
    from gen_lib.diffusion.samplers import ddim_sample, euler_maruyama
    from gen_lib.diffusion.sde import VPSDE, check_time_grid

    sde, score = VPSDE(), scores["ddpm"]
    return {
        "DDIM (η=0, trailing)": (1, lambda n, x, seed: ddim_sample(schedule, ddpm_model, x, n, seed=seed,
                                                                   spacing="trailing")),
        "オイラー・丸山法 (VP SDE)": (1, lambda n, x, seed: euler_maruyama(sde, score, x, n, seed=seed,
                                                                       t_end=T_START)),
        "確率フロー ODE (ホイン法)": (2, lambda n, x, seed: heun(probability_flow(sde, score), x,
                                                               check_time_grid(1.0, T_START, n))),
        "確率フロー ODE v 予測 (ホイン法)": (2, lambda n, x, seed: heun(probability_flow(sde, scores["ddpm_v"]), x,
                                                                   check_time_grid(1.0, T_START, n))),
        "フローマッチング (ホイン法)": (2, lambda n, x, seed: heun(flow_network, x, check_time_grid(1.0, 0.0, n))),
        "フローマッチング (オイラー法)": (1, lambda n, x, seed: euler(flow_network, x, check_time_grid(1.0, 0.0, n))),
    }


def prior_points(n: int, seed: int):
    import torch

    from gen_lib.core.validation import make_generator

    return torch.randn((n, 2), generator=make_generator(seed), dtype=torch.float64)


def diffusers_ddpm(schedule, model, x_T, generator):
    """同じモデル・同じ β で diffusers の DDPMScheduler を回す (timestep k は 0 始まり: 我々の t = k + 1)。"""
    import torch
    from diffusers import DDPMScheduler

    from gen_lib.core.nn import single_thread

    scheduler = DDPMScheduler(num_train_timesteps=schedule.T, trained_betas=schedule.betas.numpy(),
                              clip_sample=False, variance_type="fixed_small")
    scheduler.set_timesteps(schedule.T)
    x, n = x_T.clone(), x_T.shape[0]
    with torch.no_grad(), single_thread():
        for k in scheduler.timesteps:
            x = scheduler.step(model(x, torch.full((n,), int(k) + 1)), k, x, generator=generator).prev_sample
    return x


def speed(schedule, model, settings: BenchmarkSettings) -> dict:
    """点/秒: 我々の ddpm_sample と diffusers の DDPMScheduler。交互に回し、ウォームアップ後の中央値。"""
    import torch

    from gen_lib.diffusion.samplers import ddpm_sample

    x_T = prior_points(settings.speed_points, 7)
    runs = {"ours": lambda: ddpm_sample(schedule, model, x_T, seed=8),
            "diffusers": lambda: diffusers_ddpm(schedule, model, x_T, torch.Generator().manual_seed(8))}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(settings.speed_repeats + 1):  # 1 回目はウォームアップ
        for name, run_once in runs.items():
            start = time.perf_counter()
            samples = run_once()
            if repeat > 0:
                times[name].append(time.perf_counter() - start)
            elif name == "diffusers":
                diffusers_samples = samples.numpy()
    rates = {name: settings.speed_points / statistics.median(values) for name, values in times.items()}
    return {"points_per_second": rates, "ratio": rates["ours"] / rates["diffusers"],
            "diffusers_samples": diffusers_samples}


def build_costs() -> dict:
    """第 3 章の実験 (既定と variants の設定) と図を、冷えたキャッシュで 1 つずつ計算した CPU 時間 [s]。

    1 スレッドなので CPU 時間 (``time.process_time``) は、ほかの計算と CPU を分け合っても変わらない。
    """
    from gen_lib.core.experiment import all_experiments
    from gen_lib.figures import all_figures

    previous = os.environ.get("GEN_LIB_MODEL_CACHE")
    costs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GEN_LIB_MODEL_CACHE"] = tmp
        try:
            experiments = [e for name, e in all_experiments().items() if name.startswith("ch3")]
            experiments.sort(key=lambda e: not e.name.startswith("ch3-models"))  # 学習を先に (ほかが読む)
            for run_experiment in experiments:
                for i, experiment_settings in enumerate(run_experiment.build_settings):
                    start = time.process_time()
                    run_experiment(experiment_settings)
                    costs[run_experiment.name + (f" (variant {i})" if i else "")] = time.process_time() - start
            for name, draw in all_figures().items():
                if name.startswith("ch3-"):
                    start = time.process_time()
                    draw()
                    costs[name] = time.process_time() - start
        finally:
            if previous is None:
                os.environ.pop("GEN_LIB_MODEL_CACHE", None)
            else:
                os.environ["GEN_LIB_MODEL_CACHE"] = previous
    return costs


def two_worker_makespan(durations: list[float]) -> float:
    """2 つのワーカーが長い仕事から順に、空いたほうで計算したときの終了時刻 (LPT の割り当て)。"""
    workers = [0.0, 0.0]
    for duration in sorted(durations, reverse=True):
        workers[workers.index(min(workers))] += duration
    return max(workers)


# --- 本体 -----------------------------------------------------------------------------------------

def run(settings: BenchmarkSettings) -> dict:
    import torch

    from gen_lib.diffusion.networks import discrete_model
    from gen_lib.diffusion.ode import probability_flow
    from gen_lib.diffusion.samplers import ddpm_sample
    from gen_lib.diffusion.sde import VPSDE, exact_score
    from gen_lib.experiments import ch3_models
    from gen_lib.metrics.two_sample import energy_distance, noise_floor
    from gen_lib.metrics.wasserstein import wasserstein2

    p, sde = ch3_models.data_distribution(), VPSDE()
    model_settings = replace(ch3_models.ModelSettings(), steps=settings.train_steps,
                             batch_size=settings.train_batch, n_data=settings.train_data)
    build_settings = ch3_models.ModelSettings()
    schedule = ch3_models.schedule(model_settings)
    out: dict = {"settings": asdict(settings), "model_settings": asdict(model_settings),
                 "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                             "processor": platform.processor() or platform.machine(),
                             "python": platform.python_version(), "torch": torch.__version__,
                             "torch_threads_while_sampling": 1}}
    print("第 3 章ベンチマーク: 円周上の 8 個のモード (半径 2、標準偏差 0.15)、線形スケジュール T = 1000")
    print(f"  マシン: {out['machine']['platform']}, os.cpu_count() = {os.cpu_count()}, torch {torch.__version__}"
          f" (計算は 1 スレッド)")
    print(f"  ベンチマークのモデル: {model_settings}")
    print(f"  ビルドのモデル:       {build_settings}")

    networks = trained_networks(model_settings, benchmark=True)
    build = trained_networks(build_settings, benchmark=False) if settings.build_models else {}
    ddpm_network, flow_network = networks["ddpm"][0], networks["flow"][0]
    ddpm_model = discrete_model(ddpm_network, schedule.T)
    train_seconds = {kind: seconds for kind, (_, seconds, _) in networks.items()}
    out["train_seconds"] = train_seconds
    print(f"  学習時間 (1 スレッド、ほかの計算と CPU を共有): DDPM {train_seconds['ddpm']:.0f} s、"
          f"DDPM (v 予測) {train_seconds['ddpm_v']:.0f} s、DDPM (尤度の重み) {train_seconds['ddpm_likelihood']:.0f} s、"
          f"フローマッチング {train_seconds['flow']:.0f} s (キャッシュ: {os.environ['GEN_LIB_MODEL_CACHE']})")

    # (a) エントロピーと KL
    x_big = p.sample(settings.n_entropy, seed=100)
    log_p_big = p.log_prob(x_big)
    entropy, entropy_se = -log_p_big.mean(), log_p_big.std(ddof=1) / math.sqrt(settings.n_entropy)
    x = p.sample(settings.n_likelihood, seed=101)
    log_p = p.log_prob(x)
    check = x[:settings.n_exact_check]
    exact = likelihood_row(probability_flow(sde, exact_score(p, sde)), check, log_p[:len(check)], T_START,
                           settings.rtol)
    ddpm_kinds = ("ddpm", "ddpm_v", "ddpm_likelihood")
    scores = {kind: ddpm_score(*networks[kind][0::2], sde) for kind in ddpm_kinds}
    rows = {kind: (probability_flow(sde, scores[kind]), T_START) for kind in ddpm_kinds}
    rows["flow"] = (flow_network, 0.0)
    for kind in build:
        network, _, build_model = build[kind]
        rows[f"{kind}_build"] = ((network, 0.0) if kind == "flow" else
                                 (probability_flow(sde, ddpm_score(network, build_model, sde)), T_START))
    likelihood = {key: likelihood_row(velocity, x, log_p, t_start, settings.rtol)
                  for key, (velocity, t_start) in rows.items()}
    out["likelihood"] = {"entropy": float(entropy), "entropy_se": float(entropy_se), "exact_score": exact,
                         **likelihood}
    print(f"\n(a) 対数尤度 [nats]。H(p) = {entropy:.4f} ± {entropy_se:.4f} (モンテカルロ {settings.n_entropy:,} 点)")
    print(f"  NLL は確率フロー ODE (厳密な発散、DOP853 rtol = {settings.rtol:g}) で {settings.n_likelihood} 点。"
          f"KL = mean(log p − log q_θ) (= NLL − H(p) の対にした推定)")
    print(f"  確認: 厳密なスコアの ODE ({settings.n_exact_check} 点, t0 = {T_START:g}): "
          f"mean(log p − log p_ODE) = {exact['kl']:+.5f} ± {exact['kl_se']:.5f}")
    print(f"  {'モデル':<36} {'NLL':>8} {'± SE':>7} {'KL':>8} {'± SE':>7} {'時間 [s]':>8}")
    names = {"ddpm": f"DDPM (ベンチマーク, {settings.train_steps} ステップ)",
             "ddpm_v": f"DDPM v 予測 (ベンチマーク, {settings.train_steps})",
             "ddpm_likelihood": f"DDPM 尤度の重み (ベンチマーク, {settings.train_steps})",
             "flow": f"フローマッチング (ベンチマーク, {settings.train_steps})",
             "ddpm_build": f"DDPM (ビルド, {build_settings.steps} ステップ)",
             "ddpm_v_build": f"DDPM v 予測 (ビルドの予算, {build_settings.steps})",
             "flow_build": f"フローマッチング (ビルド, {build_settings.steps})"}
    for key in likelihood:
        name, r = names[key], likelihood[key]
        print(f"  {name:<36} {r['nll']:8.4f} {r['nll_se']:7.4f} {r['kl']:8.4f} {r['kl_se']:7.4f} "
              f"{r['seconds']:8.1f}")
    bounds = {kind: sde_bound(*networks[kind][0::2]) for kind in ddpm_kinds}
    out["likelihood"]["sde_bound"] = bounds
    print("  比較: 同じ ε_θ の逆向き SDE の KL の上界 ½∫β E‖ε_θ − ε*‖²/s² dt (厳密な ε*、40 時刻 × 4000 点): "
          + "、".join(f"{names[key]} {value:.4f}" for key, value in bounds.items()))
    by_time = {kind: kl_by_time(scores[kind], exact_score(p, sde), x, log_p, settings) for kind in ("ddpm", "ddpm_v")}
    out["likelihood"]["kl_by_time"] = by_time
    print("  誤差の出どころ: t < t_c だけ学習したスコア、t ≥ t_c は厳密なスコアにした ODE の KL (同じ点)")
    print(f"  {'t_c':>6} " + " ".join(f"{names[kind]:>36}" for kind in by_time))
    for i, t_c in enumerate(settings.split_times):
        print(f"  {t_c:6.2f} " + " ".join(f"{by_time[kind][i]['kl']:>27.4f} ± {by_time[kind][i]['kl_se']:.4f}"
                                          for kind in by_time))
    for key in ("ddpm", "ddpm_v", "ddpm_likelihood", "flow"):
        verdict = "達成" if likelihood[key]["kl"] <= 0.05 else "未達"
        print(f"  目標 KL ≤ 0.05 nats ({names[key]}): {likelihood[key]['kl']:.4f} ({verdict})")

    # (b) サンプルの距離
    n = settings.n_points
    floor_energy = noise_floor(p.sample, n, n_pairs=settings.n_floor_pairs, seed=6000)
    floor_w2 = noise_floor(p.sample, n, distance=wasserstein2, n_pairs=max(settings.n_w2_seeds, 2), seed=6001)
    floor = float(floor_energy.mean())
    out["floor"] = {"energy": floor, "energy_sd": float(floor_energy.std(ddof=1)),
                    "w2": float(floor_w2.mean()), "w2_sd": float(floor_w2.std(ddof=1))}
    print(f"\n(b) サンプル {n} 点と厳密なサンプル {n} 点の距離。エネルギー距離は {settings.n_seeds} シードの平均 ± sd、"
          f"W2 は表の上 2 行が {settings.n_seeds} シード、曲線は {settings.n_w2_seeds} シード")
    print(f"  ノイズの床: エネルギー距離 {floor:.5f} ± {out['floor']['energy_sd']:.5f} "
          f"({settings.n_floor_pairs} 組)、W2 {out['floor']['w2']:.4f} ± {out['floor']['w2_sd']:.4f}")

    def ddpm_for(model, prediction="epsilon"):
        return lambda r: ddpm_sample(schedule, model, prior_points(n, 1000 + r), seed=r, prediction=prediction)

    headline = {"ddpm_1000": distances(ddpm_for(ddpm_model), settings, settings.n_seeds),
                "ddpm_1000_likelihood": distances(ddpm_for(discrete_model(networks["ddpm_likelihood"][0],
                                                                          schedule.T)), settings, settings.n_seeds),
                "ddpm_1000_v": distances(ddpm_for(discrete_model(networks["ddpm_v"][0], schedule.T), "v"),
                                         settings, settings.n_seeds)}
    if build:
        headline["ddpm_1000_build"] = distances(ddpm_for(discrete_model(build["ddpm"][0], schedule.T)), settings,
                                                settings.n_seeds)
    out["samples"] = headline
    print(f"  {'サンプラー':<34} {'ステップ':>6} {'NFE':>5} {'エネルギー距離':>16} {'床との比':>6} {'W2':>14}")

    def show(name, steps, nfe, r):
        print(f"  {name:<34} {steps:6d} {nfe:5d} {r['energy']:9.5f} ± {r['energy_sd']:.5f} "
              f"{r['energy'] / floor:6.2f} {r['w2']:7.4f} ± {r['w2_sd']:.4f}")

    show("DDPM 祖先サンプリング (ベンチマーク)", schedule.T, schedule.T, headline["ddpm_1000"])
    show("DDPM 尤度の重み (ベンチマーク)", schedule.T, schedule.T, headline["ddpm_1000_likelihood"])
    show("DDPM v 予測 (ベンチマーク)", schedule.T, schedule.T, headline["ddpm_1000_v"])
    if build:
        show("DDPM 祖先サンプリング (ビルド)", schedule.T, schedule.T, headline["ddpm_1000_build"])
    ratio = headline["ddpm_1000"]["energy"] / floor
    print(f"  目標: DDPM 1000 ステップが床の 1.2 倍以内 → 比 {ratio:.2f} ({'達成' if ratio <= 1.2 else '未達'})")

    grids = {"DDIM (η=0, trailing)": settings.ddim_steps, "オイラー・丸山法 (VP SDE)": settings.sde_steps,
             "確率フロー ODE (ホイン法)": settings.ode_steps, "確率フロー ODE v 予測 (ホイン法)": settings.ode_steps,
             "フローマッチング (ホイン法)": settings.flow_steps,
             "フローマッチング (オイラー法)": settings.flow_steps}
    curves, fewest = {}, {}
    for name, (evaluations, sample) in samplers(ddpm_model, scores, flow_network, schedule).items():
        curves[name] = []
        for steps in grids[name]:
            r = distances(lambda seed: sample(steps, prior_points(n, 1000 + seed), seed), settings,
                          settings.n_w2_seeds)
            curves[name].append({"steps": steps, "nfe": evaluations * steps, **r})
            show(name, steps, evaluations * steps, r)
        reached = [c for c in curves[name] if c["energy"] <= 1.5 * floor]
        fewest[name] = reached[0]["steps"] if reached else None
    out["curves"], out["fewest_steps_to_1.5_floor"] = curves, fewest
    print("  床の 1.5 倍に届く最少のステップ数 (上の格子の中で):")
    for name, steps in fewest.items():
        print(f"    {name:<34} {steps if steps is not None else '届かない'}")

    # (c) 速さ
    result = speed(schedule, ddpm_model, settings)
    check_energy = energy_distance(result.pop("diffusers_samples"), p.sample(settings.speed_points, seed=7000))
    out["speed"] = {**result, "diffusers_energy": check_energy}
    rates = result["points_per_second"]
    print(f"\n(c) 速さ: DDPM {schedule.T} ステップ、{settings.speed_points} 点、torch 1 スレッド、"
          f"ウォームアップ 1 回の後 {settings.speed_repeats} 回の中央値")
    print(f"  我々の ddpm_sample: {rates['ours']:.0f} 点/秒   diffusers DDPMScheduler: {rates['diffusers']:.0f} 点/秒"
          f"   比 {result['ratio']:.2f} ({'達成' if result['ratio'] >= 1 else '未達'}: 目標 ≥ 1)")
    print(f"  (diffusers のサンプルのエネルギー距離 {check_energy:.5f}: 同じモデルなので同じ品質になる)")

    # (d) ビルドの計算量
    if settings.build_costs:
        costs = build_costs()
        trainings = {k: v for k, v in costs.items() if k.startswith("ch3-models")}
        experiments = [v for k, v in costs.items() if k not in trainings and not k.endswith(".svg")]
        figures = [v for k, v in costs.items() if k.endswith(".svg")]
        total = sum(costs.values())
        two_cores = (two_worker_makespan(list(trainings.values())) + two_worker_makespan(experiments)
                     + two_worker_makespan(figures))
        out["build"] = {"costs": costs, "total": total, "two_cores": two_cores}
        print("\n(d) 第 3 章の実験と図を冷えたキャッシュで 1 つずつ計算した CPU 時間 (1 スレッド):")
        for name, seconds in costs.items():
            print(f"  {name:<60} {seconds:7.2f} s")
        print(f"  合計 {total:.1f} s。ビルドは学習 → ほかの実験 → 図の順に 2 つのワーカーで並列に計算するので、"
              f"2 コアでは約 {two_cores:.1f} s (目標 ≤ 30 s: {'達成' if two_cores <= 30 else '未達'})")
    return out


if __name__ == "__main__":
    main()
