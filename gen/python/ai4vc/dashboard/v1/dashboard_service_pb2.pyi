from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SectionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SECTION_STATE_UNSPECIFIED: _ClassVar[SectionState]
    SECTION_STATE_AVAILABLE: _ClassVar[SectionState]
    SECTION_STATE_UNAVAILABLE: _ClassVar[SectionState]
    SECTION_STATE_NOT_CONFIGURED: _ClassVar[SectionState]

class ServingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERVING_STATE_UNSPECIFIED: _ClassVar[ServingState]
    SERVING_STATE_SERVING: _ClassVar[ServingState]
    SERVING_STATE_DEGRADED: _ClassVar[ServingState]
    SERVING_STATE_NOT_SERVING: _ClassVar[ServingState]
    SERVING_STATE_UNREACHABLE: _ClassVar[ServingState]
    SERVING_STATE_UNKNOWN: _ClassVar[ServingState]
SECTION_STATE_UNSPECIFIED: SectionState
SECTION_STATE_AVAILABLE: SectionState
SECTION_STATE_UNAVAILABLE: SectionState
SECTION_STATE_NOT_CONFIGURED: SectionState
SERVING_STATE_UNSPECIFIED: ServingState
SERVING_STATE_SERVING: ServingState
SERVING_STATE_DEGRADED: ServingState
SERVING_STATE_NOT_SERVING: ServingState
SERVING_STATE_UNREACHABLE: ServingState
SERVING_STATE_UNKNOWN: ServingState

class GetOverviewRequest(_message.Message):
    __slots__ = ("top_key_count",)
    TOP_KEY_COUNT_FIELD_NUMBER: _ClassVar[int]
    top_key_count: int
    def __init__(self, top_key_count: _Optional[int] = ...) -> None: ...

class GetOverviewResponse(_message.Message):
    __slots__ = ("compute_time", "services", "health_status", "traffic_status", "triton_models", "triton_status", "firing_alerts", "alerts_status", "top_keys", "usage_status", "total_request_rate", "total_error_ratio")
    COMPUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    HEALTH_STATUS_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_STATUS_FIELD_NUMBER: _ClassVar[int]
    TRITON_MODELS_FIELD_NUMBER: _ClassVar[int]
    TRITON_STATUS_FIELD_NUMBER: _ClassVar[int]
    FIRING_ALERTS_FIELD_NUMBER: _ClassVar[int]
    ALERTS_STATUS_FIELD_NUMBER: _ClassVar[int]
    TOP_KEYS_FIELD_NUMBER: _ClassVar[int]
    USAGE_STATUS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_REQUEST_RATE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ERROR_RATIO_FIELD_NUMBER: _ClassVar[int]
    compute_time: _timestamp_pb2.Timestamp
    services: _containers.RepeatedCompositeFieldContainer[ServiceOverview]
    health_status: SectionStatus
    traffic_status: SectionStatus
    triton_models: _containers.RepeatedCompositeFieldContainer[TritonModel]
    triton_status: SectionStatus
    firing_alerts: _containers.RepeatedCompositeFieldContainer[FiringAlert]
    alerts_status: SectionStatus
    top_keys: _containers.RepeatedCompositeFieldContainer[KeyUsage]
    usage_status: SectionStatus
    total_request_rate: float
    total_error_ratio: float
    def __init__(self, compute_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., services: _Optional[_Iterable[_Union[ServiceOverview, _Mapping]]] = ..., health_status: _Optional[_Union[SectionStatus, _Mapping]] = ..., traffic_status: _Optional[_Union[SectionStatus, _Mapping]] = ..., triton_models: _Optional[_Iterable[_Union[TritonModel, _Mapping]]] = ..., triton_status: _Optional[_Union[SectionStatus, _Mapping]] = ..., firing_alerts: _Optional[_Iterable[_Union[FiringAlert, _Mapping]]] = ..., alerts_status: _Optional[_Union[SectionStatus, _Mapping]] = ..., top_keys: _Optional[_Iterable[_Union[KeyUsage, _Mapping]]] = ..., usage_status: _Optional[_Union[SectionStatus, _Mapping]] = ..., total_request_rate: _Optional[float] = ..., total_error_ratio: _Optional[float] = ...) -> None: ...

class SectionStatus(_message.Message):
    __slots__ = ("state", "detail")
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    state: SectionState
    detail: str
    def __init__(self, state: _Optional[_Union[SectionState, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class ServiceOverview(_message.Message):
    __slots__ = ("service", "grpc_service", "state", "replicas", "request_rate", "error_ratio", "p50_latency", "p99_latency", "open_streams")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    GRPC_SERVICE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_RATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATIO_FIELD_NUMBER: _ClassVar[int]
    P50_LATENCY_FIELD_NUMBER: _ClassVar[int]
    P99_LATENCY_FIELD_NUMBER: _ClassVar[int]
    OPEN_STREAMS_FIELD_NUMBER: _ClassVar[int]
    service: str
    grpc_service: str
    state: ServingState
    replicas: _containers.RepeatedCompositeFieldContainer[ReplicaHealth]
    request_rate: float
    error_ratio: float
    p50_latency: _duration_pb2.Duration
    p99_latency: _duration_pb2.Duration
    open_streams: int
    def __init__(self, service: _Optional[str] = ..., grpc_service: _Optional[str] = ..., state: _Optional[_Union[ServingState, str]] = ..., replicas: _Optional[_Iterable[_Union[ReplicaHealth, _Mapping]]] = ..., request_rate: _Optional[float] = ..., error_ratio: _Optional[float] = ..., p50_latency: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., p99_latency: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., open_streams: _Optional[int] = ...) -> None: ...

class ReplicaHealth(_message.Message):
    __slots__ = ("address", "state")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    address: str
    state: ServingState
    def __init__(self, address: _Optional[str] = ..., state: _Optional[_Union[ServingState, str]] = ...) -> None: ...

class TritonModel(_message.Message):
    __slots__ = ("name", "version", "ready", "state", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    ready: bool
    state: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., ready: bool = ..., state: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class FiringAlert(_message.Message):
    __slots__ = ("name", "severity", "summary", "start_time", "source", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    name: str
    severity: str
    summary: str
    start_time: _timestamp_pb2.Timestamp
    source: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., severity: _Optional[str] = ..., summary: _Optional[str] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class KeyUsage(_message.Message):
    __slots__ = ("key_id", "request_count", "error_count", "characters", "audio_seconds")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_COUNT_FIELD_NUMBER: _ClassVar[int]
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    request_count: int
    error_count: int
    characters: int
    audio_seconds: float
    def __init__(self, key_id: _Optional[str] = ..., request_count: _Optional[int] = ..., error_count: _Optional[int] = ..., characters: _Optional[int] = ..., audio_seconds: _Optional[float] = ...) -> None: ...
