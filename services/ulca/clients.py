"""gRPC clients of the ASR, NMT and TTS services, as the ULCA core's `Backends`.

Calls go through services/common/rpc/downstream.py, as the pipeline's do: the caller's request
id, trace context and identity on every call, a deadline from the caller's remaining time,
UNAVAILABLE unary calls retried (streams never), downstream errors as domain errors with their
field moved into the ULCA request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as tts_grpc
from services.common.calls import CallContext, FieldMap, field_map
from services.common.paging import all_pages
from services.common.rpc.downstream import downstream_error, unary
from services.ulca.settings import UlcaSettings

R = TypeVar("R")

# Discovery lists are read whole: page through at this size.
_PAGE = 1000
_DISCOVERY_FIELDS = field_map({}, "pipelineTasks")


class GrpcBackends:
    """Channels and stubs to the services behind the facade, one channel per target."""

    def __init__(self, settings: UlcaSettings) -> None:
        self.settings = settings
        self.channels = settings.channels()
        self.policy = settings.retry_policy()

    async def close(self) -> None:
        await self.channels.close()

    async def ready(self) -> bool:
        return await self.channels.ready()

    def _channel(self, name: str) -> grpc.aio.Channel:
        return self.channels.get(name)

    def asr(self) -> asr_grpc.AsrServiceStub:
        return asr_grpc.AsrServiceStub(self._channel("asr"))

    def nmt(self) -> nmt_grpc.NmtServiceStub:
        return nmt_grpc.NmtServiceStub(self._channel("nmt"))

    def tts(self) -> tts_grpc.TtsServiceStub:
        return tts_grpc.TtsServiceStub(self._channel("tts"))

    async def _unary(self, name: str, method: Callable[..., Awaitable[R]], request: Any, call: CallContext,
                     fields: FieldMap) -> R:
        return await unary(name, method, request, call, fields, default_timeout_s=self.settings.call_timeout_s,
                           retry=self.policy)

    async def recognize(self, request: asr_pb.RecognizeRequest, call: CallContext, fields: FieldMap
                        ) -> asr_pb.RecognizeResponse:
        return await self._unary("asr", self.asr().Recognize, request, call, fields)

    async def streaming_recognize(self, requests: AsyncIterator[asr_pb.StreamingRecognizeRequest],
                                  call: CallContext, fields: FieldMap
                                  ) -> AsyncIterator[asr_pb.StreamingRecognizeResponse]:
        rpc = self.asr().StreamingRecognize(requests, timeout=call.timeout(self.settings.stream_timeout_s),
                                            metadata=call.metadata)
        try:
            async for response in rpc:
                yield response
        except grpc.aio.AioRpcError as exc:
            raise downstream_error(exc, "asr", fields) from None
        finally:
            rpc.cancel()

    async def translate(self, request: nmt_pb.TranslateTextRequest, call: CallContext, fields: FieldMap
                        ) -> nmt_pb.TranslateTextResponse:
        return await self._unary("nmt", self.nmt().TranslateText, request, call, fields)

    async def transliterate(self, request: nmt_pb.TransliterateRequest, call: CallContext, fields: FieldMap
                            ) -> nmt_pb.TransliterateResponse:
        return await self._unary("nmt", self.nmt().Transliterate, request, call, fields)

    async def synthesize(self, request: tts_pb.SynthesizeRequest, call: CallContext, fields: FieldMap
                         ) -> tts_pb.SynthesizeResponse:
        return await self._unary("tts", self.tts().Synthesize, request, call, fields)

    async def _all(self, name: str, method: Callable[..., Awaitable[Any]], request: Any, items: str,
                   call: CallContext) -> list[Any]:
        request.page_size = _PAGE

        async def fetch(token: str) -> tuple[list[Any], str]:
            request.page_token = token
            answer = await self._unary(name, method, request, call, _DISCOVERY_FIELDS)
            return list(getattr(answer, items)), answer.next_page_token

        return await all_pages(fetch)

    async def asr_models(self, call: CallContext) -> list[asr_pb.Model]:
        return await self._all("asr", self.asr().ListModels, asr_pb.ListModelsRequest(), "models", call)

    async def language_pairs(self, call: CallContext) -> list[nmt_pb.LanguagePair]:
        return await self._all("nmt", self.nmt().ListLanguagePairs, nmt_pb.ListLanguagePairsRequest(),
                               "language_pairs", call)

    async def transliteration_pairs(self, call: CallContext) -> list[nmt_pb.TransliterationPair]:
        return await self._all("nmt", self.nmt().ListTransliterationPairs, nmt_pb.ListTransliterationPairsRequest(),
                               "transliteration_pairs", call)

    async def voices(self, call: CallContext) -> list[tts_pb.Voice]:
        return await self._all("tts", self.tts().ListVoices, tts_pb.ListVoicesRequest(), "voices", call)
