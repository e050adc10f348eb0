"""ビルド時に描く図の登録簿。

各章のモジュール (``gen_lib/figures/*.py``) が ``@figure("名前.svg")`` で
「シードを受け取り matplotlib の Figure を返す関数」を登録する。
MkDocs のフック (``hooks/figures.py``) は ``all_figures()`` を呼ぶだけである。
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Callable

from matplotlib.figure import Figure

FigureFunction = Callable[..., Figure]

_REGISTRY: dict[str, FigureFunction] = {}
_NAME = re.compile(r"^[a-z0-9][a-z0-9\-]*\.svg$")


def figure(name: str) -> Callable[[FigureFunction], FigureFunction]:
    """図を ``name`` (例: ``"ch1-ebm-poe.svg"``) で登録するデコレータ。"""
    if not _NAME.match(name):
        raise ValueError(f"figure name must look like 'lower-case-words.svg', got {name!r}")

    def register(function: FigureFunction) -> FigureFunction:
        previous = _REGISTRY.get(name)
        if previous is not None and previous.__qualname__ != function.__qualname__:
            raise ValueError(f"figure name {name!r} is registered twice "
                             f"({previous.__module__}.{previous.__qualname__} and "
                             f"{function.__module__}.{function.__qualname__})")
        _REGISTRY[name] = function
        return function

    return register


def all_figures() -> dict[str, FigureFunction]:
    """``gen_lib.figures`` 以下のモジュールをすべて読み込み、登録された図を名前順に返す。"""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return dict(sorted(_REGISTRY.items()))
