"""性質ベースのテストの登録簿: 公開関数・メソッド・実験ごとの有効な呼び出し (小さな大きさ)。

``E("モジュール.名前", 引数=値, ...)`` が 1 項目。値は呼び出しのたびにコピーする (``F(作る関数)`` は毎回作る)。
メソッドは ``obj=`` にインスタンスを作る関数を渡す。引数の種類は値の型と名前から推定し、違うときだけ ``kinds`` で
指定する (tests/property_checks.py の ``invalid_values``: count・count:0 (0 以上)・positive・nonnegative・unit・real・
array・batch (形 (N, …))・finite (どの形でもよい)・logweights・callable・object・settings・text・choice・seed・flag)。
``skip`` には生成しないパラメーターと理由、``scaled`` には桁を変えてよい引数 (省けば 2 次元の浮動小数点配列)、
``run_valid`` には有効な呼び出しを走らせない理由、``extra`` には追加の不正な値を書く。
新しい公開関数は、ここに項目を足すまで tests/test_properties.py が失敗する。
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import replace
from typing import Any, Callable

import numpy as np
import torch

from property_checks import Entry

_RNG = np.random.default_rng(0)
P = _RNG.normal(size=(6, 2))  # 点の集合 (N, d)
Q = _RNG.normal(size=(5, 2)) + 0.5
P1 = _RNG.normal(size=(6, 1))
T_P = torch.as_tensor(P)


class F:
    """呼び出しのたびに新しく作る値 (テンソルの勾配・乱数生成器・モデル)。"""

    def __init__(self, make: Callable[[], Any]):
        self.make = make


def _resolve(target: str):
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module("gen_lib." + ".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            value = getattr(value, attribute)
        return value
    raise LookupError(target)


def E(target: str, /, *, obj: Callable[[], Any] | None = None, kinds=None, skip=None, scaled=None, run_valid="",
      extra=None, **kwargs) -> Entry:
    def make():
        values = {k: (v.make() if isinstance(v, F) else copy.deepcopy(v)) for k, v in kwargs.items()}
        if obj is None:
            return _resolve(target), values
        return getattr(obj(), target.rsplit(".", 1)[1]), values
    return Entry("gen_lib." + target, make, kinds=dict(kinds or {}), skip=dict(skip or {}), scale=scaled,
                 run_valid=run_valid, extra=dict(extra or {}))


# ---- よく使う部品 (小さな大きさ) --------------------------------------------------------------------

def mix():
    from gen_lib.distributions.gaussian_mixture import isotropic_mixture
    return isotropic_mixture([[0.0, 0.0], [2.0, 1.0]], std=0.5)


def mix1():
    from gen_lib.distributions.gaussian_mixture import isotropic_mixture
    return isotropic_mixture([[-1.0], [1.5]], std=0.4)


def grid2():
    from gen_lib.core.grid import make_grid
    return make_grid([-3.0, -3.0], [3.0, 3.0], 9)


def grid1():
    from gen_lib.core.grid import make_grid
    return make_grid([-4.0], [4.0], 41)


def sched():
    from gen_lib.diffusion.schedule import NoiseSchedule
    return NoiseSchedule.linear(T=10, beta_start=1e-3, beta_end=0.2)


def vp():
    from gen_lib.diffusion.sde import VPSDE
    return VPSDE()


def ve():
    from gen_lib.diffusion.sde import VESDE
    return VESDE()


def subvp():
    from gen_lib.diffusion.sde import SubVPSDE
    return SubVPSDE()


def tnet():
    from gen_lib.diffusion.networks import TimeConditionedMLP
    return TimeConditionedMLP(2, hidden=8, n_hidden_layers=1, n_frequencies=2)


def eps_model():
    from gen_lib.diffusion.networks import discrete_model
    return discrete_model(tnet(), 10)


def velocity(x, t):
    return -x


def time_score(x, t):
    return -x


def score_np(x):
    return -np.asarray(x)


def energy_np(x):
    return 0.5 * np.sum(np.asarray(x) ** 2, axis=1)


def energy_torch(x):
    return 0.5 * (x ** 2).sum(dim=1)


def score_model():
    from gen_lib.core.nn import make_mlp
    return make_mlp(2, 2, hidden=8, n_hidden_layers=1).double()


def ncsn():
    from gen_lib.score_based.ncsn import NoiseConditionalScoreNet
    return NoiseConditionalScoreNet(dim=2, hidden=8, n_hidden_layers=1)


def poly():
    from gen_lib.generative.energy_model import PolynomialEnergy
    return PolynomialEnergy(dim=2, degree=2)


def tmc():
    from gen_lib.distributions.two_mode_conditional import TwoModeConditional
    return TwoModeConditional()


def mdn():
    from gen_lib.generative.mixture_density_network import MixtureDensityNetwork
    return MixtureDensityNetwork(2, hidden=8)


def gan_gen():
    from gen_lib.generative.gan import Generator
    return Generator(hidden=8)


def gan_disc():
    from gen_lib.generative.gan import Discriminator
    return Discriminator(hidden=8)


def times(n=6, T=10):
    return torch.arange(1, n + 1) % T + 1


def gen():
    return torch.Generator().manual_seed(0)


C = np.linspace(-1.0, 1.0, 6)  # 条件 c (N,)
Y = np.sin(C)
DENS = np.exp(-np.linspace(-3, 3, 31) ** 2) / np.sqrt(np.pi)  # 間隔 0.2 の格子上の密度 (M,) (和 × 0.2 ≈ 1)
DENS2 = np.exp(-(np.linspace(-3, 3, 31) - 0.5) ** 2) / np.sqrt(np.pi)
T6 = times()
T_LOW = torch.tensor([0, 1, 2, 0, 3, 5])
X_T = torch.as_tensor(P)
NOISE = torch.as_tensor(Q[:, :].repeat(2, axis=0)[:6])
LOGITS = torch.linspace(-2.0, 2.0, 6)
UNIT_T = torch.linspace(0.1, 0.9, 6, dtype=torch.float64)


def _experiments() -> list[Entry]:
    """実験: 設定の型を確かめ、``TINY`` に小さな設定があればそれで走らせる (結果は一時ディレクトリのキャッシュ)。"""
    from property_checks import public_modules
    from gen_lib.core.experiment import Experiment
    entries = []
    for module in public_modules():
        if not module.__name__.startswith("gen_lib.experiments."):
            continue
        for name in module.__all__:
            run = getattr(module, name)
            if isinstance(run, Experiment):
                target = f"{module.__name__.removeprefix('gen_lib.')}.{name}"
                tiny = TINY.get(run.name)
                entries.append(E(target, kinds={"settings": "settings"}, settings=F(tiny) if tiny else None,
                                 run_valid="" if tiny else "needs the full-size trained models (the build runs it)"))
    return entries


def _settings(path: str, **changes):
    module, name = path.rsplit(".", 1)
    return replace(getattr(importlib.import_module("gen_lib." + module), name)(), **changes)


def _sde_methods() -> list[Entry]:
    """SDE の係数のメソッド (クラスが定義するものだけ。SDE の抽象メソッドは VP で呼ぶ)。"""
    args = {"drift": dict(x=X_T, t=UNIT_T), "diffusion": dict(t=UNIT_T), "marginal": dict(t=UNIT_T),
            "beta": dict(t=UNIT_T), "sigma": dict(t=UNIT_T), "prior_std": {}}
    entries = []
    for name, make in (("SDE", vp), ("VPSDE", vp), ("SubVPSDE", subvp), ("VESDE", ve)):
        cls = _resolve(f"diffusion.sde.{name}")
        entries += [E(f"diffusion.sde.{name}.{method}", obj=make, **values)
                    for method, values in args.items() if method in vars(cls)]
    return entries


def _tiny(path: str, **changes):
    return lambda: _settings(path, **changes)


def _tiny_model():
    return _settings("experiments.ch3_models.ModelSettings", n_data=8, T=10, steps=2, batch_size=4, hidden=4,
                     n_hidden_layers=1)


def _tiny_ncsn():
    return _settings("experiments.ch2_ncsn.NcsnSettings", n_data=8, n_levels=2, steps=2, batch_size=4, hidden=4,
                     n_hidden_layers=1)


def _tiny_sampler():
    return _settings("experiments.ch2_ncsn.SamplerSettings", n_steps_each=2, n_chains=8, ncsn=_tiny_ncsn())


def _tiny_ddpm():
    return _settings("experiments.ch3_ddpm.DdpmSettings", model=_tiny_model(), prior_T=(5, 10), n_bound=4,
                     n_samples=8, n_floor_pairs=2, n_w2_floor_pairs=2, entropy_points=41, error_times=(1, 5, 10),
                     n_error=8)


_DSM = dict(n_data=8, hidden=4, steps=2, batch_size=4, eval_every=1, n_eval=8, quadrature_points=9, n_error=8,
            n_denoised=4, n_arrows=3, n_fine=5)
_SM = dict(n_data=8, hidden=4, steps=2, batch_size=4, eval_every=1, grid_points=9, n_monte_carlo=8, n_arrows=3,
           n_fine=5)
_EVAL = dict(n_points=8, shown_levels=(0, 1), n_grid=5, n_arrows=3, n_shown_data=4)
# 実験の名前 → 小さな設定 (steps=2, n=8 ほど)。ない実験は学習済みの本番のモデルを使うので、ビルドが走らせる
TINY: dict[str, Callable[[], Any]] = {
    "ch1-ebm-partition-errors": _tiny("experiments.ch1_ebm.PartitionSettings"),  # 既定 (n ≤ 60) で 0.1 秒ほど
    "ch1-ebm-product-of-experts-example": _tiny("experiments.ch1_ebm.ProductOfExpertsSettings", n_points=21),
    "ch1-generative-colorization": _tiny("experiments.ch1_generative.ColorizationSettings", n_train=8, n_test=8,
                                         hidden=4, regressor_steps=2, mdn_steps=2, n_curve=11, n_slice=21),
    "ch1-generative-unconditional-sampling": _tiny("experiments.ch1_generative.SamplingSettings", n=8, n_grid=11),
    "ch1-implicit-gan-training": _tiny("experiments.ch1_implicit.GanSettings", n_data=16, steps=2, batch_size=4,
                                       hidden=4, checkpoint_every=1, n_eval=8, snapshot_steps=(0, 2),
                                       n_shown_data=8, floor_pairs=2),
    "ch1-implicit-optimal-discriminator-example": _tiny("experiments.ch1_implicit.OptimalDiscriminatorSettings",
                                                        n_points=401, n_logits=11),
    "ch1-learning-two-families": _tiny("experiments.ch1_learning.TwoFamiliesSettings", n_data=16, n_samples=8,
                                       n_grid=11),
    "ch1-likelihood-ebm-fit": _tiny("experiments.ch1_likelihood.EbmFitSettings", n_data=16, n_points=11, steps=2,
                                    n_test=8),
    "ch1-notation-toy-log-densities": _tiny("experiments.ch1_notation.ToySettings", n_grid=11, n_samples=8),
    "ch1-overview-forward-process": _tiny("experiments.ch1_overview.ForwardSettings", n=8,
                                          shown_times=(0, 10, 1000), n_grid=11),
    "ch1-overview-latent-marginals": _tiny("experiments.ch1_overview.LatentSettings", time_stride=250, n_grid=41,
                                           n_candidates=5),
    "ch1-overview-schedules": _tiny("experiments.ch1_overview.ScheduleSettings", T=10),
    "ch2-dsm-identity-across-models": _tiny("experiments.ch2_dsm.DsmSettings", **_DSM),
    "ch2-dsm-training": _tiny("experiments.ch2_dsm.DsmSettings", **_DSM),
    "ch2-dsm-tweedie-denoising": _tiny("experiments.ch2_dsm.DsmSettings", **_DSM),
    "ch2-langevin-convergence": _tiny("experiments.ch2_langevin.ConvergenceSettings", n_chains=8,
                                      step_sizes=(0.01,), checkpoints=(1, 2), extra_step_sizes=(0.03,),
                                      extra_steps=2, floor_pairs=2, divergent_steps=2),
    "ch2-langevin-failure-weights": _tiny("experiments.ch2_langevin.FailureSettings", n_chains=8, floor_pairs=2,
                                          long_steps=2),
    "ch2-langevin-snapshots": _tiny("experiments.ch2_langevin.SnapshotSettings", n_chains=8, shown_steps=(0, 2),
                                    n_grid=11),
    "ch2-langevin-ula-variance": _tiny("experiments.ch2_langevin.UlaVarianceSettings", n_chains=8, n_steps=2),
    "ch2-ncsn-training": _tiny_ncsn,
    "ch2-ncsn-annealing-path": _tiny_sampler,
    "ch2-ncsn-sampler-comparison": _tiny_sampler,
    "ch2-ncsn-sampling-time": _tiny_sampler,
    "ch2-ncsn-sampler-table": lambda: _settings("experiments.ch2_ncsn.TableSettings", seeds=(1, 2), floor_pairs=2,
                                                sampler=_tiny_sampler()),
    "ch2-ncsn-score-error-curves": lambda: _settings("experiments.ch2_ncsn.EvaluationSettings", **_EVAL,
                                                     ncsn=_tiny_ncsn()),
    "ch2-ncsn-score-maps": lambda: _settings("experiments.ch2_ncsn.EvaluationSettings", **_EVAL, ncsn=_tiny_ncsn()),
    "ch2-score-matching-identity-across-models": _tiny("experiments.ch2_score_matching.ScoreMatchingSettings", **_SM),
    "ch2-score-matching-training": _tiny("experiments.ch2_score_matching.ScoreMatchingSettings", **_SM),
    "ch2-score-matching-loss-times": _tiny("experiments.ch2_score_matching.TimingSettings", dims=(2,),
                                           batch_size=4, hidden=4, repeats=1),
    "ch2-score-score-by-normalizer": _tiny("experiments.ch2_score.NormalizerSettings", n_points=11),
    "ch2-score-score-fields": _tiny("experiments.ch2_score.FieldSettings", n_density=11, n_arrows=3),
    "ch3-ddim-noise-floors": _tiny("experiments.ch3_ddim.FloorSettings", n_samples=8, n_pairs=2),
    "ch3-ddim-step-quality": lambda: _settings("experiments.ch3_ddim.DdimSettings", n_samples=8, step_counts=(2,),
                                               shown_steps=(2,), spacing_steps=(2,), model=_tiny_model()),
    "ch3-ddpm-prior-terms": lambda: _tiny_ddpm(),
    "ch3-ddpm-variational-bound": lambda: _tiny_ddpm(),
    "ch3-ddpm-ancestral-samples": lambda: _tiny_ddpm(),
    "ch3-ddpm-epsilon-error": lambda: _tiny_ddpm(),
    "ch3-ddpm-reverse-step-kl": _tiny("experiments.ch3_ddpm.SmallStepsSettings", betas=(1e-3, 1e-2)),
    "ch3-flow-trajectories": _tiny("experiments.ch3_flow.TrajectorySettings", n_paths=8, n_steps=4),
    "ch3-likelihood-exact-likelihood": _tiny("experiments.ch3_likelihood.ExactSettings", n_points=4,
                                             n_probe_points=4, n_probes=2, rtol=1e-4),
    "ch3-likelihood-output-gains": _tiny("experiments.ch3_likelihood.GainSettings", n_times=5),
    "ch3-models-ddpm-training": _tiny_model,
    "ch3-models-flow-matching-training": _tiny_model,
    "ch3-sde-exact-score-quality": _tiny("experiments.ch3_sde.QualitySettings", n_samples=8, step_counts=(2,)),
    "ch3-sde-marginal-curves": _tiny("experiments.ch3_sde.PathSettings", n_times=5, ddpm_steps=(100,)),
    "ch3-sde-sample-paths": _tiny("experiments.ch3_sde.PathSettings", n_paths=4, n_steps=4, n_times=3, n_grid=21),
    "ch3-sde-model-quality": lambda: _settings("experiments.ch3_sde.QualitySettings", n_samples=8, step_counts=(2,),
                                               model=_tiny_model()),
}

SKIP_NAME = {"name": "label used in the message (the caller's parameter name)"}
META = "describes the check; set by gen_lib's own code, not by readers"
BAD_NAMES = ["*", "../x", "Ring", "", "a" * 101]  # キャッシュの名前にならない文字列

ENTRIES: list[Entry] = [
    # ---- core ----------------------------------------------------------------------------------------
    E("core.cache.cache_dir"),
    E("core.cache.module_file", module="gen_lib.core.grid", kinds={"module": "text"}),
    E("core.cache.direct_imports", module="gen_lib.core.grid", kinds={"module": "text"}),
    E("core.cache.dependency_closure", modules=["gen_lib.core.grid"], kinds={"modules": "text"}),
    E("core.cache.imported_by_source", source="import gen_lib.core.grid\n", kinds={"source": "text"}),
    E("core.cache.library_versions"),
    E("core.cache.source_digest", modules=["gen_lib.core.grid"], kinds={"modules": "text"}),
    E("core.cache.settings_json", settings={"n": 3}, kinds={"settings": "object"}),
    E("core.cache.check_name", name="ring-samples", kinds={"name": "text"}, extra={"name": BAD_NAMES}),
    E("core.cache.content_key", name="ring", settings={"n": 3}, modules=["gen_lib.core.grid"],
      kinds={"name": "text", "settings": "object", "modules": "text"}, extra={"name": BAD_NAMES}),
    E("core.cache.result_path", name="ring", settings={"n": 3}, depends_on="gen_lib.core.grid",
      kinds={"name": "text", "settings": "object", "depends_on": "text"}, extra={"name": BAD_NAMES}),
    E("core.cache.computed_names"),
    E("core.cache.cached", name="property-ring", settings={"n": 3}, compute=lambda: 1.0,
      depends_on="gen_lib.core.grid", kinds={"name": "text", "settings": "object", "depends_on": "text"}, extra={"name": BAD_NAMES}),
    E("core.experiment.Experiment", function=lambda settings: 1.0, settings_type=F(lambda: _settings(
        "experiments.ch1_notation.ToySettings").__class__), timing=False, variants=(),
      kinds={"settings_type": "object", "variants": "object"}),
    E("core.experiment.Experiment.__call__", obj=lambda: _resolve("experiments.ch1_notation.toy_log_densities"),
      settings=F(TINY["ch1-notation-toy-log-densities"]), kinds={"settings": "settings"}),
    E("core.experiment.experiment", settings_type=F(lambda: _settings(
        "experiments.ch1_notation.ToySettings").__class__), timing=False, variants=(),
      kinds={"settings_type": "object", "variants": "object"}),
    E("core.experiment.all_experiments"),
    E("core.grid.make_grid", low=[-1.0, -1.0], high=[1.0, 1.0], n_points=5, kinds={"n_points": "count:3"}),
    E("core.grid.plane_points", axis=np.linspace(-1, 1, 5)),
    E("core.nn.make_mlp", in_dim=2, out_dim=2, hidden=4, n_hidden_layers=1, seed=0,
      kinds={"n_hidden_layers": "count:0"}),
    E("core.nn.minibatch", data=T_P, batch_size=3, generator=F(gen), kinds={"data": "finite"}),
    E("core.nn.train", module=F(score_model), loss_fn=F(lambda: (lambda step: torch.tensor(1.0, requires_grad=True))),
      steps=2, lr=1e-3, kinds={"module": "object", "betas": "object", "callback": "callable"},
      skip={"callback": "optional (None by default)", "adversary": "optional (None by default)"}),
    E("core.nn.single_thread"),
    E("core.numerics.logsumexp", a=P, axis=1, kinds={"a": "logweights", "axis": "text"}),
    E("core.validation.as_array", x=P, name="x", skip={**SKIP_NAME, "ndim": META}, kinds={"x": "finite"}),
    E("core.validation.as_points", x=P, name="x", skip=SKIP_NAME),
    E("core.validation.as_tensor_points", x=T_P, name="x", skip=SKIP_NAME),
    E("core.validation.as_float_tensor", x=UNIT_T, name="x", ndim=1,
      skip={**SKIP_NAME, "ndim": META, "shape": META}, kinds={"x": "finite"}),
    E("core.validation.check_real", value=-1.5, name="value", skip=SKIP_NAME),
    E("core.validation.check_finite_result", result=P, name="result", skip={**SKIP_NAME, "source": META},
      kinds={"result": "finite"}),
    E("core.validation.as_matching_batches", run_valid="takes the batches as **named (not fuzzed); "
      "the functions that use it are fuzzed"),
    E("core.validation.check_positive", value=1.5, name="value", skip=SKIP_NAME, kinds={"value": "positive"}),
    E("core.validation.check_count", value=3, name="value", skip={**SKIP_NAME, "minimum": META, "maximum": META},
      kinds={"value": "count"}),
    E("core.errors.check_bool", value=True, name="value", skip=SKIP_NAME),
    E("core.errors.check_callable", function=score_np, name="function", skip={**SKIP_NAME, "signature": META}),
    E("core.validation.check_instance", value=1.0, expected=float, name="value",
      skip={**SKIP_NAME, "expected": META, "hint": META}, kinds={"value": "object"}),
    E("core.validation.check_weights", weights=np.array([0.25, 0.75]), name="weights", skip=SKIP_NAME),
    E("core.validation.check_seed", seed=3, name="seed", skip={**SKIP_NAME, "generators": META}),
    E("core.validation.make_rng", seed=3),
    E("core.validation.make_generator", seed=3, skip=SKIP_NAME),
    E("core.validation.as_batch_tensor", x=T_P, name="x", skip=SKIP_NAME, kinds={"x": "batch"}),
    E("core.validation.check_same_shape", a=T_P, b=T_P, names="a and b",
      kinds={"a": "object", "b": "object"}, skip={"names": "label used in the message (the caller's parameter names)"}),
    # ---- distributions ---------------------------------------------------------------------------------
    E("distributions.gaussian_mixture.GaussianMixture", weights=np.array([0.5, 0.5]), means=np.zeros((2, 2)),
      covariances=np.stack([np.eye(2), np.eye(2)])),
    E("distributions.gaussian_mixture.GaussianMixture.component_log_prob", obj=mix, x=P),
    E("distributions.gaussian_mixture.GaussianMixture.log_prob", obj=mix, x=P),
    E("distributions.gaussian_mixture.GaussianMixture.sample", obj=mix, n=5, seed=0),
    E("distributions.gaussian_mixture.GaussianMixture.noised", obj=mix, scale=0.9, noise_std=0.3,
      kinds={"scale": "nonnegative", "noise_std": "nonnegative"}),
    E("distributions.gaussian_mixture.GaussianMixture.responsibilities", obj=mix, x=P),
    E("distributions.gaussian_mixture.GaussianMixture.score", obj=mix, x=P),
    E("distributions.gaussian_mixture.GaussianMixture.log_prob_torch", obj=mix, x=F(lambda: T_P.clone())),
    E("distributions.gaussian_mixture.isotropic_mixture", means=np.array([[0.0, 0.0], [1.0, 1.0]]), std=0.5,
      weights=np.array([0.3, 0.7])),
    E("distributions.gaussian_mixture.ring_of_gaussians", n_modes=4, radius=2.0, std=0.2),
    E("distributions.gaussian_mixture.asymmetric_mixture"),
    E("distributions.two_mode_conditional.as_conditions", c=C, name="c", skip=SKIP_NAME),
    E("distributions.two_mode_conditional.as_pairs", y=Y, c=C),
    E("distributions.two_mode_conditional.TwoModeConditional", noise_std=0.1, upper_weight=0.5),
    E("distributions.two_mode_conditional.TwoModeConditional.branch", obj=tmc, c=C),
    E("distributions.two_mode_conditional.TwoModeConditional.log_prob", obj=tmc, y=Y, c=C),
    E("distributions.two_mode_conditional.TwoModeConditional.mean", obj=tmc, c=C),
    E("distributions.two_mode_conditional.TwoModeConditional.sample", obj=tmc, c=C, seed=0),
    E("distributions.two_mode_conditional.TwoModeConditional.sample_joint", obj=tmc, n=5, seed=0),
    E("distributions.two_mode_conditional.off_mode_fraction", target=F(tmc), y=Y, c=C, n_std=3.0),
    # ---- generative ------------------------------------------------------------------------------------
    E("generative.energy_model.quadratic_energy", x=P, mean=np.zeros(2), precision=np.eye(2)),
    E("generative.energy_model.double_well_energy", x=P, height=2.0, center=1.0),
    E("generative.energy_model.energy_on_grid", energy=energy_np, grid=F(grid2)),
    E("generative.energy_model.log_partition_on_grid", energy=energy_np, grid=F(grid2)),
    E("generative.energy_model.gaussian_log_partition", precision=np.eye(2)),
    E("generative.energy_model.log_density_on_grid", energy=energy_np, grid=F(grid2)),
    E("generative.energy_model.product_of_experts",
      run_valid="takes energies as *args (not fuzzed); tests/test_energy_model.py checks them"),
    E("generative.energy_model.normalize_on_grid", log_gamma=-0.5 * np.sum(grid2().points ** 2, axis=1),
      grid=F(grid2)),
    E("generative.energy_model.gaussian_product", mean1=np.zeros(2), precision1=np.eye(2), mean2=np.ones(2),
      precision2=2 * np.eye(2)),
    E("generative.energy_model.PolynomialEnergy", dim=2, degree=2, scale=1.0),
    E("generative.energy_model.PolynomialEnergy.features", obj=poly, x=P),
    E("generative.energy_model.PolynomialEnergy.energy", obj=poly, x=P, theta=np.ones(poly().n_features)),
    E("generative.gan.Generator", latent_dim=2, data_dim=2, hidden=8),
    E("generative.gan.Generator.forward", obj=gan_gen, z=torch.randn(6, 2)),
    E("generative.gan.Discriminator", data_dim=2, hidden=8),
    E("generative.gan.Discriminator.forward", obj=gan_disc, x=torch.randn(6, 2)),
    E("generative.gan.discriminator_loss", real_logits=LOGITS, fake_logits=LOGITS.flip(0)),
    E("generative.gan.generator_loss", fake_logits=LOGITS, saturating=False),
    E("generative.gan.train_gan", data=P, steps=2, batch_size=4, latent_dim=2, hidden=4, lr=1e-3,
      checkpoint_every=1, n_eval=8, seed=0),
    E("generative.gan.sample", model=F(gan_gen), n=5, seed=0, kinds={"model": "object"}),
    E("generative.gan.optimal_discriminator", p_x=DENS, q_x=DENS2),
    E("generative.gan.value_function", p_x=DENS, q_x=DENS2, d_x=np.full(31, 0.5), dx=0.2),
    E("generative.gan.jensen_shannon", p_x=DENS, q_x=DENS2, dx=0.2),
    E("generative.gan.optimal_value", p_x=DENS, q_x=DENS2, dx=0.2),
    E("generative.maximum_likelihood.average_log_likelihood", log_prob=lambda x: -np.sum(x ** 2, axis=1), data=P),
    E("generative.maximum_likelihood.ebm_log_likelihood", model=F(poly), theta=np.ones(5), data=P, grid=F(grid2),
      kinds={"model": "object"}, scaled=()),  # データは格子の箱の中 (モデルのデータ空間) だけ
    E("generative.maximum_likelihood.model_weights", model=F(poly), theta=np.ones(5), grid=F(grid2),
      kinds={"model": "object"}),
    E("generative.maximum_likelihood.log_likelihood_gradient", model=F(poly), theta=np.ones(5), data=P,
      grid=F(grid2), kinds={"model": "object"}, scaled=()),
    E("generative.maximum_likelihood.fit_ebm", model=F(poly), data=P, grid=F(grid2), steps=2, learning_rate=0.1,
      kinds={"model": "object"}, scaled=()),
    E("generative.maximum_likelihood.three_mode_mixture"),
    E("generative.maximum_likelihood.training_setup", seed=0, n_data=8, n_points=9, kinds={"n_points": "count:3"}),
    E("generative.mean_regression.train_mean_regressor", y=Y, c=C, hidden=4, steps=2, lr=1e-2, seed=0),
    E("generative.mean_regression.predict", regressor=F(lambda: _resolve(
        "generative.mean_regression.train_mean_regressor")(Y, C, hidden=4, steps=1)), c=C,
      kinds={"regressor": "object"}),
    E("generative.mixture_density_network.MixtureDensityNetwork", n_components=2, hidden=8, seed=0),
    E("generative.mixture_density_network.MixtureDensityNetwork.forward", obj=mdn,
      c=torch.as_tensor(C).reshape(-1, 1)),
    E("generative.mixture_density_network.MixtureDensityNetwork.log_prob_tensor", obj=mdn,
      y=torch.as_tensor(Y).reshape(-1, 1), c=torch.as_tensor(C).reshape(-1, 1)),
    E("generative.mixture_density_network.MixtureDensityNetwork.log_prob", obj=mdn, y=Y, c=C),
    E("generative.mixture_density_network.MixtureDensityNetwork.sample", obj=mdn, c=C, seed=0),
    E("generative.mixture_density_network.train_mdn", y=Y, c=C, n_components=2, hidden=4, steps=2, lr=5e-3, seed=0),
    # ---- score_based -----------------------------------------------------------------------------------
    E("score_based.annealed_langevin.annealed_langevin_sample",
      score_fn=lambda x, sigma: -np.asarray(x) / (1 + sigma ** 2), x0=P, sigmas=np.array([1.0, 0.5]),
      step_size=0.01, n_steps_each=2, seed=0, return_path=False),
    E("score_based.denoising_score_matching.denoising_score_matching_loss", score_fn=F(score_model),
      x=F(lambda: T_P.clone()), sigma=0.5, generator=F(gen)),
    E("score_based.denoising_score_matching.tweedie_denoise", x_noisy=P, noisy_score=-P, sigma=0.5),
    E("score_based.denoising_score_matching.mixture_posterior_mean", mixture=F(mix), x_noisy=P, sigma=0.5),
    E("score_based.langevin.langevin_step", score_fn=score_np, x=P, step_size=0.01,
      rng=F(lambda: np.random.default_rng(0)), where="step 1", kinds={"rng": "object", "where": "text"}),
    E("score_based.langevin.langevin_sample", score_fn=score_np, x0=P, step_size=0.01, n_steps=3, seed=0,
      record_every=1),
    E("score_based.langevin.ula_gaussian_stationary_covariance", covariance=np.eye(2), step_size=0.1, scaled=()),
    E("score_based.langevin.uniform_box", n=5, low=-1.0, high=1.0, dim=2, seed=0),
    E("score_based.langevin.separated_modes_mixture"),
    E("score_based.langevin.LangevinSetting.reference_samples", obj=lambda: _resolve(
        "score_based.langevin.langevin_failure_setting")(n_chains=8)),
    E("score_based.langevin.langevin_failure_setting", n_chains=8, seed=0),
    E("score_based.ncsn.check_noise_levels", sigmas=np.array([1.0, 0.5, 0.1])),
    E("score_based.ncsn.geometric_noise_levels", sigma_max=5.0, sigma_min=0.1, L=4),
    E("score_based.ncsn.exact_noise_conditional_score", mixture=F(mix)),
    E("score_based.ncsn.NoiseConditionalScoreNet", dim=2, hidden=8, n_hidden_layers=1, seed=0, data_scale=1.0),
    E("score_based.ncsn.NoiseConditionalScoreNet.forward", obj=ncsn, x=F(lambda: T_P.clone()), sigma=0.5),
    E("score_based.ncsn.NoiseConditionalScoreNet.score_numpy", obj=ncsn, x=P, sigma=0.5),
    E("score_based.ncsn.ncsn_loss", model=F(ncsn), x=F(lambda: T_P.clone()), sigmas=np.array([1.0, 0.1]),
      generator=F(gen), kinds={"model": "object"}),
    E("score_based.ncsn.train_ncsn", data=P, sigmas=np.array([1.0, 0.1]), steps=2, batch_size=4, lr=1e-2,
      hidden=4, n_hidden_layers=1, seed=0, kinds={"n_hidden_layers": "count:0"}),
    E("score_based.score.score_from_log_density", log_prob_fn=lambda x: -energy_torch(x), x=P),
    E("score_based.score.score_from_energy", energy_fn=energy_torch, x=P),
    E("score_based.score_matching.evaluate_score", score_model=F(score_model), x=F(lambda: T_P.clone())),
    E("score_based.score_matching.explicit_score_matching_loss", score_model=F(score_model),
      x=F(lambda: T_P.clone()), true_score=F(lambda: -T_P.clone())),
    E("score_based.score_matching.jacobian_trace", score_model=F(score_model), x=F(lambda: T_P.clone()),
      create_graph=True),
    E("score_based.score_matching.implicit_score_matching_loss", score_model=F(score_model),
      x=F(lambda: T_P.clone())),
    E("score_based.score_matching.sliced_score_matching_loss", score_model=F(score_model),
      x=F(lambda: T_P.clone()), n_projections=2, generator=F(gen), variance_reduced=True),
    # ---- diffusion -------------------------------------------------------------------------------------
    E("diffusion.ddim.ddim_timesteps", T=10, n_steps=4, spacing="leading", steps_offset=0,
      kinds={"steps_offset": "count:0"}),
    E("diffusion.ddim.ddim_sigma", schedule=F(sched), t=T6, s=T6 - 1, eta=0.5, kinds={"eta": "nonnegative"}),
    E("diffusion.ddim.ddim_step", schedule=F(sched), x_t=X_T, t=T6, s=T6 - 1, model_output=NOISE, eta=0.5,
      noise=NOISE, prediction="epsilon", kinds={"eta": "nonnegative", "noise": "array"}),
    E("diffusion.ddpm.q_sample", schedule=F(sched), x0=X_T, t=T6, noise=NOISE),
    E("diffusion.ddpm.prior_kl", schedule=F(sched), x0=X_T),
    E("diffusion.ddpm.q_posterior_mean_variance", schedule=F(sched), x0=X_T, x_t=NOISE, t=T6),
    E("diffusion.ddpm.predict_x0", schedule=F(sched), x_t=X_T, t=T6, model_output=NOISE, prediction="epsilon"),
    E("diffusion.ddpm.predict_epsilon", schedule=F(sched), x_t=X_T, t=T6, model_output=NOISE,
      prediction="epsilon"),
    E("diffusion.ddpm.velocity_target", schedule=F(sched), x0=X_T, t=T6, noise=NOISE),
    E("diffusion.ddpm.ddpm_step", schedule=F(sched), x_t=X_T, t=T6, model_output=NOISE, noise=NOISE,
      prediction="epsilon", variance="posterior"),
    E("diffusion.ddpm.reverse_mean_variance", schedule=F(sched), x_t=X_T, t=T6, model_output=NOISE,
      prediction="epsilon", variance="posterior"),
    E("diffusion.ddpm.gaussian_kl", mean_q=X_T, var_q=torch.full((6,), 0.5, dtype=torch.float64), mean_p=NOISE,
      var_p=torch.full((6,), 0.7, dtype=torch.float64)),
    E("diffusion.ddpm.variational_bound_terms", schedule=F(sched), model=F(eps_model), x0=X_T, seed=0,
      prediction="epsilon", variance="posterior"),
    E("diffusion.ddpm.exact_epsilon", mixture=F(mix), schedule=F(sched)),
    E("diffusion.flow_matching.LinearPath"),
    E("diffusion.flow_matching.LinearPath.marginal", obj=lambda: _resolve("diffusion.flow_matching.LinearPath")(),
      t=UNIT_T),
    E("diffusion.flow_matching.LinearPath.interpolate", obj=lambda: _resolve("diffusion.flow_matching.LinearPath")(),
      x0=X_T, t=UNIT_T, noise=NOISE),
    E("diffusion.flow_matching.LinearPath.conditional_velocity",
      obj=lambda: _resolve("diffusion.flow_matching.LinearPath")(), x0=X_T, noise=NOISE),
    E("diffusion.flow_matching.LinearPath.velocity_from_score",
      obj=lambda: _resolve("diffusion.flow_matching.LinearPath")(), x=X_T, t=UNIT_T, score=NOISE),
    E("diffusion.flow_matching.flow_matching_loss", model=velocity, x0=X_T, t=UNIT_T, noise=NOISE,
      skip={"path": "optional (None by default)"}),
    E("diffusion.flow_matching.exact_velocity", mixture=F(mix), skip={"path": "optional (None by default)"}),
    E("diffusion.forward_noising.linear_beta_schedule", T=10, beta_start=1e-3, beta_end=0.2),
    E("diffusion.forward_noising.alpha_bar_from_betas", betas=np.linspace(0.01, 0.2, 10)),
    E("diffusion.forward_noising.cosine_alpha_bar", T=10, s=0.008, kinds={"s": "nonnegative"}),
    E("diffusion.forward_noising.cosine_beta_schedule", T=10, s=0.008, max_beta=0.999, kinds={"s": "nonnegative"}),
    E("diffusion.forward_noising.alpha_bar_at", alpha_bar=np.linspace(0.9, 0.1, 10), t=3,
      kinds={"t": "count:0"}),
    E("diffusion.forward_noising.noise_data", x0=P, alpha_bar_t=0.5, seed=0, return_noise=False,
      kinds={"alpha_bar_t": "unit"}),
    E("diffusion.forward_noising.run_forward_chain", x0=P, betas=np.array([0.1, 0.2]), seed=0, return_path=False),
    E("diffusion.likelihood.divergence_exact", v=velocity, x=X_T, t=UNIT_T),
    E("diffusion.likelihood.divergence_hutchinson", v=velocity, x=X_T, t=UNIT_T, u=NOISE),
    E("diffusion.likelihood.ode_log_likelihood", v=velocity, x=X_T, terminal_log_prob=lambda x: -energy_torch(x),
      t_start=0.0, t_end=1.0, estimator="exact", seed=0, rtol=1e-4, atol=1e-4,
      kinds={"t_start": "real", "t_end": "real"}),
    E("diffusion.likelihood.sde_kl_bound", score=time_score, true_score=time_score, sde=F(vp), x0=X_T,
      times=np.linspace(0.01, 1.0, 4)),
    E("diffusion.networks.TimeConditionedMLP", dim=2, hidden=8, n_hidden_layers=1, n_frequencies=2, seed=0,
      kinds={"n_hidden_layers": "count:0"}),
    E("diffusion.networks.TimeConditionedMLP.time_features", obj=tnet, t=UNIT_T),
    E("diffusion.networks.TimeConditionedMLP.forward", obj=tnet, x=X_T, t=UNIT_T),
    E("diffusion.networks.discrete_model", network=F(tnet), T=10, kinds={"network": "object"}),
    E("diffusion.networks.train_ddpm", data=P, schedule=F(sched), steps=2, batch_size=4, lr=2e-3, hidden=4,
      n_hidden_layers=1, timesteps="uniform", seed=0, kinds={"n_hidden_layers": "count:0"}),
    E("diffusion.networks.train_flow_matching", data=P, steps=2, batch_size=4, lr=2e-3, hidden=4,
      n_hidden_layers=1, seed=0, kinds={"n_hidden_layers": "count:0"}),
    E("diffusion.ode.euler", v=velocity, x=X_T, ts=torch.linspace(1.0, 0.0, 4, dtype=torch.float64)),
    E("diffusion.ode.heun", v=velocity, x=X_T, ts=torch.linspace(1.0, 0.0, 4, dtype=torch.float64)),
    E("diffusion.ode.solve_reference", v=velocity, x=X_T, t_start=1.0, t_end=0.0, rtol=1e-6, atol=1e-6,
      kinds={"t_start": "real", "t_end": "real"}, skip={"extra": "optional (None by default)"}),
    E("diffusion.ode.probability_flow", sde=F(vp), score=time_score),
    E("diffusion.ode.ddim_ode", schedule=F(sched), model=F(eps_model)),
    E("diffusion.samplers.ddpm_sample", schedule=F(sched), model=F(eps_model), x_T=X_T, seed=0,
      prediction="epsilon", variance="posterior", return_path=False),
    E("diffusion.samplers.ddim_sample", schedule=F(sched), model=F(eps_model), x_T=X_T, n_steps=3, seed=0,
      eta=0.0, spacing="leading", steps_offset=0, prediction="epsilon",
      kinds={"eta": "nonnegative", "steps_offset": "count:0"}),
    E("diffusion.samplers.forward_paths", sde=F(vp), x_0=X_T, n_steps=3, seed=0),
    E("diffusion.samplers.reverse_step", sde=F(vp), score=time_score, x=X_T, t=UNIT_T, h=-0.1, noise=NOISE,
      kinds={"h": "real", "noise": "array"}, extra={"h": [0.1]}),
    E("diffusion.samplers.euler_maruyama", sde=F(vp), score=time_score, x_1=X_T, n_steps=3, seed=0, t_end=1e-3,
      return_path=False, kinds={"t_end": "unit"}),
    E("diffusion.samplers.predictor_corrector", sde=F(vp), score=time_score, x_1=X_T, n_steps=3, seed=0,
      n_corrector=1, snr=0.16, t_end=1e-3, kinds={"t_end": "unit", "n_corrector": "count:0"}),
    E("diffusion.schedule.NoiseSchedule", betas=np.linspace(0.01, 0.2, 10)),
    E("diffusion.schedule.NoiseSchedule.linear", T=10, beta_start=1e-3, beta_end=0.2),
    E("diffusion.schedule.NoiseSchedule.cosine", T=10, s=0.008, max_beta=0.999, kinds={"s": "nonnegative"}),
    E("diffusion.schedule.NoiseSchedule.check_t", obj=sched, t=T6, name="t", allow_zero=False, skip=SKIP_NAME),
    E("diffusion.schedule.NoiseSchedule.alpha_bar", obj=sched, t=T6),
    E("diffusion.schedule.NoiseSchedule.beta", obj=sched, t=T6),
    E("diffusion.schedule.NoiseSchedule.posterior_variance", obj=sched, t=T6),
    E("diffusion.schedule.NoiseSchedule.sigma", obj=sched, t=T6),
    E("diffusion.schedule.broadcast_to", values=UNIT_T, x=X_T, kinds={"x": "object"}),
    E("diffusion.schedule.uniform_timesteps", n=5, T=10, generator=F(gen)),
    E("diffusion.schedule.likelihood_timesteps", n=5, schedule=F(sched), generator=F(gen)),
    E("diffusion.sde.SDE.reverse_drift", obj=vp, x=X_T, t=UNIT_T, score=NOISE, probability_flow=False),
    E("diffusion.sde.SDE.prior_sample", obj=vp, shape=(5, 2), generator=F(gen), kinds={"shape": "array"}),
    E("diffusion.sde.SDE.prior_log_prob", obj=vp, x=X_T),
    E("diffusion.sde.SDE.perturb", obj=vp, x0=X_T, t=UNIT_T, noise=NOISE),
    *_sde_methods(),
    E("diffusion.sde.VPSDE", beta_min=0.1, beta_max=20.0, kinds={"beta_min": "positive"}),
    E("diffusion.sde.SubVPSDE", beta_min=0.1, beta_max=20.0, kinds={"beta_min": "positive"}),
    E("diffusion.sde.VESDE", sigma_min=0.01, sigma_max=50.0),
    E("diffusion.sde.check_sde", sde=F(vp)),
    E("diffusion.sde.epsilon_coefficients", sde=F(vp), t=UNIT_T, prediction="v"),
    E("diffusion.sde.output_gain", sde=F(vp), t=UNIT_T, prediction="v"),
    E("diffusion.sde.check_time_grid", t_start=1.0, t_end=0.0, n_steps=4,
      kinds={"t_start": "unit", "t_end": "unit"}),
    E("diffusion.sde.score_from_epsilon", model=F(eps_model), sde=F(vp), T=10),
    E("diffusion.sde.exact_score", mixture=F(mix), process=F(vp), kinds={"process": "object"}),
    E("diffusion.small_steps.reverse_conditional", mixture=F(mix1), alpha_bar_prev=0.9, beta=0.05, x_t=0.3,
      half_width=8.0, n_points=201, kinds={"n_points": "count:3"}),
    E("diffusion.small_steps.reverse_conditional_gaussian_kl", mixture=F(mix1), alpha_bar_prev=0.9, beta=0.05,
      x_t=0.3),
    E("diffusion.small_steps.small_step_kl_asymptote", mixture=F(mix1), alpha_bar_prev=0.9, beta=0.05, x_t=0.3),
    # ---- metrics ---------------------------------------------------------------------------------------
    E("metrics.mode_coverage.mode_coverage", mixture=F(mix), samples=P, n_std=3.0, min_share=0.1),
    E("metrics.mode_weights.estimate_mode_weights", mixture=F(mix), samples=P),
    E("metrics.mode_weights.mode_weight_error", mixture=F(mix), samples=P),
    E("metrics.score_error.relative_score_error", estimate=P, exact=Q[:5].repeat(2, axis=0)[:6] + 1.0,
      weights=np.full(6, 1 / 6)),
    E("metrics.two_sample.pairwise_distances", x=P, y=Q),
    E("metrics.two_sample.energy_distance", x=P, y=Q),
    E("metrics.two_sample.gaussian_kernel", x=P, y=Q, bandwidth=1.0),
    E("metrics.two_sample.mmd_squared", x=P, y=Q, bandwidth=1.0, unbiased=False),
    E("metrics.two_sample.median_heuristic", x=P, y=Q),
    E("metrics.two_sample.noise_floor", sample=F(lambda: mix().sample), n=4, n_pairs=2, seed=0),
    E("metrics.wasserstein.wasserstein2", x=P, y=Q),
    # ---- experiments: 公開の補助関数 --------------------------------------------------------------------
    E("experiments.ch1_generative.sample_unconditional", n=8, seed=0),
    E("experiments.ch1_learning.curve_sampler", n=8, seed=0),
    E("experiments.ch2_dsm.eval_pairs", mixture=F(mix), n=8, sigma=0.5, seed=0),
    E("experiments.ch2_dsm.dsm_and_esm", score_model=F(score_model),
      pairs=F(lambda: _resolve("experiments.ch2_dsm.eval_pairs")(mix(), 8, 0.5, 0)), kinds={"pairs": "object"}),
    E("experiments.ch2_dsm.dsm_constant", mixture=F(mix), sigma=0.5, box=3.0, n_points=9,
      kinds={"n_points": "count:3"}),
    E("experiments.ch2_dsm.trained_dsm_model", settings=_settings("experiments.ch2_dsm.DsmSettings", n_data=8,
      hidden=4, steps=2, batch_size=4, eval_every=1, n_eval=8, quadrature_points=9, n_error=8),
      kinds={"settings": "settings"}),
    E("experiments.ch2_langevin.ring_initial_points", n=8, std=0.5, seed=0),
    E("experiments.ch2_langevin.within_mode_variance", mixture=F(mix), x=P),
    E("experiments.ch2_ncsn.noise_levels", settings=_settings("experiments.ch2_ncsn.NcsnSettings", n_levels=3),
      kinds={"settings": "settings"}),
    E("experiments.ch2_ncsn.trained_ncsn", settings=_settings("experiments.ch2_ncsn.NcsnSettings", n_data=8,
      n_levels=2, steps=2, batch_size=4, hidden=4, n_hidden_layers=1), kinds={"settings": "settings"}),
    E("experiments.ch2_ncsn.score_errors", score_fn=F(lambda: _resolve(
        "score_based.ncsn.exact_noise_conditional_score")(mix())), mixture=F(mix), sigmas=np.array([1.0, 0.5]),
      x=P, seed=0),
    E("experiments.ch2_ncsn.compare_samplers", model=F(ncsn), settings=_settings(
        "experiments.ch2_ncsn.SamplerSettings", n_chains=4, n_steps_each=2), kinds={"model": "object",
                                                                                    "settings": "settings"}),
    E("experiments.ch2_score.one_dimensional_mixture"),
    E("experiments.ch2_score_matching.quadrature_objectives", score_model=F(score_model), mixture=F(mix),
      grid=F(grid2)),
    E("experiments.ch2_score_matching.score_field", score_model=F(score_model), mixture=F(mix), lim=3.0,
      n_arrows=3, n_fine=5),
    E("experiments.ch2_score_matching.random_score_models", seed=0),
    E("experiments.ch2_score_matching.trained_score_model", settings=F(lambda: _settings(
        "experiments.ch2_score_matching.ScoreMatchingSettings", **_SM)), kinds={"settings": "settings"}),
    E("experiments.ch3_ddim.outlier_fraction", x=P, radius=2.0, tolerance=1.0),
    E("experiments.ch3_ddpm.expected_prior_kl", schedule=F(sched), mixture=F(mix)),
    E("experiments.ch3_ddpm.remember_outputs", model=F(eps_model)),
    E("experiments.ch3_ddpm.entropy", mixture=F(mix), box=4.0, n_points=21, kinds={"n_points": "count:3"}),
    E("experiments.ch3_ddpm.small_steps_mixture", settings=_settings("experiments.ch3_ddpm.SmallStepsSettings"),
      kinds={"settings": "settings"}),
    E("experiments.ch3_flow.record_path", v=velocity, x=X_T, ts=torch.linspace(1.0, 0.0, 4, dtype=torch.float64),
      kinds={"x": "batch"}),
    E("experiments.ch3_flow.path_measures", path=np.cumsum(np.ones((4, 6, 2)), axis=0), ts=np.linspace(1, 0, 4),
      scaled=()),
    E("experiments.ch3_likelihood.model_nll", velocity=velocity, x=X_T, log_p=np.full(6, -2.0), t_start=1e-3,
      rtol=1e-4, kinds={"t_start": "unit", "x": "batch"}),
    E("experiments.ch3_models.data_distribution"),
    E("experiments.ch3_models.schedule", settings=_settings("experiments.ch3_models.ModelSettings", T=10),
      kinds={"settings": "settings"}),
    E("experiments.ch3_models.training_data", settings=_settings("experiments.ch3_models.ModelSettings", n_data=8),
      kinds={"settings": "settings"}),
    E("experiments.ch3_models.trained_ddpm", settings=_settings("experiments.ch3_models.ModelSettings", n_data=8,
      T=10, steps=2, batch_size=4, hidden=4, n_hidden_layers=1), kinds={"settings": "settings"}),
    E("experiments.ch3_models.trained_flow", settings=_settings("experiments.ch3_models.ModelSettings", n_data=8,
      T=10, steps=2, batch_size=4, hidden=4, n_hidden_layers=1), kinds={"settings": "settings"}),
    E("experiments.ch3_sde.processes", settings=_settings("experiments.ch3_sde.ProcessSettings"),
      kinds={"settings": "settings"}),
    E("experiments.ch3_sde.reverse_sde_quality", sde=F(vp), score=time_score, settings=_settings(
        "experiments.ch3_sde.QualitySettings", n_samples=8, step_counts=(2,)), kinds={"settings": "settings"}),
]
ENTRIES += _experiments()

REGISTRY: dict[str, Entry] = {entry.target: entry for entry in ENTRIES}
