"""The input check every request passes before its servicer sees it.

A client can put into a protobuf message things no service should have to think about, and
that would otherwise surface as INTERNAL far from where they entered: bytes that do not parse
(or a string field that is not UTF-8), U+0000 (PostgreSQL text cannot hold it; C libraries
stop at it), enum numbers the contract does not define (proto3 keeps them), and NaN or ±inf
in a float field. The interceptor runs this once per request message, unary and streamed, so
every RPC — present or future — answers INVALID_ARGUMENT naming the field instead. Limits
that depend on the method (sizes, counts, ranges) stay with the service.
"""

from __future__ import annotations

import math
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from services.common.errors import InvalidArgument, Reason

_STRING = FieldDescriptor.TYPE_STRING
_ENUM = FieldDescriptor.TYPE_ENUM
_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_FLOATS = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)
_REPEATED = FieldDescriptor.LABEL_REPEATED


class Malformed:
    """What a request deserializer gives for bytes that are not the method's message."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


def safe_deserializer(deserialize: Any) -> Any:
    """Wraps a request deserializer so that bad bytes become a `Malformed` value the handler
    answers with INVALID_ARGUMENT; grpc itself would answer INTERNAL."""
    if deserialize is None:
        return None

    def deserializer(raw: bytes) -> Any:
        try:
            return deserialize(raw)
        except (DecodeError, UnicodeDecodeError, ValueError, TypeError) as exc:
            return Malformed(exc)

    return deserializer


def check_request(request: Any, index: int | None = None) -> None:
    """Raises InvalidArgument for a request message no service may be handed (see module doc).
    `index` numbers the message of a client stream, for the error message."""
    where = "" if index is None else f" (message {index + 1} of the stream)"
    if isinstance(request, Malformed):
        raise InvalidArgument(f"the request is not a valid message of this method{where}",
                              reason=Reason.MALFORMED_MESSAGE)
    if isinstance(request, Message):
        problem = _first_problem(request, "")
        if problem is not None:
            path, reason, what = problem
            raise InvalidArgument(f"{path} {what}{where}", reason=reason, field=path)


def _first_problem(message: Message, prefix: str) -> tuple[str, Reason, str] | None:
    for field, value in message.ListFields():
        path = prefix + field.name
        if field.type == _MESSAGE and field.message_type.GetOptions().map_entry:
            problem = _map_problem(field, value, path)
        elif field.label == _REPEATED:
            problem = None
            for i, item in enumerate(value):
                problem = _value_problem(field, item, f"{path}[{i}]")
                if problem is not None:
                    break
        else:
            problem = _value_problem(field, value, path)
        if problem is not None:
            return problem
    return None


def _map_problem(field: FieldDescriptor, value: Any, path: str) -> tuple[str, Reason, str] | None:
    key_field = field.message_type.fields_by_name["key"]
    value_field = field.message_type.fields_by_name["value"]
    for key, item in value.items():
        problem = _value_problem(key_field, key, f"{path}[{key!r}]") or _value_problem(
            value_field, item, f"{path}[{key!r}]")
        if problem is not None:
            return problem
    return None


def _value_problem(field: FieldDescriptor, value: Any, path: str) -> tuple[str, Reason, str] | None:
    kind = field.type
    if kind == _STRING:
        if "\x00" in value:
            return path, Reason.INVALID_CHARACTER, "holds U+0000 (NUL), which no text field accepts"
    elif kind == _MESSAGE:
        return _first_problem(value, path + ".")
    elif kind == _ENUM:
        if value not in field.enum_type.values_by_number:
            return path, Reason.FIELD_OUT_OF_RANGE, f"is {value}, not a value of {field.enum_type.full_name}"
    elif kind in _FLOATS and not math.isfinite(value):
        return path, Reason.FIELD_OUT_OF_RANGE, f"is {value}; only finite numbers are accepted"
    return None
