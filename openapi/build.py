"""Generates gen/openapi/openapi.json, the OpenAPI 3 document of the REST surface Envoy's
grpc_json_transcoder serves, from proto/ and its google.api.http bindings (run by scripts/gen.sh).

1. grpc-gateway's protoc-gen-swagger (Debian golang-grpc-gateway) writes one Swagger 2 document
   per service file, field names as JSON names (json_names_for_fields: Envoy prints lowerCamelCase,
   preserve_proto_field_names is off at the edge);
2. the documents are merged (one API, schema names checked for clashes);
3. swagger2openapi (npm, openapi/package-lock.json) converts the result to OpenAPI 3.0;
4. what the edge does that the protos do not say is added: the credentials (x-api-key or a bearer
   access token) as securitySchemes, public methods (gateway.policy) with no security, the
   google.rpc.Status error body every non-2xx answer carries, and the JSON mapping of the
   well-known types (Any with "@type", Struct, Value) that this generator release renders as
   plain messages.

See openapi/README.md for why this generator and what the document leaves out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deploy.local.envoy_config import DHRUVA_PREFIXES  # noqa: E402
from gateway import policy  # noqa: E402

# On the Dhruva / Bhashini paths (proto/ai4vc/ulca/v1) errors are in Dhruva's shape, written by
# the edge (envoy/envoy.yaml.j2's first Lua filter).
DHRUVA_ERROR = "dhruvaError"

OUT = ROOT / "gen" / "openapi" / "openapi.json"
SHIM = Path(__file__).with_name("proto3_optional_shim.py")
CONVERTER = Path(__file__).with_name("node_modules") / "swagger2openapi" / "swagger2openapi.js"
STATUS = "googleRpcStatus"
ANY = "protobufAny"

DESCRIPTION = """\
The REST/JSON surface of AI4V-C, as Envoy's gRPC-JSON transcoder serves it. Every operation is a
unary gRPC method of the same name (see proto/ in the repository); streaming methods (live ASR,
chunked TTS, speech-to-speech) are gRPC, gRPC-Web and WebSocket only and are not listed here.

**Credentials.** Send an API key as `x-api-key: ai4vc_<key id>_<secret>` (`make key` or
`POST /v1/apiKeys` creates one) or an access token from `POST /v1/auth:login` as
`Authorization: Bearer <token>`. Methods marked with no security need neither. Each method's
description names the scope its key needs (`x-ai4vc-scope`); a key with `admin` has them all.

**Errors.** Every non-2xx answer is a `google.rpc.Status` as JSON: `code` (the gRPC code),
`message`, and `details`, each with an `@type` — `google.rpc.ErrorInfo` (`reason`, one of the
reasons in proto/README.md, and `domain` "ai4vc") always, plus `google.rpc.BadRequest` (field
violations), `google.rpc.RetryInfo` or `google.rpc.QuotaFailure` where they apply. The HTTP status
follows the gRPC code (INVALID_ARGUMENT 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403,
NOT_FOUND 404, RESOURCE_EXHAUSTED 429, UNAVAILABLE 503 …). The Bhashini / Dhruva facade's paths
(`/services/inference/*`, `/ulca/apis/*`) answer errors as Dhruva does instead:
`{"detail": {"kind": <ErrorInfo reason>, "message": ..., "field": <the field, when one is wrong>}}`,
with the same HTTP statuses; they also take the raw key as `Authorization: ai4vc_<key id>_<secret>`.

