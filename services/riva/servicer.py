"""gRPC adapters of Riva's three services over the Riva core: the caller's metadata and deadline
in (services.common.rpc.downstream.call_context), Riva's messages out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from riva.proto import riva_asr_pb2 as rasr
from riva.proto import riva_asr_pb2_grpc as rasr_grpc
from riva.proto import riva_nmt_pb2 as rnmt
from riva.proto import riva_nmt_pb2_grpc as rnmt_grpc
from riva.proto import riva_tts_pb2 as rtts
from riva.proto import riva_tts_pb2_grpc as rtts_grpc
from services.common.errors import Unimplemented
from services.common.rpc.downstream import call_context
from services.riva.core import RivaCore

Context: TypeAlias = grpc.aio.ServicerContext



class RivaAsrServicer(rasr_grpc.RivaSpeechRecognitionServicer):
    def __init__(self, core: RivaCore) -> None:
        self.core = core

    async def Recognize(self, request: rasr.RecognizeRequest, context: Context) -> rasr.RecognizeResponse:
        return await self.core.recognize(request, call_context(context))

    async def StreamingRecognize(self, request_iterator: AsyncIterator[rasr.StreamingRecognizeRequest],
                                 context: Context) -> AsyncIterator[rasr.StreamingRecognizeResponse]:
        async for response in self.core.streaming_recognize(request_iterator, call_context(context)):
            yield response

    async def GetRivaSpeechRecognitionConfig(self, request: rasr.RivaSpeechRecognitionConfigRequest,
                                             context: Context) -> rasr.RivaSpeechRecognitionConfigResponse:
        return await self.core.recognition_config(request, call_context(context))


class RivaTtsServicer(rtts_grpc.RivaSpeechSynthesisServicer):
    def __init__(self, core: RivaCore) -> None:
        self.core = core

    async def Synthesize(self, request: rtts.SynthesizeSpeechRequest, context: Context
                         ) -> rtts.SynthesizeSpeechResponse:
        return await self.core.synthesize(request, call_context(context))

    async def SynthesizeOnline(self, request_iterator: AsyncIterator[rtts.SynthesizeSpeechRequest],
                               context: Context) -> AsyncIterator[rtts.SynthesizeSpeechResponse]:
        async for response in self.core.synthesize_online(request_iterator, call_context(context)):
            yield response

    async def GetRivaSynthesisConfig(self, request: rtts.RivaSynthesisConfigRequest, context: Context
                                     ) -> rtts.RivaSynthesisConfigResponse:
        return await self.core.synthesis_config(request, call_context(context))


class RivaNmtServicer(rnmt_grpc.RivaTranslationServicer):
    """TranslateText and ListSupportedLanguagePairs; Riva's speech-to-speech and speech-to-text
    translation streams answer UNIMPLEMENTED (METHOD_NOT_IMPLEMENTED) with what to call instead.
    (The generated base class raises NotImplementedError, which the chassis would answer INTERNAL.)"""

    def __init__(self, core: RivaCore) -> None:
        self.core = core

    async def TranslateText(self, request: rnmt.TranslateTextRequest, context: Context
                            ) -> rnmt.TranslateTextResponse:
        return await self.core.translate(request, call_context(context))

    async def ListSupportedLanguagePairs(self, request: rnmt.AvailableLanguageRequest, context: Context
                                         ) -> rnmt.AvailableLanguageResponse:
        return await self.core.language_pairs(request, call_context(context))

    async def StreamingTranslateSpeechToText(
            self, request_iterator: AsyncIterator[rnmt.StreamingTranslateSpeechToTextRequest], context: Context
    ) -> AsyncIterator[rnmt.StreamingTranslateSpeechToTextResponse]:
        raise Unimplemented("StreamingTranslateSpeechToText is not offered here: stream to "
                            "ai4vc.pipeline.v1.PipelineService/StreamingSpeechToSpeech, or StreamingRecognize "
                            "then TranslateText", metadata={"method": "StreamingTranslateSpeechToText"})
        yield  # an async generator, like the streams it stands for

    async def StreamingTranslateSpeechToSpeech(
            self, request_iterator: AsyncIterator[rnmt.StreamingTranslateSpeechToSpeechRequest], context: Context
    ) -> AsyncIterator[rnmt.StreamingTranslateSpeechToSpeechResponse]:
        raise Unimplemented("StreamingTranslateSpeechToSpeech is not offered here: use "
                            "ai4vc.pipeline.v1.PipelineService/StreamingSpeechToSpeech",
                            metadata={"method": "StreamingTranslateSpeechToSpeech"})
        yield  # an async generator, like the streams it stands for
