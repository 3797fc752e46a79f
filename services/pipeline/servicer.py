"""gRPC adapter for the pipeline core: the caller's metadata and deadline in, proto out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from ai4vc.pipeline.v1 import pipeline_service_pb2 as pb
from ai4vc.pipeline.v1 import pipeline_service_pb2_grpc as pb_grpc
from services.common.rpc.downstream import call_context
from services.pipeline.core import PipelineCore

__all__ = ["PipelineServicer", "call_context"]


class PipelineServicer(pb_grpc.PipelineServiceServicer):
    def __init__(self, core: PipelineCore) -> None:
        self.core = core

    async def RunPipeline(self, request: pb.RunPipelineRequest, context: grpc.aio.ServicerContext
                          ) -> pb.RunPipelineResponse:
        return await self.core.run(request, call_context(context))

    async def StreamingSpeechToSpeech(self, request_iterator: AsyncIterator[pb.StreamingSpeechToSpeechRequest],
                                      context: grpc.aio.ServicerContext
                                      ) -> AsyncIterator[pb.StreamingSpeechToSpeechResponse]:
        async for response in self.core.speech_to_speech(request_iterator, call_context(context)):
            yield response
