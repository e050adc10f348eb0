#!/usr/bin/env bash
# 仮想環境 .venv を作り、pyproject.toml に書かれた依存をすべて入れる (何度実行してもよい)。
#   scripts/setup.sh            ライブラリ・サイト・テストの Python パッケージ (extras: docs, test)
#   scripts/setup.sh --test     さらにブラウザテスト用の Chromium と日本語フォント (apt)
set -euo pipefail
cd "$(dirname "$0")/.."

extras="docs,test"
want_browser=0
[ "${1:-}" = "--test" ] && want_browser=1

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
fi

# pyproject.toml が変わったときだけ pip を走らせる。
pip_log=$(mktemp)
pip() {
  # pip の出力はログに取り、失敗したときだけ (無関係な find-links の警告を除いて) 表示する。
  if ! .venv/bin/python -m pip --disable-pip-version-check "$@" >"$pip_log" 2>&1; then
    grep -v "^WARNING: Location" "$pip_log" >&2
    echo "error: pip $* failed" >&2
    exit 1
  fi
}
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "==> installing packages into .venv (extras: $extras)"
  # torch は CPU 版 2.13.0 を先に入れる (pyproject.toml でも固定している)。
  pip install --quiet "torch==2.13.0"
  pip install --quiet -e ".[$extras]"
  pip check
  .venv/bin/python -c "import torch, gen_lib, mkdocs; print('torch', torch.__version__)"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

if [ "$want_browser" = 1 ] && [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "==> installing Chromium and a Japanese font for the browser tests (apt)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if ! command -v apt-get >/dev/null; then
    echo "error: no apt-get here. Install Chromium yourself and set CHROMIUM=/path/to/chromium" >&2
    exit 1
  fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium fonts-ipafont-gothic
fi
