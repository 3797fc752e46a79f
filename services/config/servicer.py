"""gRPC adapter for the config core: proto → domain call → proto. Values cross as
`google.protobuf.Value` ↔ JSON values; the caller's identity is read from the headers the edge
set, by `services.common.rpc.identity`."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2, timestamp_pb2

from ai4vc.config.v1 import config_service_pb2 as pb
from ai4vc.config.v1 import config_service_pb2_grpc as pb_grpc
from services.common.rpc.identity import caller_of
from services.config.core import MISSING, ConfigCore, Entry, Version

ACTIONS = {
    "set": pb.CONFIG_ACTION_SET,
    "deleted": pb.CONFIG_ACTION_DELETED,
    "rolled_back": pb.CONFIG_ACTION_ROLLED_BACK,
}



def value_of(message: Any) -> Any:
    """The JSON value a request's `value` field holds; MISSING when unset (or a Value with no kind)."""
    if not message.HasField("value") or message.value.WhichOneof("kind") is None:
        return MISSING
    return json_format.MessageToDict(message.value)


def _value(value: Any) -> struct_pb2.Value:
    return json_format.ParseDict(value, struct_pb2.Value())


def _ts(value: datetime.datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def _expected(request: Any) -> int | None:
    return request.expected_version if request.HasField("expected_version") else None


def config_proto(entry: Entry) -> pb.Config:
    return pb.Config(namespace=entry.namespace, key=entry.key, value=_value(entry.value), version=entry.version,
                     update_time=_ts(entry.update_time), update_principal=entry.update_principal)


def version_proto(version: Version) -> pb.ConfigVersion:
    message = pb.ConfigVersion(namespace=version.namespace, key=version.key, version=version.version,
                               action=ACTIONS[version.action], create_time=_ts(version.create_time),
                               principal=version.principal, restored_version=version.restored_version)
    if version.value is not None:
        message.value.CopyFrom(_value(version.value))
    return message


class ConfigServicer(pb_grpc.ConfigServiceServicer):
    def __init__(self, core: ConfigCore) -> None:
        self.core = core

    async def GetConfig(self, request: pb.GetConfigRequest, context: grpc.aio.ServicerContext
                        ) -> pb.GetConfigResponse:
        entry = await self.core.get_config(caller_of(context), request.namespace, request.key)
        return pb.GetConfigResponse(config=config_proto(entry))

    async def ListConfigs(self, request: pb.ListConfigsRequest, context: grpc.aio.ServicerContext
                          ) -> pb.ListConfigsResponse:
        entries, token = await self.core.list_configs(caller_of(context), request.namespace, request.page_size,
                                                      request.page_token)
        return pb.ListConfigsResponse(configs=[config_proto(e) for e in entries], next_page_token=token)

    async def SetConfig(self, request: pb.SetConfigRequest, context: grpc.aio.ServicerContext
                        ) -> pb.SetConfigResponse:
        entry = await self.core.set_config(caller_of(context), request.namespace, request.key, value_of(request),
                                           _expected(request))
        return pb.SetConfigResponse(config=config_proto(entry))

    async def DeleteConfig(self, request: pb.DeleteConfigRequest, context: grpc.aio.ServicerContext
                           ) -> pb.DeleteConfigResponse:
        version = await self.core.delete_config(caller_of(context), request.namespace, request.key,
                                                _expected(request))
        return pb.DeleteConfigResponse(deleted=version_proto(version))

    async def ListConfigVersions(self, request: pb.ListConfigVersionsRequest, context: grpc.aio.ServicerContext
                                 ) -> pb.ListConfigVersionsResponse:
        versions, token = await self.core.list_versions(caller_of(context), request.namespace, request.key,
                                                        request.page_size, request.page_token)
        return pb.ListConfigVersionsResponse(versions=[version_proto(v) for v in versions], next_page_token=token)

    async def RollbackConfig(self, request: pb.RollbackConfigRequest, context: grpc.aio.ServicerContext
                             ) -> pb.RollbackConfigResponse:
        entry = await self.core.rollback(caller_of(context), request.namespace, request.key, request.version,
                                         _expected(request))
        return pb.RollbackConfigResponse(config=config_proto(entry))

    async def WatchConfig(self, request: pb.WatchConfigRequest, context: grpc.aio.ServicerContext
                          ) -> AsyncIterator[pb.WatchConfigResponse]:
        async for snapshot, versions in self.core.watch(caller_of(context), request.namespace, request.key):
            yield pb.WatchConfigResponse(snapshot=snapshot, changes=[version_proto(v) for v in versions])