**JSON.** Field names are lowerCamelCase; 64-bit integers are strings; enums are their names;
`bytes` are base64; every primitive field of an answer is present, with its default value when
unset. Query parameters are listed under their proto field names (`page_size`); Envoy takes the
lowerCamelCase names (`pageSize`) too, and refuses a parameter that names no field (400).
"""

# The JSON mapping of the well-known types (protobuf's JSON spec), which the generator renders as
# their message fields.
WELL_KNOWN = {
    ANY: {
        "type": "object",
        "description": "A google.protobuf.Any as JSON: the message's fields next to `@type`, its type URL.",
        "properties": {"@type": {"type": "string",
                                 "example": "type.googleapis.com/google.rpc.ErrorInfo"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
    "protobufStruct": {"type": "object", "additionalProperties": True,
                       "description": "A google.protobuf.Struct: any JSON object."},
    "protobufValue": {"description": "A google.protobuf.Value: any JSON value (null, number, string, "
                                     "boolean, object or array).", "nullable": True},
    "protobufListValue": {"type": "array", "items": {"nullable": True},
                          "description": "A google.protobuf.ListValue: a JSON array."},
    "protobufNullValue": {"description": "A google.protobuf.NullValue: JSON null.", "nullable": True,
                          "enum": [None]},
}

ERROR_SCHEMAS: dict[str, Any] = {
    DHRUVA_ERROR: {
        "type": "object",
        "description": "The error body of the Bhashini / Dhruva paths, as Dhruva's clients parse it.",
        "properties": {"detail": {"type": "object", "properties": {
            "kind": {"type": "string", "description": "The ErrorInfo reason (proto/README.md)."},
            "message": {"type": "string", "description": "A developer-facing message, in English."},
            "field": {"type": "string", "description": "The request field that is wrong, when one is."},
        }, "required": ["kind", "message"]}},
        "required": ["detail"],
    },
    STATUS: {
        "type": "object",
        "description": "google.rpc.Status: the body of every error answer.",
        "properties": {
            "code": {"type": "integer", "format": "int32", "description": "The gRPC status code."},
            "message": {"type": "string", "description": "A developer-facing message, in English."},
            "details": {"type": "array", "items": {"$ref": f"#/components/schemas/{ANY}"},
                        "description": "ErrorInfo always; BadRequest, RetryInfo, QuotaFailure where they apply."},
        },
    },
    "googleRpcErrorInfo": {
        "type": "object",
        "description": "google.rpc.ErrorInfo (`@type` type.googleapis.com/google.rpc.ErrorInfo).",
        "properties": {"reason": {"type": "string"}, "domain": {"type": "string"},
                       "metadata": {"type": "object", "additionalProperties": {"type": "string"}}},
    },
    "googleRpcBadRequest": {
        "type": "object",
        "description": "google.rpc.BadRequest (`@type` type.googleapis.com/google.rpc.BadRequest).",
        "properties": {"fieldViolations": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "description": {"type": "string"}}}}},
    },
    "googleRpcRetryInfo": {
        "type": "object",
        "description": "google.rpc.RetryInfo (`@type` type.googleapis.com/google.rpc.RetryInfo).",
        "properties": {"retryDelay": {"type": "string", "example": "1.500s"}},
    },
}


def service_files() -> list[Path]:
    """Our proto files whose services have REST bindings, in a fixed order."""
    files = sorted((ROOT / "proto").rglob("*.proto"))
    return [f for f in files if "google.api.http" in f.read_text() and "\nservice " in f.read_text()]


def swagger_documents(python: str, workdir: Path) -> list[tuple[str, dict[str, Any]]]:
    """(proto package, Swagger 2 document) per service file, from protoc-gen-swagger."""
    plugin = workdir / "protoc-gen-swagger"
    plugin.write_text(f'#!/bin/sh\nexec "{python}" "{SHIM}" "$@"\n')
    plugin.chmod(0o755)
    out = workdir / "swagger"
    out.mkdir()
    docs = []
    for proto in service_files():
        relative = proto.relative_to(ROOT / "proto")
        # One file a run: this release refuses a request that spans several packages.
        subprocess.run([python, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}",
                        f"-I{ROOT / 'third_party' / 'googleapis'}", f"--plugin=protoc-gen-swagger={plugin}",
                        f"--swagger_out=json_names_for_fields=true:{out}", str(relative)],
                       check=True, cwd=ROOT)
        generated = out / relative.with_suffix(".swagger.json")
        package = ".".join(relative.parent.parts)
        docs.append((package, json.loads(generated.read_text())))
    return docs


def merge(docs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One Swagger 2 document: every path and definition; each operation named `<Service>_<Method>`
    and tagged with its gRPC method and the access rule the edge applies."""
    merged: dict[str, Any] = {"swagger": "2.0", "info": {"title": "AI4V-C REST API", "version": "v1"},
                              "consumes": ["application/json"], "produces": ["application/json"],
                              "paths": {}, "definitions": {}}
    for package, doc in docs:
        for name, schema in doc.get("definitions", {}).items():
            seen = merged["definitions"].setdefault(name, schema)
            if seen != schema:
                raise SystemExit(f"openapi: two messages map to the schema name {name}")
        for path, operations in doc.get("paths", {}).items():
            if path in merged["paths"]:
                raise SystemExit(f"openapi: {path} is bound by two services")
            for operation in operations.values():
                service = operation["tags"][0]
                method = f"/{package}.{service}/{operation['operationId']}"
                operation["operationId"] = f"{service}_{operation['operationId']}"
                operation["x-grpc-method"] = method
                rule = policy.rule_for(method)
                if rule.access is policy.Access.DENY:
                    raise SystemExit(f"openapi: {method} has a REST binding but the edge refuses it")
                operation["x-ai4vc-access"] = rule.access.value
                if rule.access is policy.Access.SCOPE:
                    operation["x-ai4vc-scope"] = rule.scope
            merged["paths"][path] = operations
    return merged


