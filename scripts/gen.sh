#!/usr/bin/env bash
# Regenerates everything under gen/ from proto/ (run through `make gen`).
#
#   gen/python/       protobuf messages (_pb2.py + .pyi) and gRPC stubs
#                     (_pb2_grpc.py) for ai4vc.* only; google.api / google.rpc
#                     come from the googleapis-common-protos wheel at runtime.
#   gen/python/riva/  stubs of NVIDIA Riva's ASR, TTS and NMT APIs (nvidia.riva.*,
#                     services/riva serves them), generated from the vendored
#                     descriptor set third_party/riva/riva.binpb (no .proto
#                     files exist for them; outside our buf module and its lint).
#   gen/descriptors/  ai4vc.binpb, the buf image (with imports, google.rpc.*
#                     included) that Envoy's grpc_json_transcoder loads.
#   gen/openapi/      openapi.json, the OpenAPI 3 document of the REST surface
#                     (openapi/build.py: Debian's protoc-gen-swagger, then npm
#                     swagger2openapi; the edge serves it at /openapi.json).
#
# Output is deterministic for a given grpcio-tools and buf version, so CI can
# regenerate and fail on `git diff --exit-code gen/`.
#
# Env: PYTHON (default .venv/bin/python) must have grpcio-tools;
#      BUF (default: buf next to PYTHON, from the buf-bin wheel).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
BUF="${BUF:-$(dirname "$PYTHON")/buf}"

if ! "$PYTHON" -c 'import grpc_tools.protoc' 2>/dev/null; then
  echo "gen.sh: $PYTHON has no grpc_tools (pip install grpcio-tools)" >&2
  exit 1
fi
if [[ ! -x "$BUF" ]]; then
  echo "gen.sh: buf not found at $BUF (pip install buf-bin, or set BUF=)" >&2
  exit 1
fi

"$BUF" lint

rm -rf gen/python gen/descriptors
mkdir -p gen/python gen/descriptors

# Our protos only, in a fixed order.
mapfile -t protos < <(find proto -name '*.proto' | LC_ALL=C sort)

"$PYTHON" -m grpc_tools.protoc \
  -Iproto \
  -Ithird_party/googleapis \
  --python_out=gen/python \
  --pyi_out=gen/python \
  --grpc_python_out=gen/python \
  "${protos[@]}"

# Riva's APIs from their descriptor set (third_party/riva/README.md). Its health.proto is not
# in the set: package grpc.health.v1 would clash with grpcio-health-checking's.
mapfile -t riva_protos < <("$PYTHON" -c '
import sys
from google.protobuf import descriptor_pb2
files = descriptor_pb2.FileDescriptorSet.FromString(open(sys.argv[1], "rb").read()).file
print("\n".join(f.name for f in files))' third_party/riva/riva.binpb)
"$PYTHON" -m grpc_tools.protoc \
  --descriptor_set_in=third_party/riva/riva.binpb \
  --python_out=gen/python \
  --pyi_out=gen/python \
  --grpc_python_out=gen/python \
  "${riva_protos[@]}"

# Make every generated directory a regular package so that
# `from ai4vc.nmt.v1 import nmt_service_pb2` works with gen/python on sys.path.
find gen/python -mindepth 1 -type d -print0 | while IFS= read -r -d '' dir; do
  touch "$dir/__init__.py"
done

# Whole workspace, imports included: the transcoder needs google.api.http and
# google.rpc.Status / ErrorInfo in its descriptor pool.
"$BUF" build -o gen/descriptors/ai4vc.binpb

# swagger2openapi comes from openapi/package-lock.json (bootstrap installs it; a fresh worktree too).
if [[ ! -f openapi/node_modules/swagger2openapi/swagger2openapi.js ]]; then
  npm ci --prefix openapi --no-audit --no-fund --ignore-scripts >/dev/null
fi
rm -rf gen/openapi
"$PYTHON" openapi/build.py --python "$PYTHON"

echo "gen.sh: regenerated gen/python, gen/descriptors/ai4vc.binpb and gen/openapi/openapi.json"
