"""gRPC adapter for the pipeline core: the caller's metadata and deadline in, proto out."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import grpc

from ai4vc.pipeline.v1 import pipeline_service_pb2 as pb
from ai4vc.pipeline.v1 import pipeline_service_pb2_grpc as pb_grpc
from services.common.logs import request_id_var
from services.common.rpc.identity import identity_of
from services.common.rpc.interceptors import REQUEST_ID_KEY
from services.pipeline.core import CallContext, PipelineCore

# Trace context passed on to every downstream call, so their traces join this call's.
TRACE_HEADERS = ("traceparent", "tracestate")


def call_context(context: grpc.aio.ServicerContext) -> CallContext:
    """The metadata and deadline downstream calls carry: the request id the interceptor settled
    on (the caller's, or a new one when it sent none), the trace context, and the caller's
    identity as the edge set it, so downstream records and usage count against this caller."""
    metadata: list[tuple[str, str]] = []
    request_id = request_id_var.get()
    if request_id:
        metadata.append((REQUEST_ID_KEY, request_id))
    for key, value in context.invocation_metadata() or ():
        if key in TRACE_HEADERS and isinstance(value, str):
            metadata.append((key, value))
    metadata.extend(identity_of(context).metadata())
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