def convert(swagger: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Swagger 2 → OpenAPI 3.0 with swagger2openapi."""
    node = shutil.which("node")
    if not node or not CONVERTER.exists():
        raise SystemExit("openapi: needs node and openapi/node_modules (npm ci --prefix openapi; bootstrap does it)")
    source, target = workdir / "swagger2.json", workdir / "openapi3.json"
    source.write_text(json.dumps(swagger))
    subprocess.run([node, str(CONVERTER), "--patch", "--outfile", str(target), str(source)], check=True)
    converted: dict[str, Any] = json.loads(target.read_text())
    return converted


def edge_facts(doc: dict[str, Any]) -> dict[str, Any]:
    """Adds what the edge does: credentials, public methods, the error body, well-known types."""
    doc["info"] = {"title": "AI4V-C REST API", "version": "v1", "description": DESCRIPTION}
    doc["servers"] = [{"url": "/", "description": "the Envoy edge that serves this document"}]
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(WELL_KNOWN)
    schemas.update(ERROR_SCHEMAS)
    components["securitySchemes"] = {
        "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key",
                   "description": "An API key, `ai4vc_<key id>_<secret>`."},
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "An access token from POST /v1/auth:login (HS256, audience ai4vc)."},
    }
    components["responses"] = {"Error": {
        "description": "An error: google.rpc.Status as JSON (the HTTP status follows the gRPC code).",
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{STATUS}"}}}},
        "DhruvaError": {
            "description": "An error in Dhruva's shape (the HTTP status follows the gRPC code).",
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{DHRUVA_ERROR}"}}}}}
    doc["security"] = [{"apiKey": []}, {"bearer": []}]
    for path, operations in doc["paths"].items():
        dhruva = path.startswith(DHRUVA_PREFIXES)
        for operation in operations.values():
            operation["responses"]["default"] = {
                "$ref": "#/components/responses/DhruvaError" if dhruva else "#/components/responses/Error"}
            access = operation["x-ai4vc-access"]
            if access == policy.Access.PUBLIC.value:
                operation["security"] = []
                note = "Public: no credential needed."
            elif access == policy.Access.SCOPE.value:
                note = f"Needs a key or token with the scope `{operation['x-ai4vc-scope']}` (or `admin`)."
            else:
                note = "Needs any valid key or token."
            operation["description"] = (operation.get("description", "") + f"\n\n{note}").strip()
            operation.pop("x-ai4vc-access")
    strip_path_fields(doc)
    # Streaming messages the generator lists for the record: no REST operation uses them.
    schemas.pop("x-stream-definitions", None)
    doc.pop("x-stream-definitions", None)
    return doc


def _json_name(proto_name: str) -> str:
    head, *rest = proto_name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def strip_path_fields(doc: dict[str, Any]) -> None:
    """A `body: "*"` method with path parameters takes those fields from the path only: Envoy refuses
    a body that repeats one (reject_binding_body_field_collisions). Such a body gets a schema of its
    own, `<Request>Body`, without them (the generator lists the whole request message)."""
    schemas = doc["components"]["schemas"]
    for operations in doc["paths"].values():
        for operation in operations.values():
            in_path = {_json_name(p["name"]) for p in operation.get("parameters", []) if p["in"] == "path"}
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not in_path or not content or "$ref" not in content["schema"]:
                continue
            name = content["schema"]["$ref"].rsplit("/", 1)[1]
            body = json.loads(json.dumps(schemas[name]))
            body["properties"] = {k: v for k, v in body.get("properties", {}).items() if k not in in_path}
            schemas[f"{name}Body"] = body
            content["schema"] = {"$ref": f"#/components/schemas/{name}Body"}


def build(python: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ai4vc-openapi-") as tmp:
        workdir = Path(tmp)
        return edge_facts(convert(merge(swagger_documents(python, workdir)), workdir))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="openapi/build.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--python", default=os.environ.get("PYTHON", sys.executable),
                        help="the Python with grpcio-tools that runs protoc")
    args = parser.parse_args(argv)
    doc = build(args.python)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"openapi: wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}"
          f" ({sum(len(v) for v in doc['paths'].values())} operations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
