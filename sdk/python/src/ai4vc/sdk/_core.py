"""What the sync and asyncio clients share: connection settings (endpoint, TLS, credential,
deadline, retry policy), and the typed method descriptors the service classes are declared with."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import grpc
from google.protobuf.message import Message

from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.sdk.credentials import ApiKey, Credential, Jwt, Metadata
from ai4vc.sdk.retry import RetryPolicy

DEFAULT_ENDPOINT = "localhost:8080"  # Envoy under `make up`
DEFAULT_TIMEOUT = 30.0
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # what the services accept (services/common/settings.py)
REFRESH_METHOD = "/ai4vc.auth.v1.AuthService/Refresh"

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


@dataclass(frozen=True)
class Settings:
    """How a client connects; `Settings.resolve` fills what is not given from the environment."""

    endpoint: str
    tls: bool
    root_certificates: bytes | None
    credential: Credential | None
    timeout: float | None
    retry: RetryPolicy
    metadata: Metadata = ()
    options: tuple[tuple[str, Any], ...] = field(default=())

    @classmethod
    def resolve(cls, endpoint: str | None = None, *, api_key: str | None = None, token: str | None = None,
                credential: Credential | None = None, tls: bool | None = None,
                root_certificates: bytes | str | Path | None = None, timeout: float | None = DEFAULT_TIMEOUT,
                retry: RetryPolicy | None = None, metadata: Metadata = ()) -> Settings:
        """Arguments first, then AI4VC_ENDPOINT, AI4VC_API_KEY, AI4VC_TOKEN, AI4VC_TLS, AI4VC_CA_CERT."""
        endpoint = endpoint or os.environ.get("AI4VC_ENDPOINT") or DEFAULT_ENDPOINT
        if tls is None and os.environ.get("AI4VC_TLS"):
            tls = os.environ["AI4VC_TLS"].lower() in ("1", "true", "yes", "on")
        for scheme, secure in (("https://", True), ("grpcs://", True), ("http://", False), ("grpc://", False)):
            if endpoint.startswith(scheme):
                endpoint = endpoint[len(scheme):]
                tls = secure if tls is None else tls
        endpoint = endpoint.rstrip("/")
        ca = root_certificates if root_certificates is not None else os.environ.get("AI4VC_CA_CERT") or None
        if isinstance(ca, str | Path):
            ca = Path(ca).read_bytes()
            tls = True if tls is None else tls
        if credential is None:
            api_key = api_key if api_key is not None else os.environ.get("AI4VC_API_KEY")
            token = token if token is not None else os.environ.get("AI4VC_TOKEN")
            if api_key:
                credential = ApiKey(api_key)
            elif token:
                credential = Jwt(token)
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be > 0 seconds (or None for no deadline)")
        return cls(endpoint=endpoint, tls=bool(tls), root_certificates=ca, credential=credential, timeout=timeout,
                   retry=retry or RetryPolicy(), metadata=tuple(metadata),
                   options=(("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)))

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(root_certificates=self.root_certificates)


class Engine:
    """The parts of a call that do not depend on sync or async: metadata, deadlines, backoff."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.credential = settings.credential
        self.rng = random.Random()

    def metadata(self, extra: Metadata) -> Metadata:
        own = self.credential.metadata() if self.credential is not None else ()
        return (*self.settings.metadata, *own, *extra)

    def deadline(self, timeout: float | None) -> float | None:
        chosen = self.settings.timeout if timeout is None else timeout
        return None if chosen is None else time.monotonic() + chosen

    @staticmethod
    def remaining(deadline: float | None) -> float | None:
        return None if deadline is None else max(deadline - time.monotonic(), 0.001)

    def refresh_request(self) -> auth_pb.RefreshRequest | None:
        """A Refresh request when the credential is a JWT due for one."""
        jwt = self.credential
        if isinstance(jwt, Jwt) and jwt.due():
            return auth_pb.RefreshRequest(refresh_token=jwt.refresh_token)
        return None

    def store_tokens(self, answer: auth_pb.RefreshResponse | auth_pb.LoginResponse) -> Jwt:
        expire = answer.access_token_expire_time.ToSeconds() if answer.HasField("access_token_expire_time") else None
        if isinstance(self.credential, Jwt):
            self.credential.update(answer.access_token, answer.refresh_token, float(expire) if expire else None)
        else:
            self.credential = Jwt(answer.access_token, answer.refresh_token, float(expire) if expire else None)
        return self.credential


# --- typed method descriptors -----------------------------------------------------------------
# A service class declares each RPC once, e.g.
#     translate_text = Unary("TranslateText", nmt_pb.TranslateTextRequest, nmt_pb.TranslateTextResponse)
# and `client.nmt.translate_text(request)` is typed: request in, response out.


class Method(Generic[Req, Resp]):
    def __init__(self, name: str, request: type[Req], response: type[Resp]) -> None:
        self.name = name
        self.request = request
        self.response = response
        self.path = ""

    def __set_name__(self, owner: type, attr: str) -> None:
        self.path = f"/{owner.SERVICE}/{self.name}"  # type: ignore[attr-defined]


class Bound(Generic[Req, Resp]):
    """A method bound to one client: call it with a request message."""

    def __init__(self, invoke: Callable[..., Any], method: Method[Req, Resp]) -> None:
        self._invoke = invoke
        self.method = method

    @property
    def path(self) -> str:
        return self.method.path
