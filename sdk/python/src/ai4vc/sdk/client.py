"""The synchronous client: every RPC as `client.<service>.<method>(request)`, plus helpers for
the common jobs (translate, transcribe a file live, synthesize to a WAV file, speech to speech).

    from ai4vc.sdk import Client
    with Client("localhost:8080", api_key="…") as client:
        print(client.translate("नमस्ते दुनिया", source="hi", target="ur"))
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
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
from ai4vc.sdk.audio import DEFAULT_CHUNK_MS, Pcm, WavWriter, chunks, read_wav
from ai4vc.sdk.credentials import Credential, Jwt, Metadata
from ai4vc.sdk.errors import Ai4vcError, from_rpc_error
from ai4vc.sdk.retry import RetryPolicy
from ai4vc.sdk.services import (
    AsrService,
    AuthService,
    ConfigService,
    MetricsService,
    NmtService,
    PipelineService,
    TelemetryService,
    TtsService,
)
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb


class Client:
    """A connection to the AI4V-C edge (Envoy). Thread-safe; close it, or use it as a context manager."""

    def __init__(self, endpoint: str | None = None, *, api_key: str | None = None, token: str | None = None,
                 credential: Credential | None = None, tls: bool | None = None,
                 root_certificates: bytes | str | Path | None = None, timeout: float | None = 30.0,
                 retry: RetryPolicy | None = None, metadata: Metadata = (),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = Settings.resolve(endpoint, api_key=api_key, token=token, credential=credential, tls=tls,
                                         root_certificates=root_certificates, timeout=timeout, retry=retry,
                                         metadata=metadata)
        self._engine = Engine(self.settings)
        self._sleep = sleep
        self._refresh_lock = threading.Lock()
        s = self.settings
        self.channel = (grpc.secure_channel(s.endpoint, s.channel_credentials(), options=s.options) if s.tls
                        else grpc.insecure_channel(s.endpoint, options=s.options))
        self.asr = AsrService(self)
        self.tts = TtsService(self)
        self.nmt = NmtService(self)
        self.pipeline = PipelineService(self)
        self.auth = AuthService(self)
        self.metrics = MetricsService(self)
        self.config = ConfigService(self)
        self.telemetry = TelemetryService(self)

    @property
    def credential(self) -> Credential | None:
        return self._engine.credential

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- the call engine ------------------------------------------------------------------------

    def _callable(self, method: Method[Any, Any], kind: str) -> Any:
        factory = {"unary": self.channel.unary_unary, "server_stream": self.channel.unary_stream,
                   "bidi_stream": self.channel.stream_stream}[kind]
        return factory(method.path, request_serializer=method.request.SerializeToString,
                       response_deserializer=method.response.FromString)

    def _refresh_if_due(self) -> None:
        if self._engine.refresh_request() is None:
            return
        with self._refresh_lock:
            request = self._engine.refresh_request()  # another thread may have refreshed meanwhile
            if request is not None:
                self._refresh(request)

    def _refresh(self, request: auth_pb.RefreshRequest) -> None:
        call = self.channel.unary_unary(REFRESH_METHOD, request_serializer=auth_pb.RefreshRequest.SerializeToString,
                                        response_deserializer=auth_pb.RefreshResponse.FromString)
        try:
            answer = call(request, timeout=self.settings.timeout or 30.0, metadata=self.settings.metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc, REFRESH_METHOD) from None
        self._engine.store_tokens(answer)

    def _retry_unauthenticated(self, error: Ai4vcError, refreshed: bool) -> bool:
        jwt = self._engine.credential
        if refreshed or error.code != grpc.StatusCode.UNAUTHENTICATED or not isinstance(jwt, Jwt):
            return False
        if not jwt.can_refresh:
            return False
        with self._refresh_lock:
            self._refresh(auth_pb.RefreshRequest(refresh_token=jwt.refresh_token))
        return True

    def _unary(self, method: Method[Req, Resp], request: Req, *, timeout: float | None,
               metadata: Metadata) -> Resp:
        call = self._callable(method, "unary")
        deadline = self._engine.deadline(timeout)
        policy = self.settings.retry
        attempt, refreshed = 0, False
        while True:
            self._refresh_if_due()
            try:
                return call(request, timeout=self._engine.remaining(deadline),  # type: ignore[no-any-return]
                            metadata=self._engine.metadata(metadata))
            except grpc.RpcError as exc:
                error = from_rpc_error(exc, method.path)
            if self._retry_unauthenticated(error, refreshed):
                refreshed = True
                continue
            if policy.should_retry(method.path, error.code, attempt):
                delay = policy.backoff(attempt, self._engine.rng, error.retry_delay)
                if deadline is None or time.monotonic() + delay < deadline:
                    self._sleep(delay)
                    attempt += 1
                    continue
            raise error

    def _stream(self, call: Any, method: Method[Any, Any]) -> Iterator[Any]:
        # Streams are never retried: a half-sent stream cannot be replayed safely.
        try:
            yield from call
        except grpc.RpcError as exc:
            raise from_rpc_error(exc, method.path) from None
        finally:
            call.cancel()  # a no-op when it ended; stops the stream when the caller stopped reading

    def _server_stream(self, method: Method[Req, Resp], request: Req, *, timeout: float | None,
                       metadata: Metadata) -> Iterator[Resp]:
        self._refresh_if_due()
        call = self._callable(method, "server_stream")(request, timeout=timeout,
                                                        metadata=self._engine.metadata(metadata))
        return self._stream(call, method)

    def _bidi_stream(self, method: Method[Req, Resp], requests: Iterable[Req], *, timeout: float | None,
                     metadata: Metadata) -> Iterator[Resp]:
        self._refresh_if_due()
        call = self._callable(method, "bidi_stream")(iter(requests), timeout=timeout,
                                                      metadata=self._engine.metadata(metadata))
        return self._stream(call, method)

    # --- sign-in --------------------------------------------------------------------------------

    def login(self, username: str, password: str) -> Jwt:
        """Sign in; later calls carry the JWT and refresh it before it expires."""
        answer = self.auth.login(auth_pb.LoginRequest(username=username, password=password))
        return self._engine.store_tokens(answer)

    # --- helpers ----------------------------------------------------------------------------------

    def translate(self, text: str, *, source: str, target: str, model: str = "",
                  timeout: float | None = None) -> str:
        """`text` translated from `source` to `target` (BCP-47 codes)."""
        return self.translate_many([text], source=source, target=target, model=model, timeout=timeout)[0]

    def translate_many(self, texts: list[str], *, source: str, target: str, model: str = "",
                       timeout: float | None = None) -> list[str]:
        answer = self.nmt.translate_text(nmt_pb.TranslateTextRequest(
            contents=texts, source_language_code=source, target_language_code=target, model=model), timeout=timeout)
        return [t.translated_text for t in answer.translations]

    def transliterate(self, text: str, *, source: str, target: str, top_k: int = 1,
                      word_level: bool = False, timeout: float | None = None) -> list[str]:
        """Candidates for `text` in the `target` script, best first."""
        answer = self.nmt.transliterate(nmt_pb.TransliterateRequest(
            contents=[text], source_language_code=source, target_language_code=target, top_k=top_k,
            is_word_level=word_level), timeout=timeout)
        return list(answer.transliterations[0].candidates) if answer.transliterations else []

    def recognize_file(self, path: str | Path, *, language: str, model: str = "", word_offsets: bool = True,
                       timeout: float | None = None) -> asr_pb.RecognizeResponse:
        """A whole audio file (WAV, FLAC, OGG, MP3, WebM) recognized in one call."""
        return self.asr.recognize(_requests.recognize(Path(path), language, model, word_offsets), timeout=timeout)

    def stream_recognize(self, audio: Iterable[bytes], *, language: str, sample_rate_hertz: int = 16000,
                         channels: int = 1, model: str = "", interim_results: bool = True,
                         timeout: float | None = None, resume: bool = False,
                         max_resumes: int = 3) -> Iterator[asr_pb.StreamingRecognitionResult]:
        """Results (interim and final; `is_final` tells) for live 16-bit PCM chunks, as they come.
        With `resume`, a stream that ends UNAVAILABLE or reset (its replica died) is reopened up
        to `max_resumes` times with the audio no final result covered yet (`_resume.py`); the
        results' offsets and utterance indexes count from the start of `audio` throughout."""
        config = Pcm(b"", sample_rate_hertz, channels).audio_config()
        if not resume:
            requests = _requests.streaming_recognize(audio, config, language, model, interim_results)
            for response in self.asr.streaming_recognize(requests, timeout=timeout):
                yield from response.results
            return
        first = _requests.streaming_config(config, language, model, interim_results)
        state = StreamResume(sample_rate_hertz, channels, max_resumes)
        source, source_lock = iter(audio), threading.Lock()
        deadline = self._engine.deadline(timeout)
        while True:
            requests = self._resumed_requests(state, state.attempt, first, source, source_lock)
            try:
                for response in self.asr.streaming_recognize(requests, timeout=self._engine.remaining(deadline)):
                    for result in response.results:
                        yield state.shifted(result)
                return
            except Ai4vcError as error:
                if not state.resume(error):
                    raise
                self._sleep(self.settings.retry.backoff(state.resumes - 1, self._engine.rng, error.retry_delay))

    @staticmethod
    def _resumed_requests(state: StreamResume, attempt: int, first: asr_pb.StreamingRecognizeRequest,
                          source: Iterator[bytes], source_lock: threading.Lock,
                          ) -> Iterator[asr_pb.StreamingRecognizeRequest]:
        """The config, the kept audio, then the caller's next chunks, until the audio ends or a
        newer stream replaces this one (the chunk a replaced one read is kept, sent by the newer)."""
        yield first
        sent = state.base
        while True:
            piece = state.unsent(sent)
            if piece is None:
                with source_lock:
                    if state.attempt != attempt or state.exhausted:
                        return
                    chunk = next(source, None)
                    if chunk is None:
                        state.exhausted = True
                        return
                    if chunk:
                        state.take(chunk)  # under the lock: chunks are kept in the order read
                continue
            start, data = piece
            yield asr_pb.StreamingRecognizeRequest(audio=data)
            sent = start + len(data)

    def stream_file(self, path: str | Path, *, language: str, realtime: bool = True,
                    chunk_ms: int = DEFAULT_CHUNK_MS, model: str = "", interim_results: bool = True,
                    timeout: float | None = None, resume: bool = False,
                    max_resumes: int = 3) -> Iterator[asr_pb.StreamingRecognitionResult]:
        """A 16-bit PCM WAV file sent as a live stream: paced in real time, or as fast as possible."""
        pcm = read_wav(path)
        audio = chunks(pcm, chunk_ms=chunk_ms, realtime=realtime, sleep=self._sleep)
        return self.stream_recognize(audio, language=language, sample_rate_hertz=pcm.sample_rate_hertz,
                                     channels=pcm.channels, model=model, interim_results=interim_results,
                                     timeout=timeout, resume=resume, max_resumes=max_resumes)

    def stream_microphone(self, *, language: str, sample_rate_hertz: int = 16000, model: str = "",
                          device: int | str | None = None) -> Iterator[asr_pb.StreamingRecognitionResult]:
        """Live results from the default microphone until the caller stops iterating (needs `ai4vc[mic]`)."""
        from ai4vc.sdk.audio import Microphone

        with Microphone(sample_rate_hertz, device=device) as mic:
            yield from self.stream_recognize(iter(mic), language=language, sample_rate_hertz=sample_rate_hertz,
                                             model=model)

    def synthesize(self, text: str, *, voice: str = "", language: str = "",
                   timeout: float | None = None) -> tts_pb.SynthesizeResponse:
        """One WAV (`audio_content`) for `text`."""
        return self.tts.synthesize(_requests.synthesize(text, voice, language), timeout=timeout)

    def synthesize_stream(self, text: str, *, voice: str = "", language: str = "",
                          on_chunk: Callable[[bytes, int], None] | None = None,
                          timeout: float | None = None) -> Iterator[tts_pb.StreamingSynthesizeResponse]:
        """Audio chunks (16-bit PCM) as the server synthesizes them; `on_chunk(pcm, rate)` for playback."""
        rate = 0
        for response in self.tts.streaming_synthesize(_requests.streaming_synthesize(text, voice, language),
                                                      timeout=timeout):
            rate = response.audio_config.sample_rate_hertz or rate
            if on_chunk is not None and response.audio_content:
                on_chunk(response.audio_content, rate)
            yield response

    def synthesize_to_file(self, text: str, path: str | Path, *, voice: str = "", language: str = "",
                           on_chunk: Callable[[bytes, int], None] | None = None,
                           timeout: float | None = None) -> float:
        """Stream `text`'s speech into a WAV file chunk by chunk; the audio's length in seconds."""
        with WavWriter(path) as out:
            rate = 0
            for response in self.synthesize_stream(text, voice=voice, language=language, on_chunk=on_chunk,
                                                   timeout=timeout):
                rate = response.audio_config.sample_rate_hertz or rate
                if response.audio_content:
                    out.write(response.audio_content, rate or 22050)
        return out.frames / rate if rate else 0.0

    def speech_to_speech(self, audio: Iterable[bytes], *, source: str, target: str = "",
                         sample_rate_hertz: int = 16000,
                         voice: str = "", timeout: float | None = None,
                         ) -> Iterator[pipeline_pb.StreamingSpeechToSpeechResponse]:
        """Live 16-bit PCM speech in `source`, events out as they happen: transcripts (interim and final),
        the translation into `target` of each final utterance, and its synthesized audio chunks.
        With no `target`, each utterance is spoken again in `source` (no translation step)."""
        requests = _requests.speech_to_speech(audio, Pcm(b"", sample_rate_hertz).audio_config(), source, target,
                                              voice)
        return self.pipeline.streaming_speech_to_speech(requests, timeout=timeout)

