from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_KIND_UNSPECIFIED: _ClassVar[EventKind]
    EVENT_KIND_INFERENCE: _ClassVar[EventKind]
    EVENT_KIND_USAGE: _ClassVar[EventKind]
    EVENT_KIND_CONFIG: _ClassVar[EventKind]
    EVENT_KIND_AUDIT: _ClassVar[EventKind]
    EVENT_KIND_ALERT: _ClassVar[EventKind]

class ConfigAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONFIG_ACTION_UNSPECIFIED: _ClassVar[ConfigAction]
    CONFIG_ACTION_SET: _ClassVar[ConfigAction]
    CONFIG_ACTION_DELETED: _ClassVar[ConfigAction]
    CONFIG_ACTION_ROLLED_BACK: _ClassVar[ConfigAction]
EVENT_KIND_UNSPECIFIED: EventKind
EVENT_KIND_INFERENCE: EventKind
EVENT_KIND_USAGE: EventKind
EVENT_KIND_CONFIG: EventKind
EVENT_KIND_AUDIT: EventKind
EVENT_KIND_ALERT: EventKind
CONFIG_ACTION_UNSPECIFIED: ConfigAction
CONFIG_ACTION_SET: ConfigAction
CONFIG_ACTION_DELETED: ConfigAction
CONFIG_ACTION_ROLLED_BACK: ConfigAction

class Event(_message.Message):
    __slots__ = ("id", "type", "source", "time", "subject", "principal", "traceparent", "inference_request", "usage", "config_change", "audit", "alert")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_CHANGE_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    source: str
    time: _timestamp_pb2.Timestamp
    subject: str
    principal: str
    traceparent: str
    inference_request: InferenceRequest
    usage: Usage
    config_change: ConfigChange
    audit: AuditEntry
    alert: Alert
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., source: _Optional[str] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., subject: _Optional[str] = ..., principal: _Optional[str] = ..., traceparent: _Optional[str] = ..., inference_request: _Optional[_Union[InferenceRequest, _Mapping]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., config_change: _Optional[_Union[ConfigChange, _Mapping]] = ..., audit: _Optional[_Union[AuditEntry, _Mapping]] = ..., alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class InferenceRequest(_message.Message):
    __slots__ = ("service", "method", "model", "language_code", "target_language_code", "characters", "audio_seconds", "latency", "status", "key_id")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    service: str
    method: str
    model: str
    language_code: str
    target_language_code: str
    characters: int
    audio_seconds: float
    latency: _duration_pb2.Duration
    status: str
    key_id: str
    def __init__(self, service: _Optional[str] = ..., method: _Optional[str] = ..., model: _Optional[str] = ..., language_code: _Optional[str] = ..., target_language_code: _Optional[str] = ..., characters: _Optional[int] = ..., audio_seconds: _Optional[float] = ..., latency: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., status: _Optional[str] = ..., key_id: _Optional[str] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("key_id", "service", "characters", "audio_seconds")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    service: str
    characters: int
    audio_seconds: float
    def __init__(self, key_id: _Optional[str] = ..., service: _Optional[str] = ..., characters: _Optional[int] = ..., audio_seconds: _Optional[float] = ...) -> None: ...

class ConfigChange(_message.Message):
    __slots__ = ("namespace", "key", "version", "action", "value")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: str
    version: int
    action: ConfigAction
    value: _struct_pb2.Value
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[str] = ..., version: _Optional[int] = ..., action: _Optional[_Union[ConfigAction, str]] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ("action", "target", "details")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    action: str
    target: str
    details: _struct_pb2.Struct
    def __init__(self, action: _Optional[str] = ..., target: _Optional[str] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("name", "state", "severity", "summary", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: str
    severity: str
    summary: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., state: _Optional[str] = ..., severity: _Optional[str] = ..., summary: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...
