"""The asyncio client: the same services and helpers as `ai4vc.sdk.Client`, awaited.

    from ai4vc.sdk import AsyncClient
    async with AsyncClient(api_key="…") as client:
        print(await client.translate("नमस्ते", source="hi", target="ur"))
"""

# `timeout` is the gRPC deadline handed to the server (as in grpc.aio's own API), not a local
# asyncio timeout: ASYNC109 does not apply.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import grpc

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.pipeline.v1 import pipeline_service_pb2 as pipeline_pb
from ai4vc.sdk import _requests
from ai4vc.sdk._core import REFRESH_METHOD, Engine, Method, Req, Resp, Settings
from ai4vc.sdk._resume import StreamResume
from ai4vc.sdk.audio import DEFAULT_CHUNK_MS, Pcm, WavWriter, read_wav
from ai4vc.sdk.credentials import Credential, Jwt, Metadata
from ai4vc.sdk.errors import Ai4vcError, from_rpc_error
from ai4vc.sdk.retry import RetryPolicy
from ai4vc.sdk.services import (
    AsyncAsrService,
    AsyncAuthService,
    AsyncConfigService,
    AsyncMetricsService,
    AsyncNmtService,
    AsyncPipelineService,
    AsyncTelemetryService,
    AsyncTtsService,
)
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb


