# AI4V-C — `make up` runs the whole mesh locally, `make test` runs every test.
SHELL := /bin/bash
PY := .venv/bin/python
export PYTHONPATH := $(CURDIR)/gen/python:$(CURDIR)

.PHONY: up down status key test test-unit test-service test-e2e gen check-gen sdks sdks-check sdk-examples bootstrap-sdks lint breaking bench bootstrap clean

bootstrap:  ## venv + system packages + Python packages (idempotent, fast when done)
	@bash deploy/local/bootstrap.sh

up: bootstrap  ## start PostgreSQL, Redis, Triton, the services and Envoy; return when all are healthy
	@$(if $(TLS),AI4VC_EDGE_TLS=$(TLS) )$(if $(MTLS),AI4VC_MESH_MTLS=$(MTLS) )$(PY) -m deploy.local up
# TLS=1: Envoy's public listener speaks TLS only (local CA and certificate in .run/tls/, made once);
# MTLS=1: mTLS from Envoy to the services (README, "TLS").

down:  ## stop everything `make up` started
	@if [ -x $(PY) ]; then $(PY) -m deploy.local down; fi

status:
	@$(PY) -m deploy.local status

key:  ## a new API key for an application: make key NAME=my-app SCOPES=nmt,tts [RPM=120]
	@$(PY) -m deploy.local create-key --name "$(NAME)" --scopes "$(SCOPES)" --requests-per-minute "$(or $(RPM),0)"

test: bootstrap  ## unit, service and e2e tests (starts its own parts on free ports)
	@$(PY) -m pytest -q

test-unit: bootstrap
	@$(PY) -m pytest -q tests/unit

test-service: bootstrap
	@$(PY) -m pytest -q tests/service

test-e2e: bootstrap
	@$(PY) -m pytest -q tests/e2e

gen:  ## regenerate gen/ from proto/ (never edit gen/ by hand)
	@PYTHON=$(PY) bash scripts/gen.sh

check-gen: gen  ## fail when gen/ differs from what proto/ generates
	@git diff --exit-code --stat -- gen/ || { echo "gen/ is stale: run make gen and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- gen/)" || { git status --porcelain -- gen/; echo "gen/ has untracked or changed files: run make gen and commit"; exit 1; }

bootstrap-sdks:  ## toolchains for the generated SDKs (protoc + plugins, Go, JDK jars, grpc++, Node packages)
	@bash deploy/local/bootstrap-sdks.sh

sdks: bootstrap-sdks  ## regenerate the client SDKs under sdk/<lang>/ from proto/ (commit the result)
	@BUF=.venv/bin/buf bash scripts/sdks.sh

sdks-check: bootstrap-sdks  ## fail when sdk/ differs from what proto/ generates; compile every SDK and example
	@BUF=.venv/bin/buf bash scripts/sdks-check.sh

sdk-examples: bootstrap-sdks  ## build the TypeScript and Go TranslateText examples (.run/sdks/bin, sdk/typescript/dist)
	@bash scripts/sdks-check.sh --examples

lint:  ## buf lint, ruff, mypy
	@.venv/bin/buf lint
	@.venv/bin/ruff check .
	@.venv/bin/mypy services deploy gateway sdk/python/src

breaking:  ## buf breaking against main
	@bash scripts/buf-breaking.sh

bench: bootstrap
	@$(PY) -m bench

clean: down
	rm -rf .run
