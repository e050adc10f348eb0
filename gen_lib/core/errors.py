"""入力の約束の土台: エラーの型 ``InputError`` と、torch を読み込まない検査 (真偽のフラグ、呼び出せるもの)。

ビルドのフック (実験の登録とキャッシュ) もこれを使う。温まったビルドが torch を読み込まずに済むよう、
ここでは numpy だけを使う。ほかの検査は ``gen_lib.core.validation`` にある (これらもそこから使える)。
"""

from __future__ import annotations

import numpy as np

__all__ = ["InputError", "check_bool", "check_callable"]


class InputError(ValueError, TypeError):
    """公開関数に渡された入力が約束に合わない (メッセージはパラメーターの名前・受け取った値・期待される値を示す)。"""


def check_bool(value, *, name: str) -> bool:
    """真偽のフラグは bool (numpy の bool も可) だけを受け付ける (文字列 "False" などは不可)。"""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be a bool (True or False), got {value!r}")
    return bool(value)


def check_callable(function, *, name: str, signature: str = "") -> None:
    """呼び出せるオブジェクトであることを確かめる (``signature`` は期待する呼び方、例 ``"(x, t)"``)。"""
    if not callable(function):
        expected = f" as {name}{signature}" if signature else ""
        raise InputError(f"{name} must be callable{expected}, got {type(function).__name__}")
