"""gRPC adapter for the ULCA core: the caller's metadata and deadline in, ULCA's messages out."""

from __future__ import annotations

import grpc

from ai4vc.ulca.v1 import ulca_service_pb2 as pb
from ai4vc.ulca.v1 import ulca_service_pb2_grpc as pb_grpc
from services.common.rpc.downstream import call_context
from services.ulca.core import UlcaCore, texts_of


def config_of(request: pb.ComputeAsrRequest | pb.ComputeTranslationRequest | pb.ComputeTransliterationRequest
              | pb.ComputeTtsRequest) -> pb.TaskConfig:
    """The request's config, with the ?serviceId= of Dhruva's URLs filled in when it names none."""
    config = request.config
    if request.service_id and not config.service_id:
        config.service_id = request.service_id
    return config


class UlcaServicer(pb_grpc.UlcaServiceServicer):
    def __init__(self, core: UlcaCore) -> None:
        self.core = core

    async def ComputeAsr(self, request: pb.ComputeAsrRequest, context: grpc.aio.ServicerContext
                         ) -> pb.ComputeAsrResponse:
        outputs = await self.core.asr(config_of(request), request.audio, call_context(context))
        return pb.ComputeAsrResponse(output=outputs, task_type="asr")

    async def ComputeTranslation(self, request: pb.ComputeTranslationRequest, context: grpc.aio.ServicerContext
                                 ) -> pb.ComputeTranslationResponse:
        texts = texts_of(request.input, "input", self.core.settings.max_text_items)
        outputs = await self.core.translation(config_of(request), texts, call_context(context))
        return pb.ComputeTranslationResponse(output=outputs, task_type="translation")

    async def ComputeTransliteration(self, request: pb.ComputeTransliterationRequest,
                                     context: grpc.aio.ServicerContext) -> pb.ComputeTransliterationResponse:
        texts = texts_of(request.input, "input", self.core.settings.max_text_items)
        outputs = await self.core.transliteration(config_of(request), texts, call_context(context))
        return pb.ComputeTransliterationResponse(output=outputs, task_type="transliteration")

    async def ComputeTts(self, request: pb.ComputeTtsRequest, context: grpc.aio.ServicerContext
                         ) -> pb.ComputeTtsResponse:
        texts = texts_of(request.input, "input", self.core.settings.max_audio_items)
        clips, config = await self.core.tts(config_of(request), texts, call_context(context))
        return pb.ComputeTtsResponse(audio=clips, config=config, task_type="tts")

    async def ComputePipeline(self, request: pb.ComputePipelineRequest, context: grpc.aio.ServicerContext
                              ) -> pb.ComputePipelineResponse:
        return await self.core.pipeline(request, call_context(context))

    async def GetModelsPipeline(self, request: pb.GetModelsPipelineRequest, context: grpc.aio.ServicerContext
                                ) -> pb.GetModelsPipelineResponse:
        return await self.core.models_pipeline(request, call_context(context))
