#!/usr/bin/env bash
# Prepares a fresh Debian/Ubuntu machine for the local mesh; idempotent and quick once done.
#   - system packages: Redis, Apertium Hindi<->Urdu (the reference NMT model), the Python
#     shared library Triton's Python-backend stub links against, PostgreSQL if none is found,
#     Prometheus (scrapes the mesh) and InfluxDB 1.x (the metrics service's optional sink; its test)
#   - .venv from a Python >= 3.11 that the Triton wheel has a backend stub for
#   - pinned Python packages (requirements.txt) and the tritonserver wheel (no deps)
#   - NeMo's text-normalization grammars, compiled once into ~/.cache/ai4vc/grammars (deploy/local/grammars.py)
#   - npm packages of openapi/ (package-lock.json): swagger2openapi for `make gen`, Swagger UI for /docs
#   - the browser tests' tools: Debian chromium and node/npm, and playwright-core from
#     tests/browser/package-lock.json (npm ci; no browser download)
#   - the web console's npm packages (web/package-lock.json) and Noto fonts for its scripts
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

say() { printf '  %s\n' "$*"; }

pick_python() {
  if [[ -n "${AI4VC_PYTHON:-}" ]]; then echo "$AI4VC_PYTHON"; return; fi
  # Prefer the distribution's interpreters: the stub links the shared libpython.
  for candidate in /usr/bin/python3.11 /usr/bin/python3.12 /usr/bin/python3.13 \
                   "$(command -v python3.11 || true)" "$(command -v python3.12 || true)" \
                   "$(command -v python3 || true)"; do
    [[ -n "$candidate" && -x "$candidate" ]] || continue
    if "$candidate" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 13)))' 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
  echo "bootstrap: need Python 3.11-3.13 (apt-get install python3.11 python3.11-venv)" >&2
  exit 1
}

PYTHON_BIN="$(pick_python)"
PYVER="$("$PYTHON_BIN" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"

# --- system packages ---------------------------------------------------------------------
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v apertium >/dev/null || need+=(apertium)
[[ -d /usr/share/apertium/apertium-urd-hin || -e /usr/share/apertium/modes/hin-urd.mode ]] || need+=(apertium-urd-hin)
# Word lists that rank transliteration candidates (models/transliteration/1/lexicon.py).
for lang in hi bn gu ml te; do
  [[ -e "/usr/share/hunspell/${lang}_IN.dic" ]] || need+=("hunspell-${lang}")
done
command -v aspell >/dev/null || need+=(aspell)
for lang in kn mr or pa ta te; do
  [[ -e "/usr/share/aspell/${lang}.cwl.gz" ]] || need+=("aspell-${lang}")