class AsyncClient:
    """A `grpc.aio` connection to the AI4V-C edge. Create it inside a running event loop."""

    def __init__(self, endpoint: str | None = None, *, api_key: str | None = None, token: str | None = None,
                 credential: Credential | None = None, tls: bool | None = None,
                 root_certificates: bytes | str | Path | None = None, timeout: float | None = 30.0,
                 retry: RetryPolicy | None = None, metadata: Metadata = (),
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.settings = Settings.resolve(endpoint, api_key=api_key, token=token, credential=credential, tls=tls,
                                         root_certificates=root_certificates, timeout=timeout, retry=retry,
                                         metadata=metadata)
        self._engine = Engine(self.settings)
        self._sleep = sleep
        self._refresh_lock = asyncio.Lock()
        s = self.settings
        self.channel = (grpc.aio.secure_channel(s.endpoint, s.channel_credentials(), options=s.options) if s.tls
                        else grpc.aio.insecure_channel(s.endpoint, options=s.options))
        self.asr = AsyncAsrService(self)
        self.tts = AsyncTtsService(self)
        self.nmt = AsyncNmtService(self)
        self.pipeline = AsyncPipelineService(self)
        self.auth = AsyncAuthService(self)
        self.metrics = AsyncMetricsService(self)
        self.config = AsyncConfigService(self)
        self.telemetry = AsyncTelemetryService(self)

    @property
    def credential(self) -> Credential | None:
        return self._engine.credential

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # --- the call engine ------------------------------------------------------------------------

    def _callable(self, method: Method[Any, Any], kind: str) -> Any:
        factory = {"unary": self.channel.unary_unary, "server_stream": self.channel.unary_stream,
                   "bidi_stream": self.channel.stream_stream}[kind]
        return factory(method.path, request_serializer=method.request.SerializeToString,
                       response_deserializer=method.response.FromString)

    async def _refresh(self, request: auth_pb.RefreshRequest) -> None:
        call = self.channel.unary_unary(REFRESH_METHOD, request_serializer=auth_pb.RefreshRequest.SerializeToString,
                                        response_deserializer=auth_pb.RefreshResponse.FromString)
        try:
            answer = await call(request, timeout=self.settings.timeout or 30.0, metadata=self.settings.metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc, REFRESH_METHOD) from None
        self._engine.store_tokens(answer)

    async def _refresh_if_due(self) -> None:
        if self._engine.refresh_request() is None:
            return
        async with self._refresh_lock:
            request = self._engine.refresh_request()
            if request is not None:
                await self._refresh(request)

    async def _retry_unauthenticated(self, error: Ai4vcError, refreshed: bool) -> bool:
        jwt = self._engine.credential
        if refreshed or error.code != grpc.StatusCode.UNAUTHENTICATED or not isinstance(jwt, Jwt):
            return False
        if not jwt.can_refresh:
            return False
        async with self._refresh_lock:
            await self._refresh(auth_pb.RefreshRequest(refresh_token=jwt.refresh_token))
        return True

    async def _unary(self, method: Method[Req, Resp], request: Req, *, timeout: float | None,
                     metadata: Metadata) -> Resp:
        call = self._callable(method, "unary")
        deadline = self._engine.deadline(timeout)
        policy = self.settings.retry
        attempt, refreshed = 0, False
        while True:
            await self._refresh_if_due()
            try:
                return await call(request, timeout=self._engine.remaining(deadline),  # type: ignore[no-any-return]
                                  metadata=self._engine.metadata(metadata))
            except grpc.RpcError as exc:
                error = from_rpc_error(exc, method.path)
            if await self._retry_unauthenticated(error, refreshed):
                refreshed = True
                continue
            if policy.should_retry(method.path, error.code, attempt):
                delay = policy.backoff(attempt, self._engine.rng, error.retry_delay)
                if deadline is None or time.monotonic() + delay < deadline:
                    await self._sleep(delay)
                    attempt += 1
                    continue
            raise error

    async def _stream(self, make_call: Callable[[], Any], method: Method[Any, Any]) -> AsyncIterator[Any]:
        # Never retried: a half-sent stream cannot be replayed safely.
        await self._refresh_if_due()
        call = make_call()
        try:
            async for response in call:
                yield response
        except grpc.RpcError as exc:
            raise from_rpc_error(exc, method.path) from None
        finally:
            call.cancel()

    def _server_stream(self, method: Method[Req, Resp], request: Req, *, timeout: float | None,
                       metadata: Metadata) -> AsyncIterator[Resp]:
        return self._stream(lambda: self._callable(method, "server_stream")(
            request, timeout=timeout, metadata=self._engine.metadata(metadata)), method)

    def _bidi_stream(self, method: Method[Req, Resp], requests: AsyncIterable[Req] | Iterable[Req], *,
                     timeout: float | None, metadata: Metadata) -> AsyncIterator[Resp]:
        return self._stream(lambda: self._callable(method, "bidi_stream")(
            requests, timeout=timeout, metadata=self._engine.metadata(metadata)), method)

    # --- sign-in and helpers (see Client for what each does) ------------------------------------

    async def login(self, username: str, password: str) -> Jwt:
        answer = await self.auth.login(auth_pb.LoginRequest(username=username, password=password))
        return self._engine.store_tokens(answer)

    async def translate(self, text: str, *, source: str, target: str, model: str = "",
                        timeout: float | None = None) -> str:
        answer = await self.nmt.translate_text(nmt_pb.TranslateTextRequest(
            contents=[text], source_language_code=source, target_language_code=target, model=model), timeout=timeout)
        return answer.translations[0].translated_text

    async def transliterate(self, text: str, *, source: str, target: str, top_k: int = 1,
                            word_level: bool = False, timeout: float | None = None) -> list[str]:
        answer = await self.nmt.transliterate(nmt_pb.TransliterateRequest(
            contents=[text], source_language_code=source, target_language_code=target, top_k=top_k,
            is_word_level=word_level), timeout=timeout)
        return list(answer.transliterations[0].candidates) if answer.transliterations else []

    async def recognize_file(self, path: str | Path, *, language: str, model: str = "", word_offsets: bool = True,
                             timeout: float | None = None) -> asr_pb.RecognizeResponse:
        return await self.asr.recognize(_requests.recognize(Path(path), language, model, word_offsets),
                                        timeout=timeout)

    async def stream_recognize(self, audio: AsyncIterable[bytes] | Iterable[bytes], *, language: str,
                               sample_rate_hertz: int = 16000, channels: int = 1, model: str = "",
                               interim_results: bool = True, timeout: float | None = None,
                               resume: bool = False,
                               max_resumes: int = 3) -> AsyncIterator[asr_pb.StreamingRecognitionResult]:
        """As `Client.stream_recognize`, `resume` included."""
        config = Pcm(b"", sample_rate_hertz, channels).audio_config()
        if not resume:
            requests = _requests.astreaming_recognize(audio, config, language, model, interim_results)
            async for response in self.asr.streaming_recognize(requests, timeout=timeout):
                for result in response.results:
                    yield result
            return
        first = _requests.streaming_config(config, language, model, interim_results)
        state = StreamResume(sample_rate_hertz, channels, max_resumes)
        more = asyncio.Event()

        async def pump() -> None:
            # One reader of the caller's audio for every stream: a stream's request task is
            # cancelled when the stream dies, and must not take the caller's iterator with it.
            async for chunk in _requests._aiter(audio):
                if chunk:
                    state.take(chunk)
                    more.set()
            state.exhausted = True
            more.set()

        reader = asyncio.create_task(pump())
        deadline = self._engine.deadline(timeout)
        try:
            while True:
                resumed = self._resumed_requests(state, state.attempt, first, more)
                try:
                    async for response in self.asr.streaming_recognize(resumed,
                                                                       timeout=self._engine.remaining(deadline)):
                        for result in response.results:
                            yield state.shifted(result)
                    return
                except Ai4vcError as error:
                    if not state.resume(error):
                        raise
                    await self._sleep(self.settings.retry.backoff(state.resumes - 1, self._engine.rng,
                                                                  error.retry_delay))
        finally:
            reader.cancel()

    @staticmethod
    async def _resumed_requests(state: StreamResume, attempt: int, first: asr_pb.StreamingRecognizeRequest,
                                more: asyncio.Event) -> AsyncIterator[asr_pb.StreamingRecognizeRequest]:
        """As `Client._resumed_requests`; `more` is set when the reader kept another chunk."""
        yield first
        sent = state.base
        while True:
            piece = state.unsent(sent)
            if piece is None:
                if state.attempt != attempt or state.exhausted:
                    return
                more.clear()
                if state.unsent(sent) is None and not state.exhausted:
                    await more.wait()
                continue
            start, data = piece
            yield asr_pb.StreamingRecognizeRequest(audio=data)
            sent = start + len(data)

    async def stream_file(self, path: str | Path, *, language: str, realtime: bool = True,
                          chunk_ms: int = DEFAULT_CHUNK_MS, model: str = "", interim_results: bool = True,
                          timeout: float | None = None) -> AsyncIterator[asr_pb.StreamingRecognitionResult]:
        pcm = read_wav(path)
        async for result in self.stream_recognize(self._paced(pcm, chunk_ms, realtime), language=language,
                                                  sample_rate_hertz=pcm.sample_rate_hertz, channels=pcm.channels,
                                                  model=model, interim_results=interim_results, timeout=timeout):
            yield result

    async def _paced(self, pcm: Pcm, chunk_ms: int, realtime: bool) -> AsyncIterator[bytes]:
        step = max(1, pcm.sample_rate_hertz * chunk_ms // 1000) * 2 * pcm.channels
        start = time.monotonic()
        for offset in range(0, len(pcm.data), step):
            if realtime:
                wait = start + offset / (2 * pcm.channels * pcm.sample_rate_hertz) - time.monotonic()
                if wait > 0:
                    await self._sleep(wait)
            yield pcm.data[offset:offset + step]

    async def synthesize(self, text: str, *, voice: str = "", language: str = "",
                         timeout: float | None = None) -> tts_pb.SynthesizeResponse:
        return await self.tts.synthesize(_requests.synthesize(text, voice, language), timeout=timeout)

    async def synthesize_stream(self, text: str, *, voice: str = "", language: str = "",
                                on_chunk: Callable[[bytes, int], Any] | None = None, timeout: float | None = None,
                                ) -> AsyncIterator[tts_pb.StreamingSynthesizeResponse]:
        rate = 0
        async for response in self.tts.streaming_synthesize(
                _requests.streaming_synthesize(text, voice, language), timeout=timeout):
            rate = response.audio_config.sample_rate_hertz or rate
            if on_chunk is not None and response.audio_content:
                result = on_chunk(response.audio_content, rate)
                if asyncio.iscoroutine(result):
                    await result
            yield response

    async def synthesize_to_file(self, text: str, path: str | Path, *, voice: str = "", language: str = "",
                                 timeout: float | None = None) -> float:
        with WavWriter(path) as out:
            rate = 0
            async for response in self.synthesize_stream(text, voice=voice, language=language, timeout=timeout):
                rate = response.audio_config.sample_rate_hertz or rate
                if response.audio_content:
                    out.write(response.audio_content, rate or 22050)
        return out.frames / rate if rate else 0.0

    def speech_to_speech(self, audio: AsyncIterable[bytes] | Iterable[bytes], *, source: str, target: str = "",
                         sample_rate_hertz: int = 16000, voice: str = "", timeout: float | None = None,
                         ) -> AsyncIterator[pipeline_pb.StreamingSpeechToSpeechResponse]:
        requests = _requests.aspeech_to_speech(audio, Pcm(b"", sample_rate_hertz).audio_config(), source, target,
                                               voice)
        return self.pipeline.streaming_speech_to_speech(requests, timeout=timeout)
