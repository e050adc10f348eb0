#!/usr/bin/env bash
# サイトを組み立てて http://127.0.0.1:8000/ で配信する (gen_lib や docs を編集すると自動で再ビルド)。
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export NO_MKDOCS_2_WARNING=1
exec .venv/bin/mkdocs serve --dev-addr 127.0.0.1:8000 "$@"
