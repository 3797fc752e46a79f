"""gRPC adapter for the auth core: proto → domain call → proto. The caller's identity is read
from the headers the edge set (services.common.rpc.identity)."""

from __future__ import annotations

import datetime

import asyncpg
import grpc
from google.protobuf import timestamp_pb2

from ai4vc.auth.v1 import auth_service_pb2 as pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as pb_grpc
from services.auth.core import AuthCore, Caller, Quota, Tokens
from services.common.rpc.identity import PRINCIPAL_HEADER, SCOPES_HEADER


def caller_of(context: grpc.aio.ServicerContext) -> Caller:
    principal, scopes = "", ""
    for key, value in context.invocation_metadata() or ():
        if key == PRINCIPAL_HEADER:
            principal = str(value)[:256]
        elif key == SCOPES_HEADER:
            scopes = str(value)[:1024]
    return Caller(principal, frozenset(s for s in scopes.split(",") if s))


def _ts(value: datetime.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def api_key_proto(row: asyncpg.Record) -> pb.ApiKey:
    return pb.ApiKey(
        key_id=row["key_id"], display_name=row["display_name"], owner=row["owner"], scopes=list(row["scopes"]),
        quota=pb.Quota(requests_per_minute=row["requests_per_minute"],
                       audio_seconds_per_day=row["audio_seconds_per_day"],
                       characters_per_day=row["characters_per_day"]),
        create_time=_ts(row["create_time"]), rotate_time=_ts(row["rotate_time"]),
        revoke_time=_ts(row["revoke_time"]),
    )


def _tokens(tokens: Tokens, cls: type) -> object:
    return cls(access_token=tokens.access_token, access_token_expire_time=_ts(tokens.access_expire),
               refresh_token=tokens.refresh_token, refresh_token_expire_time=_ts(tokens.refresh_expire))


class AuthServicer(pb_grpc.AuthServiceServicer):
    def __init__(self, core: AuthCore) -> None:
        self.core = core

    async def CreateUser(self, request: pb.CreateUserRequest, context: grpc.aio.ServicerContext
                         ) -> pb.CreateUserResponse:
        row = await self.core.create_user(caller_of(context), request.username, request.password,
                                          list(request.scopes))
        return pb.CreateUserResponse(user=pb.User(username=row["username"], scopes=list(row["scopes"]),
                                                  create_time=_ts(row["create_time"])))

    async def Login(self, request: pb.LoginRequest, context: grpc.aio.ServicerContext) -> pb.LoginResponse:
        return _tokens(await self.core.login(request.username, request.password), pb.LoginResponse)  # type: ignore

    async def Refresh(self, request: pb.RefreshRequest, context: grpc.aio.ServicerContext) -> pb.RefreshResponse:
        return _tokens(await self.core.refresh(request.refresh_token), pb.RefreshResponse)  # type: ignore

    async def Logout(self, request: pb.LogoutRequest, context: grpc.aio.ServicerContext) -> pb.LogoutResponse:
        await self.core.logout(request.refresh_token)
        return pb.LogoutResponse()

    async def CreateApiKey(self, request: pb.CreateApiKeyRequest, context: grpc.aio.ServicerContext
                           ) -> pb.CreateApiKeyResponse:
        q = request.quota
        row, key = await self.core.create_key(
            caller_of(context), request.display_name, list(request.scopes),
            Quota(q.requests_per_minute, q.audio_seconds_per_day, q.characters_per_day), request.owner)
        return pb.CreateApiKeyResponse(api_key=api_key_proto(row), key=key)

    async def ListApiKeys(self, request: pb.ListApiKeysRequest, context: grpc.aio.ServicerContext
                          ) -> pb.ListApiKeysResponse:
        rows, next_token = await self.core.list_keys(caller_of(context), request.owner, request.page_size,
                                                     request.page_token, request.show_revoked)
        return pb.ListApiKeysResponse(api_keys=[api_key_proto(r) for r in rows], next_page_token=next_token)

    async def RevokeApiKey(self, request: pb.RevokeApiKeyRequest, context: grpc.aio.ServicerContext
                           ) -> pb.RevokeApiKeyResponse:
        return pb.RevokeApiKeyResponse(api_key=api_key_proto(await self.core.revoke_key(caller_of(context),
                                                                                        request.key_id)))

    async def RotateApiKey(self, request: pb.RotateApiKeyRequest, context: grpc.aio.ServicerContext
                           ) -> pb.RotateApiKeyResponse:
        row, key = await self.core.rotate_key(caller_of(context), request.key_id)
        return pb.RotateApiKeyResponse(api_key=api_key_proto(row), key=key)
