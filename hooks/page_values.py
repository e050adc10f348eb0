r"""ページに載る数値をビルドが作る (mkdocs-macros-plugin のモジュール)。

実行で得た数値 (学習・サンプリング・モンテカルロ・時間) をページに手で書かない。ページは前付けに
``render_macros: true`` を書き、実験の結果を ``result`` で読んで、``fmt`` で書式を決めて埋め込む::

    ---
    render_macros: true
    ---
    T = 50 では $L_T$ = {{ result("ch3_ddpm.prior_terms")["linear"][50] | fmt(".3f") }} nats である。

- ``result("ch3_ddpm.prior_terms")`` は ``gen_lib.experiments.ch3_ddpm.prior_terms`` を既定の設定で呼ぶ。
  図のフック (``hooks/figures.py``) がページより先にすべての実験を計算してキャッシュに置くので、
  ここでは読み込むだけである (ウォームビルドは何も計算しない)。図も同じ結果から描く。
- ``fmt(x, spec)`` は Python の書式指定 (``format(x, spec)``)。numpy やテンソルの 0 次元の値も受け取る。
- Jinja が解釈するのは前付けで ``render_macros: true`` としたページだけである (ほかのページの
  TeX の ``{{`` を誤って読まない)。コードブロックは snippets が後で差し込むので対象にならない。
"""

from __future__ import annotations

import importlib
import platform


def _as_number(value):
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    return value


def result(name: str):
    """``"<experiments のモジュール>.<実験>"`` の既定の設定での結果。"""
    module_name, _, function_name = name.rpartition(".")
    if not module_name:
        raise ValueError(f"result() expects '<module>.<experiment>', got {name!r}")
    module = importlib.import_module(f"gen_lib.experiments.{module_name}")
    run = getattr(module, function_name, None)
    if run is None or not hasattr(run, "settings_type"):
        raise ValueError(f"{name!r} is not an experiment in gen_lib.experiments.{module_name}")
    return run()


def fmt(value, spec: str = ".3g") -> str:
    """数値を書式指定 ``spec`` で文字列にする。"""
    value = _as_number(value)
    if not isinstance(value, (int, float)):
        raise ValueError(f"fmt() expects a number, got {type(value).__name__}: {value!r}")
    return format(value, spec)


def machine() -> str:
    """時間を測った計算機の説明 (CPU の数と種類)。時間の数値の横に添える。"""
    import os

    return f"{os.cpu_count()} コアの {platform.machine()} ({platform.processor() or platform.system()})"


def define_env(env):
    env.macro(result)
    env.macro(machine)
    env.filter(fmt)
