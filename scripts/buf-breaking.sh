#!/usr/bin/env bash
# Checks proto/ for wire- and source-breaking changes (rules: FILE) against the
# contracts committed on branch main. Before main has a buf.yaml there is
# nothing to compare with, and the check passes.
#
# Env: PYTHON (default .venv/bin/python); BUF (default: buf next to PYTHON).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
BUF="${BUF:-$(dirname "$PYTHON")/buf}"

if ! git rev-parse --verify --quiet 'main^{commit}' >/dev/null \
  || ! git cat-file -e 'main:buf.yaml' 2>/dev/null; then
  echo "buf-breaking.sh: no baseline yet (main has no commit with buf.yaml)"
  exit 0
fi

"$BUF" breaking --against '.git#branch=main'
