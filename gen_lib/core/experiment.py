"""実験: 凍結した設定のデータクラスを 1 つ受け取り、結果を返す関数。結果は内容の鍵でキャッシュされる。

書き方 (``gen_lib/experiments/`` の各モジュール)::

    @dataclass(frozen=True)
    class RingSettings:
        n: int = 2000  # N, サンプル数
        seed: int = 0  # 乱数のシード

    @experiment(RingSettings)
    def ring_samples(settings: RingSettings) -> dict:
        ...

``ring_samples()`` は既定の設定で、``ring_samples(RingSettings(n=100))`` は別の設定で実行する。
鍵は名前 (``<モジュール>-<関数>``)・設定・関数のモジュールが推移的に import する gen_lib のソース・
ライブラリの版から導く (``gen_lib.core.cache``)。

ビルドは図を描く前に、登録されたすべての実験を既定の設定と ``variants`` の設定で走らせる
(図・ノートブックが既定以外の設定で呼ぶなら、その設定を ``variants`` に挙げる)。
``timing=True`` の実験は計算時間を測るので、ビルドでは他の計算と並べずに単独で走らせる。
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import pkgutil
from typing import Any, Callable, Iterable

from gen_lib.core.cache import cached
from gen_lib.core.errors import InputError, check_bool, check_callable

__all__ = ["Experiment", "experiment", "all_experiments"]

_REGISTRY: dict[str, "Experiment"] = {}


class Experiment:
    """キャッシュ付きの実験。呼ぶと結果を返す (設定を省けば既定の設定)。"""

    def __init__(self, function: Callable[[Any], Any], settings_type: type, timing: bool, variants: tuple):
        check_callable(function, name="function", signature="(settings)")
        if not isinstance(settings_type, type):
            raise InputError(f"settings_type must be a settings class, got {type(settings_type).__name__}")
        if not isinstance(variants, tuple):
            raise InputError(f"variants must be a tuple of settings, got {type(variants).__name__}")
        self.function = function
        self.settings_type = settings_type
        self.timing = check_bool(timing, name="timing")
        self.build_settings = (settings_type(), *variants)  # ビルドが前もって走らせる設定
        self.name = f"{function.__module__.rsplit('.', 1)[-1]}-{function.__name__}".replace("_", "-")
        functools.update_wrapper(self, function)

    def __call__(self, settings=None):
        settings = self.settings_type() if settings is None else settings
        if type(settings) is not self.settings_type:
            raise InputError(f"{self.name} expects settings of type {self.settings_type.__name__}, "
                             f"got {type(settings).__name__}")
        return cached(self.name, settings, lambda: self.function(settings), depends_on=self.function.__module__)

    def __repr__(self) -> str:
        return f"<experiment {self.name} ({self.settings_type.__name__})>"


def experiment(settings_type: type, *, timing: bool = False, variants=()) -> Callable[[Callable], Experiment]:
    """``settings_type`` (凍結したデータクラス) を受け取る関数を、キャッシュ付きの実験として登録する。"""
    if not (dataclasses.is_dataclass(settings_type) and isinstance(settings_type, type)
            and settings_type.__dataclass_params__.frozen):
        raise InputError(f"settings_type must be a frozen dataclass, got {settings_type!r}")
    if isinstance(variants, (str, bytes)) or not isinstance(variants, Iterable):
        raise InputError(f"variants must be an iterable of settings, got {type(variants).__name__}")
    variants = tuple(variants)
    timing = check_bool(timing, name="timing")
    for variant in variants:
        if type(variant) is not settings_type:
            raise InputError(f"variants must be {settings_type.__name__} instances, got {type(variant).__name__}")

    def register(function: Callable) -> Experiment:
        run = Experiment(function, settings_type, timing, variants)
        previous = _REGISTRY.get(run.name)
        if previous is not None and previous.function.__qualname__ != function.__qualname__:
            raise InputError(f"experiment name {run.name!r} is registered twice")
        _REGISTRY[run.name] = run
        return run

    return register


def all_experiments() -> dict[str, Experiment]:
    """``gen_lib.experiments`` 以下のモジュールをすべて読み込み、登録された実験を名前順に返す。"""
    import gen_lib.experiments as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return dict(sorted(_REGISTRY.items()))
