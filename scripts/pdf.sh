#!/usr/bin/env bash
# LaTeX 版: 講義ノート全体を build/latex/course.tex と course.pdf にする (README「LaTeX 版 (PDF)」)。
# 環境 (.venv) と TeX (apt) がなければ入れ、strict ビルドしたサイトから変換して latexmk -lualatex で組む。
# 引数は scripts/build_pdf.py に渡す (例: --tex-only)。
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --pdf
export NO_MKDOCS_2_WARNING=1
exec .venv/bin/python scripts/build_pdf.py "$@"
