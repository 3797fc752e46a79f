"""The SDK's stream resume (`stream_recognize(..., resume=True)`): a live transcription whose stream
ends UNAVAILABLE or reset goes on in a new stream with the config and the audio no final result
covered, and its results count from the start of the caller's audio — against a fake AsrService
(a real gRPC server on a free port whose StreamingRecognize is a stand-in, not the service)."""

from __future__ import annotations

import threading
from concurrent import futures

import grpc
import pytest

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.sdk import AsyncClient, Client, errors

RATE = 16000
SECOND = RATE * 2  # bytes of one second of 16 kHz mono LINEAR16
CHUNK = SECOND // 10  # 100 ms


def audio(seconds: int) -> list[bytes]:
    """100 ms chunks; every byte of second k is k, so a result can say which audio it heard."""
    return [bytes([k]) * CHUNK for k in range(seconds) for _ in range(10)]


class FakeAsr:
    """StreamingRecognize stand-in: a final result per whole second of audio heard (transcript
    "s<k>", k the value of that second's bytes, utterance index and end offset counted in this
    stream), an interim one per chunk; the stream number `die_on` ends with `die_code` once it
    has heard `die_after` bytes."""

    def __init__(self, die_on: set[int], die_after: int = SECOND * 5 // 2,
                 die_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
                 die_message: str = "upstream connect error or disconnect/reset before headers") -> None:
        self.die_on, self.die_after, self.die_code, self.die_message = die_on, die_after, die_code, die_message
        self.lock = threading.Lock()
        self.streams: list[tuple[asr_pb.StreamingRecognitionConfig, bytes]] = []
        handler = grpc.method_handlers_generic_handler("ai4vc.asr.v1.AsrService", {
            "StreamingRecognize": grpc.stream_stream_rpc_method_handler(
                self._stream, request_deserializer=asr_pb.StreamingRecognizeRequest.FromString,
                response_serializer=lambda m: m.SerializeToString())})
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[handler])
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _stream(self, requests, context):
        first = next(requests)
        heard = bytearray()
        with self.lock:
            number = len(self.streams)
            self.streams.append((first.streaming_config, b""))
        utterance = 0
        for request in requests:
            heard += request.audio
            with self.lock:
                self.streams[number] = (first.streaming_config, bytes(heard))
            if number in self.die_on and len(heard) >= self.die_after:
                context.abort(self.die_code, self.die_message)
            yield asr_pb.StreamingRecognizeResponse(results=[asr_pb.StreamingRecognitionResult(
                alternatives=[asr_pb.SpeechRecognitionAlternative(transcript="…")], utterance_index=utterance)])
            while len(heard) >= (utterance + 1) * SECOND:
                start = utterance * SECOND
                word = asr_pb.WordInfo(word=f"s{heard[start]}")
                word.start_offset.FromNanoseconds(utterance * 10**9)
                word.end_offset.FromNanoseconds((utterance + 1) * 10**9)
                result = asr_pb.StreamingRecognitionResult(
                    alternatives=[asr_pb.SpeechRecognitionAlternative(transcript=f"s{heard[start]}", words=[word])],
                    is_final=True, utterance_index=utterance)
                result.result_end_offset.FromNanoseconds((utterance + 1) * 10**9)
                yield asr_pb.StreamingRecognizeResponse(results=[result])
                utterance += 1

    def stop(self) -> None:
        self.server.stop(0)


@pytest.fixture
def fake_asr():
    servers: list[FakeAsr] = []

    def make(**kwargs) -> FakeAsr:
        servers.append(FakeAsr(**kwargs))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


def finals(results) -> list[tuple[str, int, float, float]]:
    return [(r.alternatives[0].transcript, r.utterance_index, r.result_end_offset.ToNanoseconds() / 1e9,
             r.alternatives[0].words[0].start_offset.ToNanoseconds() / 1e9) for r in results if r.is_final]


EXPECTED = [(f"s{k}", k, float(k + 1), float(k)) for k in range(6)]


def test_stream_ending_unavailable_resumes_from_the_last_final_with_offsets_shifted(fake_asr):
    """The first stream dies after 2.5 s of audio: a second one gets the config again and the audio
    from 2 s on (what no final covered), and the caller sees one transcription of all 6 s."""
    server = fake_asr(die_on={0})
    slept: list[float] = []
    with Client(f"127.0.0.1:{server.port}", api_key="k", sleep=slept.append) as client:
        results = list(client.stream_recognize(audio(6), language="hi", resume=True))
    assert finals(results) == EXPECTED
    assert len(server.streams) == 2 and len(slept) == 1
    config, resent = server.streams[1]
    assert config.config.language_code == "hi" and config.config.audio_config.sample_rate_hertz == RATE
    assert resent == b"".join(audio(6))[2 * SECOND:]


def test_rst_stream_resumes_and_the_resume_budget_is_kept(fake_asr):
    """INTERNAL "RST_STREAM" resumes like UNAVAILABLE; past max_resumes the error reaches the caller."""
    reset = dict(die_code=grpc.StatusCode.INTERNAL, die_message="Received RST_STREAM with error code 2")
    server = fake_asr(die_on={0}, **reset)
    with Client(f"127.0.0.1:{server.port}", api_key="k", sleep=lambda _: None) as client:
        assert finals(client.stream_recognize(audio(6), language="hi", resume=True)) == EXPECTED
    always = fake_asr(die_on={0, 1, 2}, die_after=CHUNK)
    with Client(f"127.0.0.1:{always.port}", api_key="k", sleep=lambda _: None) as client:
        with pytest.raises(errors.Unavailable):
            list(client.stream_recognize(audio(3), language="hi", resume=True, max_resumes=2))
    assert len(always.streams) == 3


def test_without_resume_or_for_a_bad_request_the_stream_error_is_raised(fake_asr):
    """resume=False keeps streams unretried; INVALID_ARGUMENT is never resumed."""
    server = fake_asr(die_on={0})
    with Client(f"127.0.0.1:{server.port}", api_key="k", sleep=lambda _: None) as client:
        with pytest.raises(errors.Unavailable):
            list(client.stream_recognize(audio(6), language="hi"))
    bad = fake_asr(die_on={0}, die_code=grpc.StatusCode.INVALID_ARGUMENT, die_message="AUDIO_CHUNK_TOO_LARGE")
    with Client(f"127.0.0.1:{bad.port}", api_key="k", sleep=lambda _: None) as client:
        with pytest.raises(errors.InvalidArgument):
            list(client.stream_recognize(audio(6), language="hi", resume=True))
    assert len(server.streams) == 1 and len(bad.streams) == 1


async def test_async_client_resumes_the_same_way(fake_asr):
    """AsyncClient: the same resumed transcription from an async audio source."""
    server = fake_asr(die_on={0})

    async def source():
        for chunk in audio(6):
            yield chunk

    async def no_sleep(_: float) -> None:
        return None

    async with AsyncClient(f"127.0.0.1:{server.port}", api_key="k", sleep=no_sleep) as client:
        results = [r async for r in client.stream_recognize(source(), language="hi", resume=True)]
    assert finals(results) == EXPECTED
    assert len(server.streams) == 2
    assert server.streams[1][1] == b"".join(audio(6))[2 * SECOND:]
