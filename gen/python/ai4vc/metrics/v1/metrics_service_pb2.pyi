from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UsageGranularity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_GRANULARITY_UNSPECIFIED: _ClassVar[UsageGranularity]
    USAGE_GRANULARITY_MINUTE: _ClassVar[UsageGranularity]
    USAGE_GRANULARITY_DAY: _ClassVar[UsageGranularity]
USAGE_GRANULARITY_UNSPECIFIED: UsageGranularity
USAGE_GRANULARITY_MINUTE: UsageGranularity
USAGE_GRANULARITY_DAY: UsageGranularity

class QueryUsageRequest(_message.Message):
    __slots__ = ("start_time", "end_time", "granularity", "group_by", "key_ids", "services", "methods", "language_codes", "models", "page_size", "page_token")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    granularity: UsageGranularity
    group_by: _containers.RepeatedScalarFieldContainer[str]
    key_ids: _containers.RepeatedScalarFieldContainer[str]
    services: _containers.RepeatedScalarFieldContainer[str]
    methods: _containers.RepeatedScalarFieldContainer[str]
    language_codes: _containers.RepeatedScalarFieldContainer[str]
    models: _containers.RepeatedScalarFieldContainer[str]
    page_size: int
    page_token: str
    def __init__(self, start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., granularity: _Optional[_Union[UsageGranularity, str]] = ..., group_by: _Optional[_Iterable[str]] = ..., key_ids: _Optional[_Iterable[str]] = ..., services: _Optional[_Iterable[str]] = ..., methods: _Optional[_Iterable[str]] = ..., language_codes: _Optional[_Iterable[str]] = ..., models: _Optional[_Iterable[str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class QueryUsageResponse(_message.Message):
    __slots__ = ("rows", "next_page_token")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[UsageRow]
    next_page_token: str
    def __init__(self, rows: _Optional[_Iterable[_Union[UsageRow, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UsageRow(_message.Message):
    __slots__ = ("bucket_start_time", "key_id", "service", "method", "language_code", "model", "totals")
    BUCKET_START_TIME_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    bucket_start_time: _timestamp_pb2.Timestamp
    key_id: str
    service: str
    method: str
    language_code: str
    model: str
    totals: UsageTotals
    def __init__(self, bucket_start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., key_id: _Optional[str] = ..., service: _Optional[str] = ..., method: _Optional[str] = ..., language_code: _Optional[str] = ..., model: _Optional[str] = ..., totals: _Optional[_Union[UsageTotals, _Mapping]] = ...) -> None: ...

class UsageTotals(_message.Message):
    __slots__ = ("request_count", "error_count", "errors_by_reason", "characters", "audio_seconds", "metered_characters", "metered_audio_seconds", "total_latency", "latency_buckets")
    class ErrorsByReasonEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    REQUEST_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERRORS_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    METERED_CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    METERED_AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LATENCY_FIELD_NUMBER: _ClassVar[int]
    LATENCY_BUCKETS_FIELD_NUMBER: _ClassVar[int]
    request_count: int
    error_count: int
    errors_by_reason: _containers.ScalarMap[str, int]
    characters: int
    audio_seconds: float
    metered_characters: int
    metered_audio_seconds: float
    total_latency: _duration_pb2.Duration
    latency_buckets: _containers.RepeatedCompositeFieldContainer[LatencyBucket]
    def __init__(self, request_count: _Optional[int] = ..., error_count: _Optional[int] = ..., errors_by_reason: _Optional[_Mapping[str, int]] = ..., characters: _Optional[int] = ..., audio_seconds: _Optional[float] = ..., metered_characters: _Optional[int] = ..., metered_audio_seconds: _Optional[float] = ..., total_latency: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., latency_buckets: _Optional[_Iterable[_Union[LatencyBucket, _Mapping]]] = ...) -> None: ...

class LatencyBucket(_message.Message):
    __slots__ = ("upper_bound", "count")
    UPPER_BOUND_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    upper_bound: _duration_pb2.Duration
    count: int
    def __init__(self, upper_bound: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class GetUsageSummaryRequest(_message.Message):
    __slots__ = ("key_id", "username", "start_time", "end_time")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    username: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., username: _Optional[str] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetUsageSummaryResponse(_message.Message):
    __slots__ = ("today", "range", "range_start_time", "range_end_time")
    TODAY_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    RANGE_START_TIME_FIELD_NUMBER: _ClassVar[int]
    RANGE_END_TIME_FIELD_NUMBER: _ClassVar[int]
    today: UsageSummary
    range: UsageSummary
    range_start_time: _timestamp_pb2.Timestamp
    range_end_time: _timestamp_pb2.Timestamp
    def __init__(self, today: _Optional[_Union[UsageSummary, _Mapping]] = ..., range: _Optional[_Union[UsageSummary, _Mapping]] = ..., range_start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., range_end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UsageSummary(_message.Message):
    __slots__ = ("totals", "by_service", "by_language")
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    BY_SERVICE_FIELD_NUMBER: _ClassVar[int]
    BY_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    totals: UsageTotals
    by_service: _containers.RepeatedCompositeFieldContainer[DimensionTotals]
    by_language: _containers.RepeatedCompositeFieldContainer[DimensionTotals]
    def __init__(self, totals: _Optional[_Union[UsageTotals, _Mapping]] = ..., by_service: _Optional[_Iterable[_Union[DimensionTotals, _Mapping]]] = ..., by_language: _Optional[_Iterable[_Union[DimensionTotals, _Mapping]]] = ...) -> None: ...

class DimensionTotals(_message.Message):
    __slots__ = ("value", "totals")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    value: str
    totals: UsageTotals
    def __init__(self, value: _Optional[str] = ..., totals: _Optional[_Union[UsageTotals, _Mapping]] = ...) -> None: ...
