from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConfigAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONFIG_ACTION_UNSPECIFIED: _ClassVar[ConfigAction]
    CONFIG_ACTION_SET: _ClassVar[ConfigAction]
    CONFIG_ACTION_DELETED: _ClassVar[ConfigAction]
    CONFIG_ACTION_ROLLED_BACK: _ClassVar[ConfigAction]
CONFIG_ACTION_UNSPECIFIED: ConfigAction
CONFIG_ACTION_SET: ConfigAction
CONFIG_ACTION_DELETED: ConfigAction
CONFIG_ACTION_ROLLED_BACK: ConfigAction

class Config(_message.Message):
    __slots__ = ("namespace", "key", "value", "version", "update_time", "update_principal")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: str
    value: _struct_pb2.Value
    version: int
    update_time: _timestamp_pb2.Timestamp
    update_principal: str
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., version: _Optional[int] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_principal: _Optional[str] = ...) -> None: ...

class ConfigVersion(_message.Message):
    __slots__ = ("namespace", "key", "version", "action", "value", "create_time", "principal", "restored_version")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    RESTORED_VERSION_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: str
    version: int
    action: ConfigAction
    value: _struct_pb2.Value
    create_time: _timestamp_pb2.Timestamp
    principal: str
    restored_version: int
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[str] = ..., version: _Optional[int] = ..., action: _Optional[_Union[ConfigAction, str]] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., principal: _Optional[str] = ..., restored_version: _Optional[int] = ...) -> None: ...

class GetConfigRequest(_message.Message):
    __slots__ = ("namespace", "key")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: str
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class GetConfigResponse(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: Config
    def __init__(self, config: _Optional[_Union[Config, _Mapping]] = ...) -> None: ...

class ListConfigsRequest(_message.Message):
    __slots__ = ("namespace", "page_size", "page_token")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    page_size: int
    page_token: str
    def __init__(self, namespace: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListConfigsResponse(_message.Message):
    __slots__ = ("configs", "next_page_token")
    CONFIGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    configs: _containers.RepeatedCompositeFieldContainer[Config]
    next_page_token: str
    def __init__(self, configs: _Optional[_Iterable[_Union[Config, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SetConfigRequest(_message.Message):
    __slots__ = ("namespace", "key", "value", "expected_version")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: str
    value: _struct_pb2.Value
    expected_version: int
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class SetConfigResponse(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: Config
    def __init__(self, config: _Optional[_Union[Config, _Mapping]] = ...) -> None: ...

class DeleteConfigRequest(_message.Message):
    __slots__ = ("namespace", "key", "expected_version")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: str
    expected_version: int
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class DeleteConfigResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: ConfigVersion
    def __init__(self, deleted: _Optional[_Union[ConfigVersion, _Mapping]] = ...) -> None: ...

class ListConfigVersionsRequest(_message.Message):
    __slots__ = ("namespace", "key", "page_size", "page_token")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: str
    page_size: int
    page_token: str
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListConfigVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[ConfigVersion]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[ConfigVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RollbackConfigRequest(_message.Message):
    __slots__ = ("namespace", "key", "version", "expected_version")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: str
    version: int
    expected_version: int
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[str] = ..., version: _Optional[int] = ..., expected_version: _Optional[int] = ...) -> None: ...

class RollbackConfigResponse(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: Config
    def __init__(self, config: _Optional[_Union[Config, _Mapping]] = ...) -> None: ...

class WatchConfigRequest(_message.Message):
    __slots__ = ("namespace", "key")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: str
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class WatchConfigResponse(_message.Message):
    __slots__ = ("snapshot", "changes")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    snapshot: bool
    changes: _containers.RepeatedCompositeFieldContainer[ConfigVersion]
    def __init__(self, snapshot: bool = ..., changes: _Optional[_Iterable[_Union[ConfigVersion, _Mapping]]] = ...) -> None: ...
