#!/usr/bin/env bash
# Regenerates the client SDKs under sdk/<lang>/ from proto/ (run through `make sdks`).
#
#   sdk/typescript/src/gen/   protobuf-es v2 messages + service descriptors (Connect)
#   sdk/go/ai4vc/             protoc-gen-go messages + protoc-gen-go-grpc stubs
#   sdk/java/src/main/java/   protoc java messages + grpc-java stubs
#   sdk/csharp/Generated/     protoc C# messages (no gRPC stubs: Debian has no C# plugin)
#   sdk/cpp/gen/              protoc C++ messages + grpc++ stubs
#   sdk/ruby/lib/             protoc Ruby messages + grpc stubs
#   sdk/php/src/              protoc PHP messages + grpc stubs
#   Python                    already in gen/python (make gen)
#
# TypeScript and Go are committed (the web UI and Go users import them from the tree);
# `make sdks-check` regenerates, fails on any drift there, and compiles every SDK
# (scripts/sdks-check.sh). Java, C#, C++, Ruby and PHP are generated into ignored paths
# (.gitignore) on demand: megabytes of descriptors that would churn on every proto change.
# Plugins are local and pinned (sdk/buf.gen.yaml says which); the vendored googleapis
# protos (google.api.http, google.rpc.Status / ErrorInfo) are generated with ours for
# every language except Go, which imports Debian's genproto packages instead.
#
# Env: BUF (default .venv/bin/buf).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUF="${BUF:-.venv/bin/buf}"

missing=()
[[ -x "$BUF" ]] || missing+=("buf ($BUF; pip install buf-bin)")
for tool in protoc protoc-gen-go protoc-gen-go-grpc grpc_java_plugin grpc_cpp_plugin grpc_ruby_plugin grpc_php_plugin; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[[ -x sdk/typescript/node_modules/.bin/protoc-gen-es ]] || missing+=("protoc-gen-es (cd sdk/typescript && npm ci)")
if ((${#missing[@]})); then
  echo "sdks.sh: missing: ${missing[*]} (bash deploy/local/bootstrap.sh installs them)" >&2
  exit 1
fi

# Only generated trees are removed; the hand-written parts of each SDK live beside them.
rm -rf sdk/typescript/src/gen sdk/go/ai4vc sdk/java/src/main/java sdk/csharp/Generated \
       sdk/cpp/gen sdk/ruby/lib sdk/php/src

"$BUF" generate --template sdk/buf.gen.yaml \
  --path proto/ai4vc \
  --path third_party/googleapis/google/rpc

# Go uses google.golang.org/genproto for google.rpc (what grpc-go's status package speaks);
# buf has no per-plugin path filter, so the copies it wrote are dropped here.
rm -rf sdk/go/google

echo "sdks.sh: regenerated sdk/{typescript,go,java,csharp,cpp,ruby,php}"
