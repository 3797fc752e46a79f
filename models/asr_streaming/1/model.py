"""Reference streaming ASR model for Triton's Python backend: CMU PocketSphinx, en-US.

Driven by Triton's sequence batcher (see the comment at the top of config.pbtxt): every
request is one audio chunk of one stream, named by its correlation id. Each open stream holds
a decoder in the middle of an utterance; every chunk is fed to it and answered with the
partial hypothesis so far, the END chunk with the final one and its word times.

Two passes: partials come from live decoding, whose feature normalisation starts from the
model's prior and is poor for the first seconds (corpus WER 0.64 on the test sentences). The
final re-decodes the stream's audio, kept as 16-bit PCM, with whole-utterance normalisation,
exactly as asr_am_ensemble does (WER 0.24), at the cost of one decode of the utterance
(about a third of its duration on one core). Streams longer than max_rescore_seconds end on
the live hypothesis instead, and so do all streams when the config's `final_pass` is `live`
(no second pass: the final follows END at once, at the live pass's accuracy). Decoders are
costly to build (about 0.8 s and 80 MB), so closed streams hand theirs back to a pool.

PREPARE_FINAL: that second pass would make the final wait on END, after the caller's
endpointer has already decided. A caller that sees trailing silence begin (the ASR service:
`stream_prepare_final_ms` into it) sends PREPARE_FINAL=1 with a chunk; the model then runs the
second pass over the audio so far and keeps its result. An END that brings no audio after
that chunk is answered with the kept result at once (the live decoder's own end of
utterance is left for when a stream next needs a decoder); any audio after it (speech
resumed) drops the kept result, and END decodes as without a prepare. With the second pass,
live decoders run the forward-tree pass only (no flat-lexicon or best-path pass at their end:
partials are the forward-tree hypothesis either way).

Word boosting: BOOST_PHRASES / BOOST_SCORES on the START request boost phrases for the whole
stream, live decoder and second pass alike (asr_sphinx.Booster); the START response's
BOOST_IGNORED lists the phrases that could not be boosted.
"""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import triton_python_backend_utils as pb_utils
from asr_sphinx import Booster, boost_inputs, decode_text, to_pcm16, unboost_text, words_of
from pocketsphinx import Decoder

_SAMPLE_RATE = 16000
_SEED = 0x5EED  # the same as asr_am_ensemble, so a stream and a unary call dither alike


def _param(config: dict, key: str) -> str:
    return config.get("parameters", {}).get(key, {}).get("string_value", "")


@dataclasses.dataclass
class _Stream:
    decoder: Decoder
    booster: Booster
    language: str
    rng: np.random.Generator
    last_used: float
    pcm: list[np.ndarray] = dataclasses.field(default_factory=list)
    samples: int = 0
    boosts: list[tuple[str, float]] = dataclasses.field(default_factory=list)
    ignored: list[str] = dataclasses.field(default_factory=list)
    # The final prepared by PREPARE_FINAL: (samples it covers, transcript, word times).
    prepared: tuple[int, str, list[dict]] | None = None


