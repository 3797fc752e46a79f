"""The AI4V-C Python SDK: `Client` (sync) and `AsyncClient` (asyncio) over gRPC, through the edge.

Every RPC is `client.<service>.<method>(request)` with the generated messages
(`ai4vc.<api>.v1.*_pb2`); helpers cover the common jobs. Failures raise `Ai4vcError` subclasses
carrying the server's ErrorInfo reason, field violations and RetryInfo."""

from ai4vc.sdk.aio import AsyncClient
from ai4vc.sdk.client import Client
from ai4vc.sdk.credentials import ApiKey, Jwt
from ai4vc.sdk.errors import (
    Ai4vcError,
    DeadlineExceeded,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from ai4vc.sdk.retry import NO_RETRY, RetryPolicy

__all__ = [
    "NO_RETRY", "Ai4vcError", "ApiKey", "AsyncClient", "Client", "DeadlineExceeded", "FieldViolation",
    "InvalidArgument", "Jwt", "NotFound", "PermissionDenied", "ResourceExhausted", "RetryPolicy",
    "Unauthenticated", "Unavailable",
]
