r"""第 3 章で共有する学習済みモデル: 円周上の 8 個のモードの混合 (記号一覧の ``ring_of_gaussians``) で学習した
DDPM の $\varepsilon_\theta$ とフローマッチングの $v_\theta$。

2 つは同じネットワーク (``TimeConditionedMLP``)・同じデータ・同じ予算 (ステップ数・バッチ・学習率) で学習する。
どの節の図も、ノートブックもベンチマークも、この実験の結果を読み込む (ビルド 1 回につき学習は 1 回)。
ベンチマークはステップ数を増やした設定 (``ModelSettings(steps=…)``) で同じ関数を呼ぶ。
"""

from __future__ import annotations

# --8<-- [start:imports]
from dataclasses import dataclass

from gen_lib.core.experiment import experiment
from gen_lib.core.nn import single_thread
from gen_lib.core.validation import check_instance
from gen_lib.diffusion.networks import (TimeConditionedMLP, discrete_model,
                                       train_ddpm, train_flow_matching)
from gen_lib.diffusion.schedule import NoiseSchedule
from gen_lib.distributions.gaussian_mixture import GaussianMixture, ring_of_gaussians
# --8<-- [end:imports]

__all__ = ["ModelSettings", "data_distribution", "schedule", "training_data", "ddpm_training",
           "flow_matching_training", "trained_ddpm", "trained_flow"]


# --8<-- [start:settings]
@dataclass(frozen=True)
class ModelSettings:
    """円周上の 8 個のモードの混合で DDPM とフローマッチングを学習する設定 (両者で共通)。"""

    n_data: int = 20000  # N, データセット D の大きさ
    data_seed: int = 30  # D を p から引くシード
    T: int = 1000  # DDPM の時刻の数 (線形スケジュール β_1 = 1e-4 … β_T = 0.02)
    steps: int = 2000  # 学習のステップ数
    batch_size: int = 256  # ミニバッチの大きさ
    lr: float = 2e-3  # Adam の学習率 (余弦で 0 まで下げる)
    hidden: int = 128  # 隠れ層のユニット数
    n_hidden_layers: int = 3  # 隠れ層の数
    timesteps: str = "uniform"  # DDPM の学習で t を引く分布 ("likelihood" は尤度の重み)
    prediction: str = "epsilon"  # DDPM のネットワークが予測する量 ("epsilon", "x0", "v")
    seed: int = 0  # 初期値・ミニバッチ・時刻・ノイズのシード
# --8<-- [end:settings]


def data_distribution() -> GaussianMixture:
    """第 3 章のデータ分布 p: 半径 2、標準偏差 0.15 の、円周上の 8 個のモードの混合。"""
    return ring_of_gaussians()


def schedule(settings: ModelSettings = ModelSettings()) -> NoiseSchedule:
    """DDPM の線形スケジュール (Ho et al. 2020 の β_1 = 1e-4, β_T = 0.02)。"""
    check_instance(settings, ModelSettings, name="settings")
    return NoiseSchedule.linear(settings.T)


def training_data(settings: ModelSettings = ModelSettings()):
    """学習データ D (N 点、形 (N, 2) の numpy 配列)。"""
    check_instance(settings, ModelSettings, name="settings")
    return data_distribution().sample(settings.n_data, seed=settings.data_seed)


@experiment(ModelSettings)
def ddpm_training(settings: ModelSettings) -> dict:
    """DDPM のネットワーク (既定は ε 予測) を L_simple (目標を settings.prediction にしたもの) で学習する。
    戻り値は ``{"state_dict", "history"}``。"""
    with single_thread():
        network, history = train_ddpm(training_data(settings), schedule(settings), steps=settings.steps,
                                      batch_size=settings.batch_size, lr=settings.lr, hidden=settings.hidden,
                                      n_hidden_layers=settings.n_hidden_layers, timesteps=settings.timesteps,
                                      prediction=settings.prediction, seed=settings.seed)
    return {"state_dict": network.state_dict(), "history": history}


@experiment(ModelSettings)
def flow_matching_training(settings: ModelSettings) -> dict:
    """同じネットワーク・予算で、線形の経路の条件付きフローマッチングを学習する。"""
    with single_thread():
        network, history = train_flow_matching(training_data(settings), steps=settings.steps,
                                               batch_size=settings.batch_size, lr=settings.lr,
                                               hidden=settings.hidden, n_hidden_layers=settings.n_hidden_layers,
                                               seed=settings.seed)
    return {"state_dict": network.state_dict(), "history": history}


def _network(state_dict: dict, settings: ModelSettings) -> TimeConditionedMLP:
    check_instance(settings, ModelSettings, name="settings")
    network = TimeConditionedMLP(2, hidden=settings.hidden, n_hidden_layers=settings.n_hidden_layers)
    network.load_state_dict(state_dict)
    return network.eval()


def trained_ddpm(settings: ModelSettings = ModelSettings()):
    r"""学習した $\varepsilon_\theta(x_t, t)$ (離散時刻 $t \in \{1, \dots, T\}$ で呼ぶ形) と損失の履歴。
    ``settings.prediction`` が ``"v"`` なら出力は $v_\theta$ である。"""
    network = _network(ddpm_training(settings)["state_dict"], settings)
    return discrete_model(network, settings.T), list(ddpm_training(settings)["history"])


def trained_flow(settings: ModelSettings = ModelSettings()):
    r"""学習した速度場 $v_\theta(x, t)$ ($t \in [0, 1]$) と損失の履歴。"""
    network = _network(flow_matching_training(settings)["state_dict"], settings)
    return network, list(flow_matching_training(settings)["history"])
