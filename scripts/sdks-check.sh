#!/usr/bin/env bash
# `make sdks-check`: regenerates sdk/ (scripts/sdks.sh), fails when the committed sources
# differ from what proto/ generates, then compiles every SDK and its example:
#
#   typescript  tsc (sdk/typescript/dist)            go    go build + go vet (GOPATH mode,
#   java        javac against Debian's jars                Debian's grpc-go / protobuf sources)
#   cpp         g++ against libgrpc++-dev             ruby  every file loaded   php  php -l
#   csharp      not compiled: no Google.Protobuf runtime for mono/dotnet in Debian (README)
#
# Build outputs go to .run/sdks/ (ignored). Each step prints the seconds it took.
# --examples: only build the TypeScript and Go examples (what tests/e2e/test_sdk_examples.py runs).
# The toolchains come from deploy/local/bootstrap-sdks.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
OUT="$ROOT/.run/sdks"
mkdir -p "$OUT"

step() {  # step NAME COMMAND...: runs it, prints how long it took
  local name="$1"; shift
  local start=$SECONDS
  "$@"
  printf '  %-28s %4ds\n' "$name" $((SECONDS - start))
}

# The committed generated trees (the others are ignored and only compiled).
COMMITTED=(sdk/typescript/src/gen sdk/go/ai4vc)
drift() {
  bash scripts/sdks.sh >/dev/null
  git diff --exit-code --stat -- "${COMMITTED[@]}" || { echo "sdk/ is stale: run make sdks and commit" >&2; return 1; }
  local untracked
  untracked="$(git status --porcelain --untracked-files=all -- "${COMMITTED[@]}")"
  [[ -z "$untracked" ]] || { echo "$untracked"; echo "sdk/ has untracked or changed generated files: run make sdks and commit" >&2; return 1; }
}

typescript() {
  (cd sdk/typescript && node_modules/.bin/tsc -p tsconfig.json)
}

go_sdk() {
  # No module proxy is reachable: build in GOPATH mode, with the SDK copied under its import
  # path and Debian's /usr/share/gocode (grpc-go 1.33, protobuf-go 1.28, genproto) after it.
  local gopath="$OUT/gopath" pkg=github.com/ai4vc/ai4vc/sdk/go
  rm -rf "$gopath/src/$pkg"
  mkdir -p "$gopath/src/$(dirname "$pkg")" "$OUT/bin"
  cp -r sdk/go "$gopath/src/$pkg"
  (cd "$gopath/src/$pkg" &&
    export GO111MODULE=off GOFLAGS= GOPATH="$gopath:/usr/share/gocode" GOCACHE="$OUT/gocache" &&
    go build ./... && go vet ./... && go build -o "$OUT/bin/translate-go" ./examples/translate)
}

JAVA_JARS=(protobuf grpc-api grpc-stub grpc-protobuf grpc-protobuf-lite guava geronimo-annotation-1.3-spec jsr305
           error_prone_annotations)
# ... and what the example needs at run time (Debian's grpc-netty, Netty 4.1, perfmark).
JAVA_RUNTIME_JARS=(grpc-core grpc-context grpc-netty perfmark-api netty-buffer netty-codec netty-codec-http
                   netty-codec-http2 netty-codec-socks netty-common netty-handler netty-handler-proxy netty-resolver
                   netty-transport)
java_sdk() {
  local cp="" jar
  for jar in "${JAVA_JARS[@]}"; do cp+="/usr/share/java/$jar.jar:"; done
  rm -rf "$OUT/java" && mkdir -p "$OUT/java"
  find sdk/java/src/main/java sdk/java/examples -name '*.java' | LC_ALL=C sort > "$OUT/java/sources.txt"
  javac -nowarn -encoding UTF-8 -d "$OUT/java/classes" -cp "$cp" @"$OUT/java/sources.txt"
  # The classpath to run the example with (tests/e2e/test_sdk_examples.py reads it).
  cp="$OUT/java/classes:$cp"
  for jar in "${JAVA_RUNTIME_JARS[@]}"; do cp+="/usr/share/java/$jar.jar:"; done
  echo "${cp%:}" > "$OUT/java/classpath.txt"
}

cpp_sdk() {
  make -s -C sdk/cpp -j"$(nproc)" BUILD="$OUT/cpp"
}

ruby_sdk() {
  # Loads every generated file (Debian's ruby-google-protobuf 3.21 / ruby-grpc 1.51 gems), then
  # syntax-checks the example.
  (cd sdk/ruby && ruby -Ilib -e 'Dir.glob("lib/**/*_pb.rb").sort.each { |f| require f.delete_prefix("lib/").delete_suffix(".rb") }
    abort "no NmtService stub" unless Ai4vc::Nmt::V1::NmtService::Stub.method_defined?(:translate_text)' &&
    ruby -c examples/translate.rb >/dev/null)
}

php_sdk() {
  find sdk/php/src -name '*.php' -print0 | LC_ALL=C sort -z | xargs -0 -n1 php -l >/dev/null
}

if [[ "${1:-}" == "--examples" ]]; then
  # Only what the examples e2e test runs: sdk/typescript/dist and .run/sdks/bin/translate-go.
  step "typescript (tsc)" typescript
  step "go (build, vet)" go_sdk
  exit 0
fi

total=$SECONDS
step "generate + drift check" drift
step "typescript (tsc)" typescript
step "go (build, vet)" go_sdk
step "java (javac)" java_sdk
step "c++ (g++)" cpp_sdk
step "ruby (load every file)" ruby_sdk
step "php (php -l)" php_sdk
echo "  csharp: generated only (no C# protobuf runtime installable here; sdk/csharp/README.md)"
printf '  %-28s %4ds\n' "sdks-check total" $((SECONDS - total))
