"""gRPC adapter for the auth core: proto → domain call → proto. The caller's identity is read
from the headers the edge set, by `services.common.rpc.identity`."""

from __future__ import annotations

import datetime

import grpc
from google.protobuf import timestamp_pb2

from ai4vc.auth.v1 import auth_service_pb2 as pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as pb_grpc
from services.auth.core import ApiKey, AuthCore, Quota, Tokens, User
from services.common.rpc.identity import caller_of

# The client's address as the edge saw it: Envoy (use_remote_address) sets the first on an external
# request (dropping a client-sent one) and appends the peer's address to the second, so its last
# entry is the one Envoy vouches for.
EXTERNAL_ADDRESS_HEADER = "x-envoy-external-address"
FORWARDED_FOR_HEADER = "x-forwarded-for"


def client_address(context: grpc.aio.ServicerContext) -> str:
    found = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
    if found.get(EXTERNAL_ADDRESS_HEADER):
        return found[EXTERNAL_ADDRESS_HEADER].strip()
    return found.get(FORWARDED_FOR_HEADER, "").rsplit(",", 1)[-1].strip()


def _ts(value: datetime.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def user_proto(user: User) -> pb.User:
    return pb.User(username=user.username, scopes=list(user.scopes), create_time=_ts(user.create_time))


def api_key_proto(key: ApiKey) -> pb.ApiKey:
    return pb.ApiKey(
        key_id=key.key_id, display_name=key.display_name, owner=key.owner, scopes=list(key.scopes),
        quota=pb.Quota(requests_per_minute=key.quota.requests_per_minute,
                       audio_seconds_per_day=key.quota.audio_seconds_per_day,
                       characters_per_day=key.quota.characters_per_day),
        create_time=_ts(key.create_time), rotate_time=_ts(key.rotate_time), revoke_time=_ts(key.revoke_time),
    )


def quota_of(quota: pb.Quota) -> Quota:
    return Quota(quota.requests_per_minute, quota.audio_seconds_per_day, quota.characters_per_day)


def _tokens(tokens: Tokens, cls: type) -> object:
    return cls(access_token=tokens.access_token, access_token_expire_time=_ts(tokens.access_expire),
               refresh_token=tokens.refresh_token, refresh_token_expire_time=_ts(tokens.refresh_expire))


class AuthServicer(pb_grpc.AuthServiceServicer):
    def __init__(self, core: AuthCore) -> None:
        self.core = core

    async def CreateUser(self, request: pb.CreateUserRequest, context: grpc.aio.ServicerContext
                         ) -> pb.CreateUserResponse:
        user = await self.core.create_user(caller_of(context), request.username, request.password,
                                           list(request.scopes))
        return pb.CreateUserResponse(user=user_proto(user))

    async def Login(self, request: pb.LoginRequest, context: grpc.aio.ServicerContext) -> pb.LoginResponse:
        return _tokens(await self.core.login(request.username, request.password, client_address(context)),  # type: ignore
                       pb.LoginResponse)

    async def Refresh(self, request: pb.RefreshRequest, context: grpc.aio.ServicerContext) -> pb.RefreshResponse:
        return _tokens(await self.core.refresh(request.refresh_token), pb.RefreshResponse)  # type: ignore

    async def Logout(self, request: pb.LogoutRequest, context: grpc.aio.ServicerContext) -> pb.LogoutResponse:
        await self.core.logout(request.refresh_token)
        return pb.LogoutResponse()

    async def CreateApiKey(self, request: pb.CreateApiKeyRequest, context: grpc.aio.ServicerContext
                           ) -> pb.CreateApiKeyResponse:
        issued = await self.core.create_key(caller_of(context), request.display_name, list(request.scopes),
                                            quota_of(request.quota), request.owner)
        return pb.CreateApiKeyResponse(api_key=api_key_proto(issued.api_key), key=issued.key)

    async def ListApiKeys(self, request: pb.ListApiKeysRequest, context: grpc.aio.ServicerContext
                          ) -> pb.ListApiKeysResponse:
        page = await self.core.list_keys(caller_of(context), request.owner, request.page_size, request.page_token,
                                         request.show_revoked)
        return pb.ListApiKeysResponse(api_keys=[api_key_proto(k) for k in page.api_keys],
                                      next_page_token=page.next_page_token)

    async def RevokeApiKey(self, request: pb.RevokeApiKeyRequest, context: grpc.aio.ServicerContext
                           ) -> pb.RevokeApiKeyResponse:
        key = await self.core.revoke_key(caller_of(context), request.key_id)
        return pb.RevokeApiKeyResponse(api_key=api_key_proto(key))

    async def RotateApiKey(self, request: pb.RotateApiKeyRequest, context: grpc.aio.ServicerContext
                           ) -> pb.RotateApiKeyResponse:
        issued = await self.core.rotate_key(caller_of(context), request.key_id)
        return pb.RotateApiKeyResponse(api_key=api_key_proto(issued.api_key), key=issued.key)