class _InvalidChunk(ValueError):
    """A request the caller got wrong; INVALID_ARG for that request only."""


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        self.languages = {code.strip().lower() for code in _param(config, "languages").split(",") if code.strip()}
        if not self.languages:
            raise pb_utils.TritonModelException("parameter 'languages' is empty")
        self.rate = int(_param(config, "sample_rate_hertz") or _SAMPLE_RATE)
        self.max_chunk = int(float(_param(config, "max_chunk_seconds") or 10) * self.rate)
        self.max_rescore = int(float(_param(config, "max_rescore_seconds") or 300) * self.rate)
        final_pass = _param(config, "final_pass") or "rescore"
        if final_pass not in ("rescore", "live"):
            raise pb_utils.TritonModelException(f"parameter 'final_pass' must be rescore or live, got {final_pass!r}")
        if final_pass == "live":
            self.max_rescore = 0
        batching = config.get("sequence_batching", {})
        self.idle_s = int(batching.get("max_sequence_idle_microseconds") or 60_000_000) / 1e6
        # Triton never runs more sequences at once on an instance than it has candidate slots.
        self.capacity = int(batching.get("oldest", {}).get("max_candidate_sequences") or 8)
        self.streams: dict[int, _Stream] = {}
        # With a second pass, live decoders only ever give partials (the forward-tree pass):
        # their own end-of-utterance passes (flat lexicon, best path) would cost END time for a
        # result nobody reads. Streams past max_rescore_seconds end on that forward-tree result.
        self.live_passes = final_pass == "live"
        first = self._new_decoder(live=True)
        self.pool: list[Booster] = [Booster(first)]  # one ready, so the first stream starts fast
        # Streams that ended on a prepared final: their decoders are still mid-utterance, ended
        # (and pooled) when a stream next needs a decoder, so that END does not wait for it.
        self.ending: list[_Stream] = []
        self.frame_rate = int(first.config["frate"])
        # The second pass runs on a decoder of its own that only ever decodes whole utterances,
        # as asr_am_ensemble's does: a live decoder's noise estimate would leak into it.
        self.rescorer = Booster(self._new_decoder(live=False))
        # A decoder carries its cepstral mean and noise estimate from one utterance to the
        # next; every stream starts from the model's own, so a pooled decoder leaks nothing
        # of the stream it served before into the next one.
        self.initial_cmn = first.get_cmn(False)

    def _new_decoder(self, live: bool = False) -> Decoder:
        if live and not self.live_passes:
            return Decoder(loglevel="FATAL", samprate=self.rate, fwdflat=False, bestpath=False)
        return Decoder(loglevel="FATAL", samprate=self.rate)

    def _reclaim(self) -> None:
        """Ends the utterances of streams answered from a prepared final and pools their decoders."""
        while self.ending:
            stream = self.ending.pop()
            try:
                stream.decoder.end_utt()
            except RuntimeError:
                pass  # already ended
            self._release(stream)

    def _close(self, corrid: int) -> None:
        stream = self.streams.pop(corrid, None)
        if stream is None:
            return
        try:
            stream.decoder.end_utt()
        except RuntimeError:
            pass  # already ended
        self._release(stream)

    def _release(self, stream: _Stream) -> None:
        """Hands a closed stream's decoder back to the pool, on its default search (a boosted
        search holds a copy of the language model: it is not kept for the next stream)."""
        stream.booster.reset(drop=True)
        if len(self.pool) < self.capacity:
            self.pool.append(stream.booster)

    def _open(self, corrid: int, language: str, boosts: list[tuple[str, float]]) -> _Stream:
        self._close(corrid)  # a START on an open id restarts that stream
        now = time.monotonic()
        # Triton drops idle sequences without telling the model: drop their decoders too, and
        # if the instance is still full, the least recently used stream is one Triton dropped.
        for stale in [cid for cid, s in self.streams.items() if now - s.last_used > self.idle_s]:
            self._close(stale)
        while len(self.streams) >= self.capacity:
            self._close(min(self.streams, key=lambda cid: self.streams[cid].last_used))
        self._reclaim()
        booster = self.pool.pop() if self.pool else Booster(self._new_decoder(live=True))
        ignored = booster.apply(boosts)
        decoder = booster.decoder
        decoder.reinit_feat()  # the noise estimate too, as asr_am_ensemble does
        decoder.set_cmn(self.initial_cmn)
        decoder.start_utt()
        stream = _Stream(decoder, booster, language, np.random.default_rng(_SEED), now, boosts=boosts,
                         ignored=ignored)
        self.streams[corrid] = stream
        return stream

    def _chunk(self, request: object) -> tuple[int, bool, bool, bool, str, np.ndarray, list[tuple[str, float]]]:
        corrid = int(_scalar(request, "CORRID"))
        start = bool(_scalar(request, "START"))
        end = bool(_scalar(request, "END"))
        prepare_t = pb_utils.get_input_tensor_by_name(request, "PREPARE_FINAL")
        prepare = prepare_t is not None and bool(prepare_t.as_numpy().reshape(-1)[0])
        audio = pb_utils.get_input_tensor_by_name(request, "AUDIO_CHUNK").as_numpy()
        langs = pb_utils.get_input_tensor_by_name(request, "LANG_ID").as_numpy().reshape(-1)
        if audio.ndim != 2 or audio.shape[0] != 1 or len(langs) != 1:
            raise _InvalidChunk(f"one chunk per request: AUDIO_CHUNK [1, N], got {list(audio.shape)}")
        samples = audio[0]
        if len(samples) > self.max_chunk:
            raise _InvalidChunk(f"a chunk of {len(samples)} samples is longer than the {self.max_chunk} accepted")
        if not np.isfinite(samples).all():
            raise _InvalidChunk("AUDIO_CHUNK holds NaN or infinite samples")
        # Boosting is fixed by the START request; later requests' are ignored.
        boosts = boost_inputs(request, pb_utils.get_input_tensor_by_name, 1)[0] if start else []
        return corrid, start, end, prepare, decode_text(langs[0]).strip().lower(), samples, boosts

    def _rescore(self, stream: _Stream) -> tuple[str, list[dict]] | None:
        """The second pass over the stream's audio so far (see the module docstring), boosted
        alike; None where the stream ends on the live hypothesis instead."""
        if not stream.pcm or stream.samples > self.max_rescore:
            return None
        self.rescorer.apply(stream.boosts)
        final = self.rescorer.decoder
        final.reinit_feat()
        final.set_cmn(self.initial_cmn)
        final.start_utt()
        final.process_raw(np.concatenate(stream.pcm).tobytes(), False, True)
        final.end_utt()
        hyp = final.hyp()
        return (unboost_text(hyp.hypstr) if hyp is not None else ""), words_of(final, self.frame_rate)

    def _step(self, request: object) -> object:
        try:
            corrid, start, end, prepare, language, samples, boosts = self._chunk(request)
        except (ValueError, UnicodeDecodeError, AttributeError) as exc:
            # END closes the stream even when its chunk is bad, so no decoder is left behind.
            try:
                if bool(_scalar(request, "END")):
                    self._close(int(_scalar(request, "CORRID")))
            except (ValueError, AttributeError):
                pass
            return _error(str(exc), pb_utils.TritonError.INVALID_ARG)
        if start:
            if language not in self.languages:
                return _error(f"language '{language}' is not served (serves {','.join(sorted(self.languages))})",
                              pb_utils.TritonError.INVALID_ARG)
            stream = self._open(corrid, language, boosts)
        else:
            stream = self.streams.get(corrid)
            if stream is None:
                return _error(f"no open stream {corrid}: the first chunk must carry START (or the stream was "
                              f"idle over {self.idle_s:.0f} s)", pb_utils.TritonError.INVALID_ARG)
            if language != stream.language:
                if end:
                    self._close(corrid)
                return _error(f"LANG_ID '{language}' differs from the stream's '{stream.language}'",
                              pb_utils.TritonError.INVALID_ARG)
        stream.last_used = time.monotonic()
        try:
            if len(samples):
                pcm = to_pcm16(samples, stream.rng)
                stream.decoder.process_raw(pcm.tobytes(), False, False)
                stream.samples += len(pcm)
                stream.prepared = None  # audio after the prepare: the kept final is stale
                if stream.samples <= self.max_rescore:
                    stream.pcm.append(pcm)
                else:
                    stream.pcm.clear()
            ignored = json.dumps(stream.ignored) if start or end else "[]"
            if not end:
                if prepare:
                    rescored = self._rescore(stream)
                    stream.prepared = (stream.samples, *rescored) if rescored is not None else None
                hyp = stream.decoder.hyp()
                return _response(unboost_text(hyp.hypstr) if hyp is not None else "", False, "[]", ignored)
            if stream.prepared is not None and stream.prepared[0] == stream.samples:
                text, words = stream.prepared[1], stream.prepared[2]
                self.streams.pop(corrid, None)
                stream.pcm = []
                self.ending.append(stream)  # its decoder is ended later (see initialize)
                return _response(text, True, json.dumps(words), ignored)
            stream.decoder.end_utt()
            rescored = self._rescore(stream)
            if rescored is not None:
                text, words = rescored
            else:
                hyp = stream.decoder.hyp()
                text = unboost_text(hyp.hypstr) if hyp is not None else ""
                words = words_of(stream.decoder, self.frame_rate)
            self.streams.pop(corrid, None)
            self._release(stream)
            return _response(text, True, json.dumps(words), ignored)
        except RuntimeError as exc:  # the decoder's failure, not the caller's: close the stream
            self.streams.pop(corrid, None)
            return _error(f"recognition failed: {exc}", pb_utils.TritonError.INTERNAL)

    def execute(self, requests: list) -> list:
        # Requests of one stream arrive in order; each is answered on its own.
        return [self._step(request) for request in requests]

    def finalize(self) -> None:
        self.streams.clear()
        self.ending.clear()
        self.pool.clear()


def _scalar(request: object, name: str) -> object:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        raise ValueError(f"missing control input {name} (is the sequence batcher configured?)")
    return tensor.as_numpy().reshape(-1)[0]


def _response(transcript: str, final: bool, word_times: str, ignored: str) -> object:
    return pb_utils.InferenceResponse(output_tensors=[
        pb_utils.Tensor("TRANSCRIPT", np.array([[transcript.encode("utf-8")]], dtype=np.object_)),
        pb_utils.Tensor("IS_FINAL", np.array([[final]], dtype=np.bool_)),
        pb_utils.Tensor("WORD_TIMES", np.array([[word_times.encode("utf-8")]], dtype=np.object_)),
        pb_utils.Tensor("BOOST_IGNORED", np.array([[ignored.encode("utf-8")]], dtype=np.object_)),
    ])


def _error(message: str, code: int) -> object:
    return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(message, code))

