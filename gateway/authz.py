"""Envoy ext_authz (envoy.service.auth.v3.Authorization/Check): who is calling, may they call
this method, and the identity headers the services trust.

Credentials: `x-api-key: ai4vc_<key_id>_<secret>` or `authorization: Bearer <access token>`.
No credentials → 401 (grpc-status 16); a bad, expired or revoked credential → 401 and one more
failure counted against the client address (too many → 429, grpc-status 8); a credential
without the method's scope → 403 (grpc-status 7). On OK the credential headers are removed
from the upstream request and x-ai4vc-principal / -key-id / -scopes are set.
"""

from __future__ import annotations

import json
import logging
import time

import grpc
import redis.asyncio as aioredis
from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2 as authz_pb
from envoy.service.auth.v3 import external_auth_pb2_grpc as authz_grpc
from envoy.type.v3 import http_status_pb2
from google.rpc import code_pb2, status_pb2
from prometheus_client import CollectorRegistry, Counter

from gateway import policy
from gateway.keystore import KeyStore, StoreUnavailable
from gateway.settings import GatewaySettings
from gateway.ws.protocol import WS_PROTOCOL
from services.common import credentials
from services.common.errors import Reason
from services.common.rpc.identity import IDENTITY_HEADERS, KEY_ID_HEADER, PRINCIPAL_HEADER, SCOPES_HEADER

log = logging.getLogger(__name__)
FAILURE_PREFIX = "ai4vc:authfail:"
_HTTP = {
    code_pb2.UNAUTHENTICATED: http_status_pb2.Unauthorized,
    code_pb2.PERMISSION_DENIED: http_status_pb2.Forbidden,
    code_pb2.RESOURCE_EXHAUSTED: http_status_pb2.TooManyRequests,
    code_pb2.UNAVAILABLE: http_status_pb2.ServiceUnavailable,
}
_REASON = {
    code_pb2.UNAUTHENTICATED: Reason.UNAUTHENTICATED,
    code_pb2.PERMISSION_DENIED: Reason.PERMISSION_DENIED,
    code_pb2.RESOURCE_EXHAUSTED: Reason.RATE_LIMITED,
    code_pb2.UNAVAILABLE: Reason.BACKEND_UNAVAILABLE,
}


class Identity:
    __slots__ = ("principal", "key_id", "scopes")

    def __init__(self, principal: str, key_id: str, scopes: frozenset[str]) -> None:
        self.principal, self.key_id, self.scopes = principal, key_id, scopes


class FailureCounter:
    """Failed authentications per client address and minute; Redis, or this process when it's away."""

    def __init__(self, redis: aioredis.Redis | None, limit: int) -> None:
        self.redis = redis
        self.limit = limit
        self._local: dict[str, int] = {}
        self._local_window = 0
        # Redis's answer per key for up to a second: a good caller costs no Redis round trip
        # per request; a block set by another instance takes effect within that second.
        self._seen: dict[str, tuple[float, bool]] = {}

    def _key(self, address: str) -> tuple[str, int]:
        window = int(time.time() // 60)
        return f"{FAILURE_PREFIX}{address}:{window}", window

    def _local_count(self, key: str, window: int, add: int) -> int:
        if window != self._local_window:
            self._local, self._local_window = {}, window
        self._local[key] = self._local.get(key, 0) + add
        return self._local[key]

    async def blocked(self, address: str) -> bool:
        key, window = self._key(address)
        if self.redis is not None:
            now = time.monotonic()
            cached = self._seen.get(key)
            if cached is not None and now - cached[0] < 1.0:
                return cached[1]
            try:
                answer = int(await self.redis.get(key) or 0) >= self.limit
            except (aioredis.RedisError, OSError):
                return self._local_count(key, window, 0) >= self.limit
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = (now, answer)
            return answer
        return self._local_count(key, window, 0) >= self.limit

    async def record(self, address: str) -> None:
        key, window = self._key(address)
        self._seen.pop(key, None)  # this instance's own failures count at once
        if self.redis is not None:
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, 120)
                    await pipe.execute()
                return
            except (aioredis.RedisError, OSError):
                pass
        self._local_count(key, window, 1)


def _header(key: str, value: str) -> base_pb2.HeaderValueOption:
    return base_pb2.HeaderValueOption(
        header=base_pb2.HeaderValue(key=key, value=value),
        append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
    )


