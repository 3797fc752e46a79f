"""Resuming a live transcription on another replica (`stream_recognize(..., resume=True)`).

A stream is never retried as such (a half-sent stream cannot be replayed blindly), but a live
transcription of raw PCM can be resumed: the audio not yet covered by a final result is kept,
and when the stream ends UNAVAILABLE (its replica went away) or with an HTTP/2 RST_STREAM (gRPC
reports INTERNAL "RST_STREAM"), a new stream is opened on the same channel (the edge or the
client's round robin picks a live replica), the config is sent again, then the kept audio, then
the rest. Results of the new stream are shifted so that offsets and utterance indexes count from
the start of the caller's audio, as if one stream had run. Interim results of the lost part are
sent again; final results never twice.

The state is shared by the sync client (whose request iterator runs on a gRPC thread, hence the
lock) and the async one.
"""

from __future__ import annotations

import threading
from collections import deque

import grpc

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.sdk.errors import Ai4vcError


def resumable(error: Ai4vcError) -> bool:
    """A stream that ended this way died with its server or connection, not for its request."""
    if error.code == grpc.StatusCode.UNAVAILABLE:
        return True
    return error.code == grpc.StatusCode.INTERNAL and "RST_STREAM" in error.message


class StreamResume:
    """The audio of one live transcription not yet covered by a final result, and the shift of
    the current stream's results. Positions are byte offsets into the caller's audio."""

    def __init__(self, sample_rate_hertz: int, channels: int, max_resumes: int) -> None:
        if max_resumes < 0:
            raise ValueError("max_resumes must be 0 or more")
        self.bytes_per_s = sample_rate_hertz * channels * 2  # LINEAR16
        self._frame = 2 * channels
        self.max_resumes = max_resumes
        self.resumes = 0
        self.attempt = 0
        self.exhausted = False  # the caller's audio has ended
        self._lock = threading.Lock()
        self._pending: deque[tuple[int, bytes]] = deque()  # (start, chunk), in order
        self._taken = 0  # bytes read from the caller's audio
        self._covered = 0  # bytes covered by final results
        self.base = 0  # where the current stream's audio starts
        self._utterance_base = 0
        self._next_utterance = 0

    def take(self, chunk: bytes) -> None:
        """A chunk read from the caller's audio; kept until a final result covers it."""
        with self._lock:
            self._pending.append((self._taken, chunk))
            self._taken += len(chunk)

    def unsent(self, sent: int) -> tuple[int, bytes] | None:
        """The next kept audio from byte `sent` on (start, bytes), or None when all was sent."""
        with self._lock:
            for start, chunk in self._pending:
                if start + len(chunk) > sent:
                    return (sent, chunk[sent - start:]) if start < sent else (start, chunk)
        return None

    def shifted(self, result: asr_pb.StreamingRecognitionResult) -> asr_pb.StreamingRecognitionResult:
        """`result` of the current stream, its offsets and utterance index counted from the start of
        the caller's audio; a final one releases the audio it covers."""
        if self.base == 0 and self._utterance_base == 0:
            out = result
        else:
            out = asr_pb.StreamingRecognitionResult()
            out.CopyFrom(result)
            shift_ns = round(self.base * 1e9 / self.bytes_per_s)
            if out.HasField("result_end_offset"):
                out.result_end_offset.FromNanoseconds(out.result_end_offset.ToNanoseconds() + shift_ns)
            for alternative in out.alternatives:
                for word in alternative.words:
                    for offset in (word.start_offset, word.end_offset):
                        offset.FromNanoseconds(offset.ToNanoseconds() + shift_ns)
            out.utterance_index += self._utterance_base
        if out.is_final:
            end = round(out.result_end_offset.ToNanoseconds() * self.bytes_per_s / 1e9)
            self._release(end - end % self._frame)
            self._next_utterance = max(self._next_utterance, out.utterance_index + 1)
        return out

    def _release(self, end: int) -> None:
        with self._lock:
            self._covered = max(self._covered, min(end, self._taken))
            while self._pending:
                start, chunk = self._pending[0]
                if start + len(chunk) <= self._covered:
                    self._pending.popleft()
                elif start < self._covered:
                    self._pending[0] = (self._covered, chunk[self._covered - start:])
                    break
                else:
                    break

    def resume(self, error: Ai4vcError) -> bool:
        """Whether to open a new stream after `error`; if so the next stream starts at the first
        byte no final result covered."""
        if not resumable(error) or self.resumes >= self.max_resumes:
            return False
        self.resumes += 1
        with self._lock:
            self.attempt += 1
            self.base = self._covered
        self._utterance_base = self._next_utterance
        return True
