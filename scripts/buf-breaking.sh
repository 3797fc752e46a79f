#!/usr/bin/env bash
# Checks proto/ for wire- and source-breaking changes (rules: FILE).
#
# Baseline: BUF_AGAINST if set; else the upstream main (origin/main) when this checkout is
# ahead of it; else the previous commit (HEAD~1), which is what CI, on a fresh clone of
# main, can compare with. Without a baseline that has buf.yaml the check passes.
#
# Env: PYTHON (default .venv/bin/python); BUF (default: buf next to PYTHON).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
BUF="${BUF:-$(dirname "$PYTHON")/buf}"

ref="${BUF_AGAINST:-}"
if [[ -z "$ref" ]]; then
  if git rev-parse --verify --quiet 'origin/main^{commit}' >/dev/null \
     && [[ "$(git rev-parse origin/main)" != "$(git rev-parse HEAD)" ]]; then
    ref="$(git merge-base HEAD origin/main)"
  elif git rev-parse --verify --quiet 'HEAD~1^{commit}' >/dev/null; then
    ref="$(git rev-parse HEAD~1)"
  fi
fi
if [[ -z "$ref" ]] || ! git cat-file -e "$ref:buf.yaml" 2>/dev/null; then
  echo "buf-breaking.sh: no baseline with buf.yaml yet; nothing to compare"
  exit 0
fi
echo "buf-breaking.sh: comparing proto/ with $ref"
"$BUF" breaking --against ".git#ref=$ref"
