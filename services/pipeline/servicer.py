"""gRPC adapter for the pipeline core: the caller's metadata and deadline in, proto out."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import grpc

from ai4vc.pipeline.v1 import pipeline_service_pb2 as pb
from ai4vc.pipeline.v1 import pipeline_service_pb2_grpc as pb_grpc
from services.common.logs import request_id_var
from services.common.rpc.identity import IDENTITY_HEADERS
from services.common.rpc.interceptors import REQUEST_ID_KEY
from services.pipeline.core import CallContext, PipelineCore

# Passed on to every downstream call, so their logs, traces and records join this call's.
FORWARDED_HEADERS = ("traceparent", "tracestate", *IDENTITY_HEADERS)


def call_context(context: grpc.aio.ServicerContext) -> CallContext:
    """The metadata and deadline downstream calls carry. The request id is the one the
    interceptor settled on (the caller's, or a new one when it sent none)."""
    metadata: list[tuple[str, str]] = []
    request_id = request_id_var.get()
    if request_id:
        metadata.append((REQUEST_ID_KEY, request_id))
    for key, value in context.invocation_metadata() or ():
        if key in FORWARDED_HEADERS and isinstance(value, str):
            metadata.append((key, value))
    remaining = context.time_remaining()
    deadline = None if remaining is None else time.monotonic() + remaining
    return CallContext(tuple(metadata), deadline)


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
