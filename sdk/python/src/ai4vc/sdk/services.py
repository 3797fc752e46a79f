"""Every RPC of every public service, declared once. The same declaration serves the sync client
(`client.nmt.translate_text(req) -> TranslateTextResponse`) and the asyncio one
(`await aclient.nmt.translate_text(req)`); `tests/unit/test_sdk_services.py` checks that each
method of each service in proto/ is here with its request and response types."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, overload

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.config.v1 import config_service_pb2 as config_pb
from ai4vc.metrics.v1 import metrics_service_pb2 as metrics_pb
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.pipeline.v1 import pipeline_service_pb2 as pipeline_pb
from ai4vc.sdk._core import Method, Req, Resp
from ai4vc.sdk.credentials import Metadata
from ai4vc.sdk.retry import idempotent
from ai4vc.telemetry.v1 import telemetry_service_pb2 as telemetry_pb
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb

if TYPE_CHECKING:
    from ai4vc.sdk.aio import AsyncClient
    from ai4vc.sdk.client import Client


class SyncService:
    SERVICE = ""

    def __init__(self, client: Client) -> None:
        self._client = client


class AsyncService:
    SERVICE = ""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client


# --- bound calls --------------------------------------------------------------------------------


class SyncUnaryCall(Generic[Req, Resp]):
    def __init__(self, client: Client, method: Method[Req, Resp]) -> None:
        self._client, self.method = client, method

    def __call__(self, request: Req, *, timeout: float | None = None, metadata: Metadata = ()) -> Resp:
        """Send `request`; retried on UNAVAILABLE when the method is idempotent."""
        return self._client._unary(self.method, request, timeout=timeout, metadata=metadata)

    @property
    def idempotent(self) -> bool:
        return idempotent(self.method.path)


class AsyncUnaryCall(Generic[Req, Resp]):
    def __init__(self, client: AsyncClient, method: Method[Req, Resp]) -> None:
        self._client, self.method = client, method

    def __call__(self, request: Req, *, timeout: float | None = None, metadata: Metadata = ()) -> Awaitable[Resp]:
        return self._client._unary(self.method, request, timeout=timeout, metadata=metadata)

    @property
    def idempotent(self) -> bool:
        return idempotent(self.method.path)


class SyncServerStreamCall(Generic[Req, Resp]):
    def __init__(self, client: Client, method: Method[Req, Resp]) -> None:
        self._client, self.method = client, method

    def __call__(self, request: Req, *, timeout: float | None = None, metadata: Metadata = ()) -> Iterator[Resp]:
        return self._client._server_stream(self.method, request, timeout=timeout, metadata=metadata)


class AsyncServerStreamCall(Generic[Req, Resp]):
    def __init__(self, client: AsyncClient, method: Method[Req, Resp]) -> None:
        self._client, self.method = client, method

    def __call__(self, request: Req, *, timeout: float | None = None,
                 metadata: Metadata = ()) -> AsyncIterator[Resp]:
        return self._client._server_stream(self.method, request, timeout=timeout, metadata=metadata)


class SyncBidiCall(Generic[Req, Resp]):
    def __init__(self, client: Client, method: Method[Req, Resp]) -> None:
        self._client, self.method = client, method

    def __call__(self, requests: Iterable[Req], *, timeout: float | None = None,
                 metadata: Metadata = ()) -> Iterator[Resp]:
        return self._client._bidi_stream(self.method, requests, timeout=timeout, metadata=metadata)


class AsyncBidiCall(Generic[Req, Resp]):
    def __init__(self, client: AsyncClient, method: Method[Req, Resp]) -> None:
        self._client, self.method = client, method

    def __call__(self, requests: AsyncIterable[Req] | Iterable[Req], *, timeout: float | None = None,
                 metadata: Metadata = ()) -> AsyncIterator[Resp]:
        return self._client._bidi_stream(self.method, requests, timeout=timeout, metadata=metadata)


# --- descriptors: one declaration, typed for both clients ---------------------------------------


class Unary(Method[Req, Resp]):
    kind = "unary"

    @overload
    def __get__(self, obj: SyncService, owner: Any) -> SyncUnaryCall[Req, Resp]: ...
    @overload
    def __get__(self, obj: AsyncService, owner: Any) -> AsyncUnaryCall[Req, Resp]: ...
    @overload
    def __get__(self, obj: None, owner: Any) -> Unary[Req, Resp]: ...

    def __get__(self, obj: Any, owner: Any) -> Any:
        if obj is None:
            return self
        if isinstance(obj, AsyncService):
            return AsyncUnaryCall(obj._client, self)
        return SyncUnaryCall(obj._client, self)


class ServerStream(Method[Req, Resp]):
    kind = "server_stream"

    @overload
    def __get__(self, obj: SyncService, owner: Any) -> SyncServerStreamCall[Req, Resp]: ...
    @overload
    def __get__(self, obj: AsyncService, owner: Any) -> AsyncServerStreamCall[Req, Resp]: ...
    @overload
    def __get__(self, obj: None, owner: Any) -> ServerStream[Req, Resp]: ...

    def __get__(self, obj: Any, owner: Any) -> Any:
        if obj is None:
            return self
        if isinstance(obj, AsyncService):
            return AsyncServerStreamCall(obj._client, self)
        return SyncServerStreamCall(obj._client, self)


class BidiStream(Method[Req, Resp]):
    kind = "bidi_stream"

    @overload
    def __get__(self, obj: SyncService, owner: Any) -> SyncBidiCall[Req, Resp]: ...
    @overload
    def __get__(self, obj: AsyncService, owner: Any) -> AsyncBidiCall[Req, Resp]: ...
    @overload
    def __get__(self, obj: None, owner: Any) -> BidiStream[Req, Resp]: ...

    def __get__(self, obj: Any, owner: Any) -> Any:
        if obj is None:
            return self
        if isinstance(obj, AsyncService):
            return AsyncBidiCall(obj._client, self)
        return SyncBidiCall(obj._client, self)


# --- the services -------------------------------------------------------------------------------


class AsrMethods:
    SERVICE = "ai4vc.asr.v1.AsrService"
    recognize = Unary("Recognize", asr_pb.RecognizeRequest, asr_pb.RecognizeResponse)
    streaming_recognize = BidiStream("StreamingRecognize", asr_pb.StreamingRecognizeRequest,
                                     asr_pb.StreamingRecognizeResponse)
    list_models = Unary("ListModels", asr_pb.ListModelsRequest, asr_pb.ListModelsResponse)


class TtsMethods:
    SERVICE = "ai4vc.tts.v1.TtsService"
    synthesize = Unary("Synthesize", tts_pb.SynthesizeRequest, tts_pb.SynthesizeResponse)
    streaming_synthesize = ServerStream("StreamingSynthesize", tts_pb.StreamingSynthesizeRequest,
                                        tts_pb.StreamingSynthesizeResponse)
    bidi_streaming_synthesize = BidiStream("BidiStreamingSynthesize", tts_pb.BidiStreamingSynthesizeRequest,
                                           tts_pb.BidiStreamingSynthesizeResponse)
    list_voices = Unary("ListVoices", tts_pb.ListVoicesRequest, tts_pb.ListVoicesResponse)


class NmtMethods:
    SERVICE = "ai4vc.nmt.v1.NmtService"
    translate_text = Unary("TranslateText", nmt_pb.TranslateTextRequest, nmt_pb.TranslateTextResponse)
    detect_language = Unary("DetectLanguage", nmt_pb.DetectLanguageRequest, nmt_pb.DetectLanguageResponse)
    transliterate = Unary("Transliterate", nmt_pb.TransliterateRequest, nmt_pb.TransliterateResponse)
    list_language_pairs = Unary("ListLanguagePairs", nmt_pb.ListLanguagePairsRequest,
                                nmt_pb.ListLanguagePairsResponse)
    list_transliteration_pairs = Unary("ListTransliterationPairs", nmt_pb.ListTransliterationPairsRequest,
                                       nmt_pb.ListTransliterationPairsResponse)


class PipelineMethods:
    SERVICE = "ai4vc.pipeline.v1.PipelineService"
    run_pipeline = Unary("RunPipeline", pipeline_pb.RunPipelineRequest, pipeline_pb.RunPipelineResponse)
    streaming_speech_to_speech = BidiStream("StreamingSpeechToSpeech", pipeline_pb.StreamingSpeechToSpeechRequest,
                                            pipeline_pb.StreamingSpeechToSpeechResponse)


class AuthMethods:
    SERVICE = "ai4vc.auth.v1.AuthService"
    create_user = Unary("CreateUser", auth_pb.CreateUserRequest, auth_pb.CreateUserResponse)
    login = Unary("Login", auth_pb.LoginRequest, auth_pb.LoginResponse)
    refresh = Unary("Refresh", auth_pb.RefreshRequest, auth_pb.RefreshResponse)
    logout = Unary("Logout", auth_pb.LogoutRequest, auth_pb.LogoutResponse)
    create_api_key = Unary("CreateApiKey", auth_pb.CreateApiKeyRequest, auth_pb.CreateApiKeyResponse)
    list_api_keys = Unary("ListApiKeys", auth_pb.ListApiKeysRequest, auth_pb.ListApiKeysResponse)
    revoke_api_key = Unary("RevokeApiKey", auth_pb.RevokeApiKeyRequest, auth_pb.RevokeApiKeyResponse)
    rotate_api_key = Unary("RotateApiKey", auth_pb.RotateApiKeyRequest, auth_pb.RotateApiKeyResponse)


class MetricsMethods:
    SERVICE = "ai4vc.metrics.v1.MetricsService"
    query_usage = Unary("QueryUsage", metrics_pb.QueryUsageRequest, metrics_pb.QueryUsageResponse)
    get_usage_summary = Unary("GetUsageSummary", metrics_pb.GetUsageSummaryRequest,
                              metrics_pb.GetUsageSummaryResponse)


class ConfigMethods:
    SERVICE = "ai4vc.config.v1.ConfigService"
    get_config = Unary("GetConfig", config_pb.GetConfigRequest, config_pb.GetConfigResponse)
    list_configs = Unary("ListConfigs", config_pb.ListConfigsRequest, config_pb.ListConfigsResponse)
    set_config = Unary("SetConfig", config_pb.SetConfigRequest, config_pb.SetConfigResponse)
    delete_config = Unary("DeleteConfig", config_pb.DeleteConfigRequest, config_pb.DeleteConfigResponse)
    list_config_versions = Unary("ListConfigVersions", config_pb.ListConfigVersionsRequest,
                                 config_pb.ListConfigVersionsResponse)
    rollback_config = Unary("RollbackConfig", config_pb.RollbackConfigRequest, config_pb.RollbackConfigResponse)
    watch_config = ServerStream("WatchConfig", config_pb.WatchConfigRequest, config_pb.WatchConfigResponse)


class TelemetryMethods:
    SERVICE = "ai4vc.telemetry.v1.TelemetryService"
    get_trace = Unary("GetTrace", telemetry_pb.GetTraceRequest, telemetry_pb.GetTraceResponse)
    search_traces = Unary("SearchTraces", telemetry_pb.SearchTracesRequest, telemetry_pb.SearchTracesResponse)
    search_logs = Unary("SearchLogs", telemetry_pb.SearchLogsRequest, telemetry_pb.SearchLogsResponse)


ALL = (AsrMethods, TtsMethods, NmtMethods, PipelineMethods, AuthMethods, MetricsMethods, ConfigMethods,
       TelemetryMethods)


class AsrService(AsrMethods, SyncService): ...
class TtsService(TtsMethods, SyncService): ...
class NmtService(NmtMethods, SyncService): ...
class PipelineService(PipelineMethods, SyncService): ...
class AuthService(AuthMethods, SyncService): ...
class MetricsService(MetricsMethods, SyncService): ...
class ConfigService(ConfigMethods, SyncService): ...
class TelemetryService(TelemetryMethods, SyncService): ...


class AsyncAsrService(AsrMethods, AsyncService): ...
class AsyncTtsService(TtsMethods, AsyncService): ...
class AsyncNmtService(NmtMethods, AsyncService): ...
class AsyncPipelineService(PipelineMethods, AsyncService): ...
class AsyncAuthService(AuthMethods, AsyncService): ...
class AsyncMetricsService(MetricsMethods, AsyncService): ...
class AsyncConfigService(ConfigMethods, AsyncService): ...
class AsyncTelemetryService(TelemetryMethods, AsyncService): ...
