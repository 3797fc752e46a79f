"""The seed's edge design, rebuilt as a baseline for `bench.edge`: a FastAPI gateway under uvicorn
that checks the API key itself and forwards the request over HTTP/1.1 to a FastAPI "NMT REST
service".

Both apps are built by factories and run as their own uvicorn processes (one worker each):

    AI4VC_BASELINE_UPSTREAM=http://127.0.0.1:P AI4VC_BASELINE_DATABASE_URL=... \\
    AI4VC_BASELINE_REDIS_URL=... AI4VC_BASELINE_KEY_PEPPER=... \\
        python -m uvicorn bench.baseline_gateway:gateway_app --factory --port Q
    python -m uvicorn bench.baseline_gateway:nmt_app --factory --port P

The key check is our former gateway's (its ext_authz, before the native edge): parse the key, an
in-process cache (10 s) in front of a Redis copy (300 s) in front of the `api_keys` row in
PostgreSQL, the same salted HMAC, the `nmt` scope. It keeps its Redis copies under its own
prefix so it never touches the records the real gateway caches. The NMT app calls the same
`services.nmt.langid.detect` in-process and answers the JSON shape Envoy's transcoder gives.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import redis.asyncio as aioredis
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from services.common import credentials
from services.nmt import langid

KEY_CACHE_PREFIX = "ai4vc-baseline:key:"
KEY_CACHE_TTL_S = 300
LOCAL_CACHE_TTL_S = 10.0
SCOPE = "nmt"
_QUERY = ("SELECT key_id, owner, scopes, secret_salt, secret_hash, revoke_time IS NOT NULL AS revoked"
          " FROM api_keys WHERE key_id = $1")


def nmt_app() -> FastAPI:
    """POST /v1/text:detectLanguage — `{"content": ...}` → `{"languages": [{languageCode, confidence}]}`."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/v1/text:detectLanguage")
    async def detect_language(body: dict[str, Any]) -> Any:
        content = str(body.get("content", ""))
        guesses = langid.detect(content) if content.strip() else []
        if not guesses:
            return JSONResponse({"code": 3, "message": "no letters of a known script in content"}, status_code=400)
        return {"languages": [{"languageCode": g.language_code, "confidence": g.confidence} for g in guesses]}

    return app


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def gateway_app() -> FastAPI:
    """Key check (in-process → Redis → PostgreSQL), then forward the request to the upstream."""
    upstream = os.environ["AI4VC_BASELINE_UPSTREAM"]
    database_url = os.environ["AI4VC_BASELINE_DATABASE_URL"]
    redis_url = os.environ["AI4VC_BASELINE_REDIS_URL"]
    pepper = os.environ["AI4VC_BASELINE_KEY_PEPPER"]
    state: dict[str, Any] = {}
    local: dict[str, tuple[dict[str, Any] | None, float]] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
        state["redis"] = aioredis.from_url(redis_url)
        state["http"] = httpx.AsyncClient(base_url=upstream, timeout=10.0,
                                          limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
        try:
            yield
        finally:
            await state["http"].aclose()
            await state["redis"].aclose()
            await state["pool"].close()

    async def record_of(key_id: str) -> dict[str, Any] | None:
        now = time.monotonic()
        hit = local.get(key_id)
        if hit is not None and hit[1] > now:
            return hit[0]
        record: dict[str, Any] | None
        raw = await state["redis"].get(KEY_CACHE_PREFIX + key_id)
        if raw is not None:
            record = json.loads(raw) or None
        else:
            row = await state["pool"].fetchrow(_QUERY, key_id)
            record = None if row is None else {
                "owner": row["owner"], "scopes": list(row["scopes"]), "secret_salt": row["secret_salt"],
                "secret_hash": row["secret_hash"], "revoked": row["revoked"]}
            await state["redis"].set(KEY_CACHE_PREFIX + key_id, json.dumps(record or {}),
                                     ex=KEY_CACHE_TTL_S if record else 30, nx=True)
        local[key_id] = (record, now + LOCAL_CACHE_TTL_S)
        return record

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)

    @app.post("/v1/{path:path}")
    async def forward(path: str, request: Request) -> Response:
        parsed = credentials.parse_key(request.headers.get("x-api-key", "").strip())
        if parsed is None:
            return _error(401, 16, "credentials required: x-api-key")
        key_id, secret = parsed
        record = await record_of(key_id)
        if record is None or record["revoked"] or not credentials.secret_matches(
                pepper, record["secret_salt"], record["secret_hash"], secret):
            return _error(401, 16, "invalid, expired or revoked credentials")
        if SCOPE not in record["scopes"]:
            return _error(403, 7, f"credential lacks the scope this method needs: {SCOPE}")
        answer = await state["http"].post(
            "/v1/" + path, content=await request.body(),
            headers={"content-type": request.headers.get("content-type", "application/json"),
                     "x-ai4vc-principal": record["owner"], "x-ai4vc-key-id": key_id})
        return Response(answer.content, status_code=answer.status_code,
                        media_type=answer.headers.get("content-type"))

    return app