def denied(code: int, message: str, retry_after_s: int | None = None) -> authz_pb.CheckResponse:
    """A denial Envoy sends as is: HTTP status, grpc-status for gRPC callers, a JSON body for REST."""
    headers = [
        _header("grpc-status", str(code)),
        _header("grpc-message", message),
        _header("content-type", "application/json"),
    ]
    if code == code_pb2.UNAUTHENTICATED:
        headers.append(_header("www-authenticate", 'Bearer realm="ai4vc", ApiKey header="x-api-key"'))
    if retry_after_s is not None:
        headers.append(_header("retry-after", str(retry_after_s)))
    body = json.dumps({"code": code, "message": message, "details": [{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": _REASON[code], "domain": "ai4vc"}]})
    return authz_pb.CheckResponse(
        status=status_pb2.Status(code=code, message=message),
        denied_response=authz_pb.DeniedHttpResponse(
            status=http_status_pb2.HttpStatus(code=_HTTP[code]), headers=headers, body=body),
    )


# Browsers cannot set headers on a WebSocket upgrade; they offer the credential as a
# sub-protocol instead: `new WebSocket(url, ["ai4vc.v1", "ai4vc-key." + key])` (or
# "ai4vc-bearer." + token). Query strings would land in access logs; this header does not.
WS_KEY_PREFIX = "ai4vc-key."
WS_BEARER_PREFIX = "ai4vc-bearer."


def websocket_credential(offered: str) -> tuple[str, str]:
    """(api key, bearer header) carried in a Sec-WebSocket-Protocol offer, or ("", "")."""
    for item in (part.strip() for part in offered.split(",")):
        if item.startswith(WS_KEY_PREFIX):
            return item[len(WS_KEY_PREFIX):], ""
        if item.startswith(WS_BEARER_PREFIX):
            return "", "Bearer " + item[len(WS_BEARER_PREFIX):]
    return "", ""


def allowed(identity: Identity | None, websocket: bool = False) -> authz_pb.CheckResponse:
    headers = []
    remove = ["x-api-key", "authorization"]
    if websocket:
        # The upstream sees only the protocol it must select, never the credential.
        headers.append(_header("sec-websocket-protocol", WS_PROTOCOL))
    if identity is None:
        remove.extend(IDENTITY_HEADERS)
    else:
        headers = [_header(PRINCIPAL_HEADER, identity.principal),
                   _header(SCOPES_HEADER, ",".join(sorted(identity.scopes)))]
        if identity.key_id:
            headers.append(_header(KEY_ID_HEADER, identity.key_id))
        else:
            remove.append(KEY_ID_HEADER)
    return authz_pb.CheckResponse(
        status=status_pb2.Status(code=code_pb2.OK),
        ok_response=authz_pb.OkHttpResponse(headers=headers, headers_to_remove=remove),
    )


class Authorizer:
    """The decision, apart from the grpc plumbing."""

    def __init__(self, settings: GatewaySettings, keys: KeyStore, redis: aioredis.Redis | None,
                 registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.keys = keys
        self.failures = FailureCounter(redis, settings.failed_attempts_per_minute)
        self.decisions = Counter("authz_decisions", "ext_authz decisions", ["result"],
                                 registry=registry)

    async def check(self, request: authz_pb.CheckRequest) -> authz_pb.CheckResponse:
        response = await self._check(request)
        self.decisions.labels(code_pb2.Code.Name(response.status.code)).inc()
        return response

    async def _check(self, request: authz_pb.CheckRequest) -> authz_pb.CheckResponse:
        http = request.attributes.request.http
        headers = http.headers
        rule = policy.rule_for(http.path)
        if rule.access is policy.Access.PUBLIC:
            return allowed(None)
        address = request.attributes.source.address.socket_address.address or "unknown"
        if await self.failures.blocked(address):
            return denied(code_pb2.RESOURCE_EXHAUSTED, "too many failed authentication attempts", retry_after_s=60)
        api_key = headers.get("x-api-key", "")
        bearer = headers.get("authorization", "")
        offered = headers.get("sec-websocket-protocol", "")
        if offered and not api_key and not bearer:
            api_key, bearer = websocket_credential(offered)
        if not api_key and not bearer:
            return denied(code_pb2.UNAUTHENTICATED, "credentials required: x-api-key or authorization: Bearer")
        try:
            identity = await (self._from_key(api_key) if api_key else self._from_bearer(bearer))
        except StoreUnavailable:
            log.error("cannot read API keys (PostgreSQL and Redis away)")
            return denied(code_pb2.UNAVAILABLE, "authorization backend unavailable", retry_after_s=1)
        if identity is None:
            await self.failures.record(address)
            log.info("authentication failed", extra={"client": address, "path": http.path[:200]})
            return denied(code_pb2.UNAUTHENTICATED, "invalid, expired or revoked credentials")
        if not rule.allows(identity.scopes):
            need = rule.scope or "none (method not exposed)"
            return denied(code_pb2.PERMISSION_DENIED, f"credential lacks the scope this method needs: {need}")
        return allowed(identity, websocket=bool(offered))

    async def _from_key(self, api_key: str) -> Identity | None:
        parsed = credentials.parse_key(api_key.strip())
        if parsed is None:
            return None
        key_id, secret = parsed
        record = await self.keys.get(key_id)
        if record is None or record.revoked:
            return None
        if not credentials.secret_matches(self.settings.key_pepper, record.secret_salt, record.secret_hash, secret):
            return None
        return Identity(record.owner, key_id, record.scopes)

    async def _from_bearer(self, value: str) -> Identity | None:
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        claims = credentials.verify_jwt(self.settings.jwt_secret, token.strip())
        if claims is None or await self.keys.session_revoked(claims.session_id):
            return None
        return Identity(claims.subject, "", claims.scopes)


class AuthorizationServicer(authz_grpc.AuthorizationServicer):
    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    async def Check(self, request: authz_pb.CheckRequest, context: grpc.aio.ServicerContext
                    ) -> authz_pb.CheckResponse:
        return await self.authorizer.check(request)
