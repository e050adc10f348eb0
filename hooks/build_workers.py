"""ビルドのワーカープロセスで走る関数 (``hooks/figures.py`` が起動したプロセスが ``hooks.build_workers``
として import する。MkDocs のフックではない)。

- torch は 1 スレッドで動かす。直列のビルドでも並列のビルドでも同じ計算になり、図のバイト列が変わらない。
- 失敗は ``RuntimeError("型: メッセージ")`` にして親に返す (元の例外の型がプロセスをまたいで
  復元できなくても、メッセージは必ず届く)。親が図・実験の名前を付けてビルドを止める。
"""

from __future__ import annotations

import importlib
import os
import time


# forkserver が先に読み込むライブラリと、そのときの環境 (ライブラリがスレッドを作る前に決める)
PRELOAD = ("numpy", "torch", "matplotlib", "matplotlib.figure")
ENVIRONMENT = {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def initialize() -> None:
    """ワーカーの起動時に 1 回: torch を 1 スレッドにする。"""
    os.environ.update(ENVIRONMENT)
    import torch

    torch.set_num_threads(1)


def _resolve(module: str, attribute: str):
    return getattr(importlib.import_module(module), attribute)


def run_experiment(module: str, attribute: str, settings) -> float:
    """実験 ``module.attribute`` を ``settings`` で計算してディスクに保存し、かかった秒数を返す。"""
    start = time.perf_counter()
    try:
        _resolve(module, attribute)(settings)
    except Exception as error:  # noqa: BLE001 — どの例外でも型とメッセージを親に返す
        raise RuntimeError(f"{type(error).__name__}: {error}") from error
    return time.perf_counter() - start


def registered_figures() -> dict[str, tuple[str, str]]:
    """登録されたすべての図: 名前 → (モジュール, 関数名)。図のモジュール (と torch) を import するのはワーカーだけ。"""
    from gen_lib.figures import all_figures

    return {name: (function.__module__, function.__name__) for name, function in all_figures().items()}


def render_figure(module: str, attribute: str) -> tuple[bytes, float, list[str]]:
    """図の関数 ``module.attribute`` で描き、SVG のバイト列・秒数・描画中に計算した結果の名前を返す。

    図は実験の結果を読んで描くだけなので、最後のリストは空であるはず (空でなければ、ビルドが前もって
    計算していない設定で実験を呼んでいる)。
    """
    from gen_lib.core.cache import computed_names
    from gen_lib.core.plotting import figure_to_svg

    start = time.perf_counter()
    before = len(computed_names())
    try:
        svg = figure_to_svg(_resolve(module, attribute)(seed=0))
    except Exception as error:  # noqa: BLE001 — どの例外でも型とメッセージを親に返す
        raise RuntimeError(f"{type(error).__name__}: {error}") from error
    return svg, time.perf_counter() - start, computed_names()[before:]
