#!/usr/bin/env bash
# Toolchains for the generated client SDKs (`make sdks`, `make sdks-check`, the SDK example
# e2e test); idempotent and quick once done. Kept apart from bootstrap.sh so that `make up`
# on a fresh machine does not pull a JDK, Go and grpc++ it does not need; .ci/run calls it.
#   - protoc + the gRPC plugins (cpp, ruby, php, java), Go with Debian's grpc-go / protobuf-go /
#     genproto sources, protobuf + grpc-java jars (with Netty and perfmark to run the example), libgrpc++-dev, ruby with the grpc and protobuf gems, php-cli, a JDK, Node/npm
#   - sdk/typescript/node_modules from package-lock.json (npm ci; protoc-gen-es, tsc, Connect)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

say() { printf '  %s\n' "$*"; }

need=()
command -v protoc >/dev/null || need+=(protobuf-compiler)
command -v grpc_cpp_plugin >/dev/null || need+=(protobuf-compiler-grpc)
command -v grpc_java_plugin >/dev/null || need+=(protobuf-compiler-grpc-java-plugin)
command -v go >/dev/null || need+=(golang-go)
command -v protoc-gen-go >/dev/null || need+=(protoc-gen-go)
command -v protoc-gen-go-grpc >/dev/null || need+=(protoc-gen-go-grpc)
[[ -d /usr/share/gocode/src/google.golang.org/grpc ]] || need+=(golang-google-grpc-dev)
[[ -d /usr/share/gocode/src/google.golang.org/protobuf ]] || need+=(golang-google-protobuf-dev)
[[ -d /usr/share/gocode/src/google.golang.org/genproto ]] || need+=(golang-google-genproto-dev)
# grpc-go's codec goes through github.com/golang/protobuf: 1.3 (what apt picks by default)
# predates protobuf-go v2 messages and panics on them; 1.5 replaces it.
gp=/usr/share/gocode/src/github.com/golang/protobuf/proto
if [[ ! -d $gp || -e $gp/table_unmarshal.go ]]; then need+=(golang-github-golang-protobuf-1-5-dev); fi
[[ -e /usr/share/java/protobuf.jar ]] || need+=(libprotobuf-java)
[[ -e /usr/share/java/grpc-stub.jar ]] || need+=(libgrpc-java)
[[ -e /usr/share/java/netty-codec-http2.jar ]] || need+=(libnetty-java)
[[ -e /usr/share/java/perfmark-api.jar ]] || need+=(libperfmark-java)
command -v javac >/dev/null || need+=(default-jdk-headless)
[[ -e /usr/include/grpcpp/grpcpp.h ]] || need+=(libgrpc++-dev)
[[ -e /usr/include/google/protobuf/message.h ]] || need+=(libprotobuf-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v g++ >/dev/null || need+=(g++)
command -v ruby >/dev/null || need+=(ruby)
ruby -e 'require "grpc"; require "google/protobuf"' 2>/dev/null || need+=(ruby-grpc ruby-google-protobuf)
command -v php >/dev/null || need+=(php-cli)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if ((${#need[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then SUDO="sudo"; else
      echo "bootstrap-sdks: please install: apt-get install -y ${need[*]}" >&2; exit 1
    fi
  fi
  say "installing SDK toolchains: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm ci only when the lockfile changed since the last install.
lock_stamp="$(sha256sum sdk/typescript/package-lock.json | cut -c1-16)"
if [[ "$(cat sdk/typescript/node_modules/.ai4vc-stamp 2>/dev/null)" != "$lock_stamp" ]]; then
  say "installing sdk/typescript npm packages (npm ci, package-lock.json)"
  (cd sdk/typescript && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$lock_stamp" > sdk/typescript/node_modules/.ai4vc-stamp
fi
