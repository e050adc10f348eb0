#!/usr/bin/env bash
# テスト一式: gen_lib の恒等式・入力検査・決定性、サイトの strict ビルド、実ブラウザ (Chromium) での確認。
# 層ごとに: scripts/test.sh -m "not site and not browser" (ライブラリ)、-m "site and not browser"、-m browser
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export NO_MKDOCS_2_WARNING=1
exec .venv/bin/python -m pytest "$@"
