#!/usr/bin/env bash
# 仮想環境 .venv を作り、requirements.lock に固定した版のパッケージを入れる (何度実行してもよい)。
#   scripts/setup.sh            ライブラリ・サイト・テストの Python パッケージ (pyproject.toml の extras docs, test)
#   scripts/setup.sh --test     さらにブラウザテスト用の Chromium と日本語フォント、LaTeX 版の TeX (apt)
#   scripts/setup.sh --pdf      さらに LaTeX 版 (scripts/pdf.sh) の TeX と poppler-utils だけ (apt)
# pyproject.toml は版の範囲、requirements.lock はそれを解いた正確な版 (README「依存の固定」で作り直す)。
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
want_tex=0
case "${1:-}" in
  --test) want_browser=1; want_tex=1 ;;
  --pdf) want_tex=1 ;;
  "") ;;
  *) echo "error: unknown option ${1}; expected --test or --pdf" >&2; exit 2 ;;
esac

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
fi

# requirements.lock か pyproject.toml が変わったときだけ pip を走らせる。
pip_log=$(mktemp)
pip() {
  # pip の出力はログに取り、失敗したときだけ (無関係な find-links の警告を除いて) 表示する。
  if ! .venv/bin/python -m pip --disable-pip-version-check "$@" >"$pip_log" 2>&1; then
    grep -v "^WARNING: Location" "$pip_log" >&2
    echo "error: pip $* failed" >&2
    exit 1
  fi
}
stamp=".venv/.installed-$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "==> installing the locked packages into .venv (requirements.lock)"
  # torch は CPU 版 2.13.0+cpu (ロックに CUDA のパッケージ nvidia-* は入っていない)。
  pip install --quiet -r requirements.lock
  pip install --quiet --no-deps -e .
  pip check
  # ロックが pyproject.toml の範囲 (extras docs, test を含む) を満たすか確かめる。
  .venv/bin/python - <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, requires, version

from packaging.requirements import Requirement

problems = []
for text in requires("gen-lib"):
    requirement = Requirement(text)
    extras = ("", "docs", "test")
    if requirement.marker and not any(requirement.marker.evaluate({"extra": e}) for e in extras):
        continue
    try:
        installed = version(requirement.name)
    except PackageNotFoundError:
        problems.append(f"{requirement.name} is not installed")
        continue
    if not requirement.specifier.contains(installed, prereleases=True):
        problems.append(f"{requirement.name}=={installed} does not satisfy {requirement}")
if problems:
    sys.exit("error: requirements.lock does not match pyproject.toml (refresh it, see README):\n  "
             + "\n  ".join(problems))
PY
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

# LaTeX 版: LuaLaTeX (LuaTeX-ja と原ノ味フォント)、latexmk、PDF を調べる pdftotext・pdffonts・pdfinfo
tex_missing=0
for tool in lualatex latexmk pdftotext pdffonts pdfinfo; do
  command -v "$tool" >/dev/null || tex_missing=1
done
for file in ltjsreport.cls fancyvrb.sty xkeyval.sty; do  # texlive-lang-japanese, texlive-latex-recommended
  [ -n "$(kpsewhich "$file" 2>/dev/null)" ] || tex_missing=1
done
if [ "$want_tex" = 1 ] && [ "$tex_missing" = 1 ]; then
  echo "==> installing LuaLaTeX (Japanese), latexmk and poppler-utils for the PDF edition (apt)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if ! command -v apt-get >/dev/null; then
    echo "error: no apt-get here. Install TeX Live (luatex, lang-japanese, latex-recommended), latexmk and" \
         "poppler-utils yourself" >&2
    exit 1
  fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q texlive-luatex texlive-lang-japanese \
    texlive-latex-recommended latexmk poppler-utils
fi
