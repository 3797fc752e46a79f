"""Domain errors and their reasons, defined once.

Each error carries a canonical status code and an UPPER_SNAKE `Reason`. Domain code raises
these without importing grpc; the server interceptor turns them into `google.rpc.Status`
with an `ErrorInfo` (and a `BadRequest` naming the field, a `RetryInfo`, where they apply).
`Reason` is the whole vocabulary a client can see; `proto/README.md` documents each one with
its status code, and a test fails when the two disagree or when code sends a reason as a bare
string.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

DOMAIN = "ai4vc"


class Code(enum.IntEnum):
    """Every canonical error code, numbered as `google.rpc.Code` so they map 1:1 to gRPC."""

    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class Reason(enum.StrEnum):
    """Every `ErrorInfo.reason` the platform sends (services, the WebSocket bridge, the edge)."""

    # INVALID_ARGUMENT — any request
    FIELD_REQUIRED = "FIELD_REQUIRED"
    FIELD_OUT_OF_RANGE = "FIELD_OUT_OF_RANGE"
    INVALID_CHARACTER = "INVALID_CHARACTER"
    MALFORMED_MESSAGE = "MALFORMED_MESSAGE"
    INVALID_PAGE_TOKEN = "INVALID_PAGE_TOKEN"
    UNSUPPORTED_LANGUAGE = "UNSUPPORTED_LANGUAGE"
    UNKNOWN_MODEL = "UNKNOWN_MODEL"
    UNSUPPORTED_FEATURE = "UNSUPPORTED_FEATURE"
    STREAM_CONFIG_MISSING = "STREAM_CONFIG_MISSING"
    STREAM_CONFIG_REPEATED = "STREAM_CONFIG_REPEATED"
    BACKEND_REJECTED_INPUT = "BACKEND_REJECTED_INPUT"
    # INVALID_ARGUMENT — ASR
    UNSUPPORTED_ENCODING = "UNSUPPORTED_ENCODING"
    SAMPLE_RATE_MISMATCH = "SAMPLE_RATE_MISMATCH"
    ENCODING_MISMATCH = "ENCODING_MISMATCH"
    CHANNEL_COUNT_MISMATCH = "CHANNEL_COUNT_MISMATCH"
    AUDIO_UNDECODABLE = "AUDIO_UNDECODABLE"
    AUDIO_TOO_LARGE = "AUDIO_TOO_LARGE"
    AUDIO_TOO_LONG = "AUDIO_TOO_LONG"
    AUDIO_CHUNK_TOO_LARGE = "AUDIO_CHUNK_TOO_LARGE"
    # INVALID_ARGUMENT — TTS
    INPUT_TOO_LONG = "INPUT_TOO_LONG"
    SSML_INVALID = "SSML_INVALID"
    UNKNOWN_VOICE = "UNKNOWN_VOICE"
    NO_MATCHING_VOICE = "NO_MATCHING_VOICE"
    # INVALID_ARGUMENT — NMT
    TOO_MANY_CONTENTS = "TOO_MANY_CONTENTS"
    CONTENT_TOO_LONG = "CONTENT_TOO_LONG"
    UNSUPPORTED_LANGUAGE_PAIR = "UNSUPPORTED_LANGUAGE_PAIR"
    LANGUAGE_NOT_DETECTED = "LANGUAGE_NOT_DETECTED"
    NOT_A_WORD = "NOT_A_WORD"
    UNSUPPORTED_SCRIPT_PAIR = "UNSUPPORTED_SCRIPT_PAIR"
    # INVALID_ARGUMENT — pipeline
    INVALID_PIPELINE = "INVALID_PIPELINE"
    LANGUAGE_MISMATCH = "LANGUAGE_MISMATCH"
    NO_SPEECH_RECOGNIZED = "NO_SPEECH_RECOGNIZED"
    # INVALID_ARGUMENT — the ULCA / Dhruva facade
    UNKNOWN_SERVICE_ID = "UNKNOWN_SERVICE_ID"
    UNSUPPORTED_AUDIO_URI = "UNSUPPORTED_AUDIO_URI"
    # INVALID_ARGUMENT — auth
    UNKNOWN_SCOPE = "UNKNOWN_SCOPE"
    # INVALID_ARGUMENT — config
    UNKNOWN_NAMESPACE = "UNKNOWN_NAMESPACE"
    UNKNOWN_CONFIG_KEY = "UNKNOWN_CONFIG_KEY"
    INVALID_VALUE = "INVALID_VALUE"
    # INVALID_ARGUMENT — metrics
    UNKNOWN_DIMENSION = "UNKNOWN_DIMENSION"
    # INVALID_ARGUMENT — telemetry
    INVALID_TRACE_ID = "INVALID_TRACE_ID"
    QUERY_TOO_BROAD = "QUERY_TOO_BROAD"
    # INVALID_ARGUMENT — WebSocket bridge frames
    INVALID_JSON = "INVALID_JSON"
    INVALID_CONFIG = "INVALID_CONFIG"
    UNEXPECTED_FRAME = "UNEXPECTED_FRAME"
    # INVALID_ARGUMENT — the edge
    CREDENTIAL_IN_QUERY = "CREDENTIAL_IN_QUERY"
    # OUT_OF_RANGE
    STREAM_TOO_LONG = "STREAM_TOO_LONG"
    # UNIMPLEMENTED
    METHOD_NOT_IMPLEMENTED = "METHOD_NOT_IMPLEMENTED"
    # UNAUTHENTICATED / PERMISSION_DENIED
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_REFRESH_TOKEN = "INVALID_REFRESH_TOKEN"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    ADMIN_REQUIRED = "ADMIN_REQUIRED"
    SCOPE_NOT_HELD = "SCOPE_NOT_HELD"
    CONFIG_WRITE_REQUIRED = "CONFIG_WRITE_REQUIRED"
    # NOT_FOUND / FAILED_PRECONDITION
    USER_NOT_FOUND = "USER_NOT_FOUND"
    KEY_NOT_FOUND = "KEY_NOT_FOUND"
    USER_EXISTS = "USER_EXISTS"
    KEY_REVOKED = "KEY_REVOKED"
    CONFIG_NOT_FOUND = "CONFIG_NOT_FOUND"
    VERSION_NOT_FOUND = "VERSION_NOT_FOUND"
    VERSION_NOT_RESTORABLE = "VERSION_NOT_RESTORABLE"
    TRACE_NOT_FOUND = "TRACE_NOT_FOUND"
    RULE_NOT_FOUND = "RULE_NOT_FOUND"
    ALERT_NOT_FOUND = "ALERT_NOT_FOUND"
    RULE_EXISTS = "RULE_EXISTS"
    # ABORTED
    VERSION_MISMATCH = "VERSION_MISMATCH"
    # RESOURCE_EXHAUSTED
    RATE_LIMITED = "RATE_LIMITED"
    DAILY_QUOTA_EXCEEDED = "DAILY_QUOTA_EXCEEDED"
    SERVER_OVERLOADED = "SERVER_OVERLOADED"
    BACKEND_OVERLOADED = "BACKEND_OVERLOADED"
    # UNAVAILABLE / DEADLINE_EXCEEDED / INTERNAL
    BACKEND_UNAVAILABLE = "BACKEND_UNAVAILABLE"
    BACKEND_TIMEOUT = "BACKEND_TIMEOUT"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    BACKEND_ERROR = "BACKEND_ERROR"
    INTERNAL = "INTERNAL"


class DomainError(Exception):
    """Base class: an error a caller can act on, with a machine-readable reason."""

    code: Code = Code.INTERNAL
    # The reason when none is given; classes without one (None) need an explicit reason.
    default_reason: Reason | None = Reason.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        reason: Reason | None = None,
        field: str | None = None,
        metadata: Mapping[str, str] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        chosen = reason or self.default_reason
        if chosen is None:
            raise TypeError(f"{type(self).__name__} needs an explicit reason")
        self.reason: Reason = chosen
        self.field = field
        self.metadata = dict(metadata or {})
        if field:
            self.metadata.setdefault("field", field)
        self.retry_after_s = retry_after_s


class InvalidArgument(DomainError):
    code = Code.INVALID_ARGUMENT
    default_reason = None


class NotFound(DomainError):
    code = Code.NOT_FOUND
    default_reason = None


class ResourceExhausted(DomainError):
    code = Code.RESOURCE_EXHAUSTED
    default_reason = None


class FailedPrecondition(DomainError):
    code = Code.FAILED_PRECONDITION
    default_reason = None


class Aborted(DomainError):
    """A write lost a race: the state it was based on (a version) changed; re-read and retry."""

    code = Code.ABORTED
    default_reason = None


class OutOfRange(DomainError):
    """A value past a limit that depends on state (a stream longer than its maximum)."""

    code = Code.OUT_OF_RANGE
    default_reason = None


class Unimplemented(DomainError):
    """A method of a served API this deployment does not offer (a foreign API's extras)."""

    code = Code.UNIMPLEMENTED
    default_reason = Reason.METHOD_NOT_IMPLEMENTED


class Unavailable(DomainError):
    """A dependency (Triton, a database) cannot serve now; the caller may retry."""

    code = Code.UNAVAILABLE
    default_reason = Reason.BACKEND_UNAVAILABLE


class DeadlineExceeded(DomainError):
    code = Code.DEADLINE_EXCEEDED
    default_reason = Reason.DEADLINE_EXCEEDED


class Internal(DomainError):
    """A server-side failure. Never used for bad input."""

    code = Code.INTERNAL
    default_reason = Reason.INTERNAL


class Unauthenticated(DomainError):
    code = Code.UNAUTHENTICATED
    default_reason = Reason.UNAUTHENTICATED


class PermissionDenied(DomainError):
    code = Code.PERMISSION_DENIED
    default_reason = Reason.PERMISSION_DENIED