done
if [[ "$PYTHON_BIN" == /usr/bin/* ]]; then
  grep -q "libpython${PYVER}.so.1.0" <(ldconfig -p 2>/dev/null) || need+=("libpython${PYVER}")
  "$PYTHON_BIN" -c 'import ensurepip' 2>/dev/null || need+=("python${PYVER}-venv")
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  need+=(postgresql)
fi
command -v runuser >/dev/null || need+=(util-linux)
command -v prometheus >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v influxd >/dev/null || need+=(influxdb)
# `make gen`: grpc-gateway's protoc-gen-swagger writes the REST surface's OpenAPI (openapi/build.py).
command -v protoc-gen-swagger >/dev/null || need+=(golang-grpc-gateway)
command -v node >/dev/null || need+=(nodejs npm)
# perf_analyzer (shipped in the tritonclient wheel; `make bench`) links libb64.
# (grep reads ldconfig's list through a process substitution: `ldconfig -p | grep -q` under
# pipefail fails whenever grep stops reading early and ldconfig gets SIGPIPE.)
grep -q "libb64.so.0d" <(ldconfig -p 2>/dev/null) || need+=(libb64-0d)
# The dashboard's browser test: a real Chromium driven by playwright-core (tests/browser).
command -v chromium >/dev/null || need+=(chromium)
# bench/: native load generators, so a Python client is not what the edge benchmarks measure.
command -v h2load >/dev/null || need+=(nghttp2-client)
command -v wrk >/dev/null || need+=(wrk)
# The web console's Indic and Urdu text (Devanagari, Tamil, Arabic script) in that browser.
# (a file test: `fc-list | grep -q` under pipefail fails when grep stops reading early — SIGPIPE)
[[ -e /usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf ]] || need+=(fonts-noto-core)
if ((${#need[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then SUDO="sudo"; else
      echo "bootstrap: please install: apt-get install -y ${need[*]}" >&2; exit 1
    fi
  fi
  say "installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Under systemd the packages start their own daemons on 9090 (Prometheus) and 8086/8088
  # (InfluxDB: the gateway's and TTS's ports). The mesh starts its own; stop theirs.
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    for unit in prometheus prometheus-alertmanager influxdb; do
      [[ " ${need[*]} " == *" ${unit} "* ]] && $SUDO systemctl disable --now "$unit" >/dev/null 2>&1 || true
    done
  fi
fi

# --- virtualenv --------------------------------------------------------------------------
if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c "import sys; sys.exit(f'{sys.version_info[0]}.{sys.version_info[1]}' != '$PYVER')"; then
  say "creating .venv with $PYTHON_BIN"
  rm -rf .venv
  "$PYTHON_BIN" -m venv .venv
fi
stamp="$(cat requirements.txt deploy/local/bootstrap.sh | sha256sum | cut -c1-16)"
if [[ "$(cat .venv/.ai4vc-stamp 2>/dev/null)" != "$stamp" ]]; then
  say "installing Python packages (pinned, requirements.txt; log: .run/logs/pip.log)"
  mkdir -p .run/logs
  {
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt &&
    # Only the tritonserver binary from this wheel is used; its client stack is not.
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps nvidia-pytriton==0.7.0
  } > .run/logs/pip.log 2>&1 || { tail -40 .run/logs/pip.log >&2; echo "bootstrap: pip install failed" >&2; exit 1; }
  echo "$stamp" > .venv/.ai4vc-stamp
fi

# --- .venv-riva: the unchanged NVIDIA Riva client (its own protobuf; tests/e2e/test_riva_compat.py) --
riva_stamp="$(sha256sum deploy/local/riva-client-requirements.txt | cut -c1-16)"
if [[ "$(cat .venv-riva/.ai4vc-stamp 2>/dev/null)" != "$riva_stamp" ]]; then
  say "installing the Riva client into .venv-riva (deploy/local/riva-client-requirements.txt)"
  mkdir -p .run/logs
  [[ -x .venv-riva/bin/python ]] || "$PYTHON_BIN" -m venv .venv-riva
  .venv-riva/bin/python -m pip install -q --disable-pip-version-check -r deploy/local/riva-client-requirements.txt \
    > .run/logs/pip-riva.log 2>&1 || { tail -40 .run/logs/pip-riva.log >&2; echo "bootstrap: pip install (.venv-riva) failed" >&2; exit 1; }
  echo "$riva_stamp" > .venv-riva/.ai4vc-stamp
fi

# --- text-normalization grammars (NeMo ITN for asr, TN for tts), compiled once ---------------
# ~10 min on a fresh machine (Hindi ITN ~3 min at ~2 GB, English TN ~5 min); seconds once
# cached. Done here so services and test meshes load them instead of compiling in the background.
mkdir -p .run/logs
if ! PYTHONPATH=gen/python:. .venv/bin/python -m deploy.local.grammars > .run/logs/grammars.log 2>&1; then
  tail -20 .run/logs/grammars.log >&2; echo "bootstrap: grammar compilation failed (services still run, without ITN/TN grammars)" >&2
fi

# --- npm packages (openapi/: the OpenAPI converter and the Swagger UI the edge serves) ---------
npm_stamp="$(sha256sum openapi/package-lock.json | cut -c1-16)"
if [[ "$(cat openapi/node_modules/.ai4vc-stamp 2>/dev/null)" != "$npm_stamp" ]]; then
  say "installing npm packages of openapi/ (package-lock.json)"
  mkdir -p .run/logs
  npm ci --prefix openapi --no-audit --no-fund --ignore-scripts > .run/logs/npm-openapi.log 2>&1 ||
    { tail -40 .run/logs/npm-openapi.log >&2; echo "bootstrap: npm ci (openapi/) failed" >&2; exit 1; }
  echo "$npm_stamp" > openapi/node_modules/.ai4vc-stamp
fi

# --- browser-test packages (npm, from the committed lockfile) --------------------------------
lock_stamp="$(sha256sum tests/browser/package-lock.json | cut -c1-16)"
if [[ "$(cat tests/browser/node_modules/.ai4vc-stamp 2>/dev/null)" != "$lock_stamp" ]]; then
  say "installing npm packages of tests/browser/ (package-lock.json)"
  mkdir -p .run/logs
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund --ignore-scripts \
    > .run/logs/npm-browser.log 2>&1 ||
    { tail -40 .run/logs/npm-browser.log >&2; echo "bootstrap: npm ci (tests/browser/) failed" >&2; exit 1; }
  echo "$lock_stamp" > tests/browser/node_modules/.ai4vc-stamp
fi

# --- the web console's packages (web/: Next.js, React, TanStack Query, Vitest; lockfile) -----
# `make up` and the test mesh build it (next build, skipped while its sources are unchanged).
web_stamp="$(sha256sum web/package-lock.json | cut -c1-16)"
if [[ "$(cat web/node_modules/.ai4vc-stamp 2>/dev/null)" != "$web_stamp" ]]; then
  say "installing npm packages of web/ (package-lock.json)"
  mkdir -p .run/logs
  # --ignore-scripts: no install script runs (esbuild, under Vitest, ships its binary as a
  # platform package; Next's SWC likewise).
  NEXT_TELEMETRY_DISABLED=1 npm ci --prefix web --no-audit --no-fund --ignore-scripts > .run/logs/npm-web.log 2>&1 ||
    { tail -40 .run/logs/npm-web.log >&2; echo "bootstrap: npm ci (web/) failed" >&2; exit 1; }
  echo "$web_stamp" > web/node_modules/.ai4vc-stamp
fi
