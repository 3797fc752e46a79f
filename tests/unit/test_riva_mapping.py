"""The Riva facade's mapping of Riva's messages onto ours and back (services/riva/core.py), and the
WAV header reader it shares with the chassis (services/common/audio.py)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import numpy as np
import pytest
import soundfile
from google.protobuf import duration_pb2

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.audio.v1 import audio_pb2
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from riva.proto import riva_asr_pb2 as rasr
from riva.proto import riva_audio_pb2 as raudio
from riva.proto import riva_nmt_pb2 as rnmt
from riva.proto import riva_tts_pb2 as rtts
from services.common.errors import InvalidArgument
from services.riva import core

E = audio_pb2.AudioEncoding
RE = raudio.AudioEncoding


def wav_bytes(rate: int = 16000, seconds: float = 0.2, subtype: str = "PCM_16", channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    samples = np.zeros((int(rate * seconds), channels), dtype=np.float32)
    soundfile.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def dur(ms: int) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromMilliseconds(ms)
    return value


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def test_recognize_passes_the_audio_on_with_riva_encoding_or_none():
    """Recognize: the bytes go on as they came; no Riva encoding leaves ours unspecified (our ASR reads
    a container header, and refuses headerless audio then), LINEAR_PCM is LINEAR16 at the declared rate."""
    config = rasr.RecognitionConfig(language_code="en-US", sample_rate_hertz=16000, enable_word_time_offsets=True)
    data = wav_bytes()
    ours = core.recognize_request(rasr.RecognizeRequest(config=config, audio=data))
    assert ours.config.audio_config.encoding == E.AUDIO_ENCODING_UNSPECIFIED and ours.content == data
    assert ours.config.language_code == "en-US" and ours.config.enable_word_time_offsets
    config.encoding = RE.LINEAR_PCM
    raw = core.recognize_request(rasr.RecognizeRequest(config=config, audio=b"\0\0" * 160))
    assert (raw.config.audio_config.encoding, raw.config.audio_config.sample_rate_hertz) == (
        E.AUDIO_ENCODING_LINEAR16, 16000)
    default = core.recognize_request(rasr.RecognizeRequest(config=rasr.RecognitionConfig(), audio=data))
    assert default.config.language_code == core.DEFAULT_LANGUAGE


def test_word_boosting_and_verbatim_transcripts_map_onto_ours():
    """Riva's speech_contexts become ours (phrases and boost as sent); verbatim_transcripts turns ITN off,
    its default (false) leaves it on."""
    config = rasr.RecognitionConfig(speech_contexts=[rasr.SpeechContext(phrases=["taj mahal", "agra"], boost=4.0)])
    ours = core.recognize_request(rasr.RecognizeRequest(config=config, audio=wav_bytes())).config
    assert [(list(c.phrases), c.boost) for c in ours.speech_contexts] == [(["taj mahal", "agra"], 4.0)]
    assert ours.HasField("enable_inverse_text_normalization") and ours.enable_inverse_text_normalization
    config.verbatim_transcripts = True
    assert not core.recognize_request(rasr.RecognizeRequest(config=config, audio=wav_bytes())).config \
        .enable_inverse_text_normalization
    assert core.RECOGNIZE_FIELDS("config.speech_contexts[0].boost") == "config.speech_contexts[0].boost"


def test_recognize_refuses_diarization_on_riva_field():
    """Speaker diarization is UNSUPPORTED_FEATURE, named by Riva's field."""
    config = rasr.RecognitionConfig(diarization_config=rasr.SpeakerDiarizationConfig(enable_speaker_diarization=True))
    with pytest.raises(InvalidArgument) as err:
        core.recognize_request(rasr.RecognizeRequest(config=config, audio=wav_bytes()))
    assert (err.value.reason, err.value.field) == (
        "UNSUPPORTED_FEATURE", "config.diarization_config.enable_speaker_diarization")


def test_downstream_fields_are_renamed_into_riva_requests():
    """Our services' field paths map onto the Riva request's (audio_config.* → config.*, voice.name → voice_name)."""
    assert core.RECOGNIZE_FIELDS("config.audio_config.sample_rate_hertz") == "config.sample_rate_hertz"
    assert core.RECOGNIZE_FIELDS("config.language_code") == "config.language_code"
    assert core.RECOGNIZE_FIELDS("content") == "audio"
    assert core.STREAMING_FIELDS("streaming_config.config.audio_config.encoding") == "streaming_config.config.encoding"
    assert core.STREAMING_FIELDS("audio") == "audio_content"
    assert core.SYNTHESIZE_FIELDS("voice.name") == "voice_name"
    assert core.SYNTHESIZE_FIELDS("voice.language_code") == "language_code"
    assert core.SYNTHESIZE_FIELDS("input.text") == "text"
    assert core.SYNTHESIZE_FIELDS("audio_config.sample_rate_hertz") == "sample_rate_hz"
    assert core.TRANSLATE_FIELDS("target_language_code") == "target_language"
    assert core.TRANSLATE_FIELDS("contents[2]") == "texts[2]"


def test_results_carry_words_in_milliseconds_and_the_request_id():
    """Recognize results: words' start/end in ms, audio_processed in seconds, channel 1, Riva's request id echoed."""
    ours = asr_pb.RecognizeResponse(audio_duration=dur(2500), results=[asr_pb.SpeechRecognitionResult(
        language_code="en-US", result_end_offset=dur(2400), alternatives=[asr_pb.SpeechRecognitionAlternative(
            transcript="good morning", confidence=0.8, words=[
                asr_pb.WordInfo(word="good", start_offset=dur(120), end_offset=dur(480), confidence=0.9),
                asr_pb.WordInfo(word="morning", start_offset=dur(500), end_offset=dur(1010))])])])
    answer = core.recognize_response(ours, "req-7")
    (result,) = answer.results
    best = result.alternatives[0]
    assert best.transcript == "good morning" and best.confidence == pytest.approx(0.8)
    assert [(w.word, w.start_time, w.end_time) for w in best.words] == [("good", 120, 480), ("morning", 500, 1010)]
    assert list(best.language_code) == ["en-US"] and result.channel_tag == 1
    assert result.audio_processed == pytest.approx(2.4) and answer.id.value == "req-7"


def test_streaming_results_keep_finality_and_stability_and_drop_events():
    """Streaming: is_final and stability carried over; an answer with no results (a speech event) is dropped."""
    assert core.streaming_response(asr_pb.StreamingRecognizeResponse(
        speech_event_type=asr_pb.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_BEGIN), "") is None
    ours = asr_pb.StreamingRecognizeResponse(audio_processed=dur(1500), results=[asr_pb.StreamingRecognitionResult(
        is_final=False, stability=0.5, alternatives=[asr_pb.SpeechRecognitionAlternative(transcript="good")])])
    answer = core.streaming_response(ours, "")
    assert answer is not None
    (result,) = answer.results
    assert (result.is_final, result.stability, result.alternatives[0].transcript) == (False, 0.5, "good")
    assert result.audio_processed == pytest.approx(1.5)


async def test_stream_audio_is_passed_on_as_it_came_cut_to_size():
    """A Riva stream's bytes, WAV header and all, go on unchanged (our ASR reads the header), cut to
    the chunk size our service takes; the config leaves the encoding to that header."""
    data = wav_bytes(16000, seconds=0.5)
    stream = core.AudioStream(chunks(data[:5], data[5:30], data[30:1000], data[1000:]), max_chunk_bytes=4000)
    sent = [r async for r in stream.requests(asr_pb.StreamingRecognitionConfig())]
    assert sent[0].WhichOneof("streaming_request") == "streaming_config"
    pieces = [r.audio for r in sent[1:]]
    assert b"".join(pieces) == data and max(len(p) for p in pieces) <= 4000
    unspecified = core.audio_config(rasr.RecognitionConfig())
    assert (unspecified.encoding, unspecified.sample_rate_hertz) == (E.AUDIO_ENCODING_UNSPECIFIED, 0)
    declared = core.audio_config(rasr.RecognitionConfig(encoding=RE.MULAW, sample_rate_hertz=8000))
    assert (declared.encoding, declared.sample_rate_hertz) == (E.AUDIO_ENCODING_MULAW, 8000)


def test_synthesis_maps_voice_language_encoding_and_rate():
    """Synthesize: the gender subvoice is dropped from voice_name, LINEAR_PCM is LINEAR16, the rate is kept."""
    request = rtts.SynthesizeSpeechRequest(text="नमस्ते", language_code="hi-IN", voice_name="hi-female.Female",
                                           encoding=RE.LINEAR_PCM, sample_rate_hz=22050)
    ours = core.synthesize_request(request)
    assert (ours.input.text, ours.voice.language_code, ours.voice.name) == ("नमस्ते", "hi-IN", "hi-female")
    assert (ours.audio_config.encoding, ours.audio_config.sample_rate_hertz) == (E.AUDIO_ENCODING_LINEAR16, 22050)
    assert core.voice_name("hi-female") == "hi-female" and core.voice_name("a.b") == "a.b"
    opus = core.synthesis_audio(RE.OGGOPUS, 48000)
    assert opus.encoding == E.AUDIO_ENCODING_OGG_OPUS
    with pytest.raises(InvalidArgument) as err:
        core.synthesize_request(rtts.SynthesizeSpeechRequest(text="x", zero_shot_data=rtts.ZeroShotData(
            audio_prompt=b"RIFF")))
    assert (err.value.reason, err.value.field) == ("UNSUPPORTED_FEATURE", "zero_shot_data.audio_prompt")


def test_voice_listing_fills_language_voice_name_and_subvoices():
    """GetRivaSynthesisConfig: one entry per voice with language_code, voice_name and a gender subvoice."""
    voices = [tts_pb.Voice(name="hi-female", language_codes=["hi"], ssml_gender=tts_pb.SSML_VOICE_GENDER_FEMALE,
                           natural_sample_rate_hertz=22050, backend="espeak"),
              tts_pb.Voice(name="ta-male", language_codes=["ta"], ssml_gender=tts_pb.SSML_VOICE_GENDER_MALE)]
    answer = core.voice_configs(voices, "")
    params = [dict(c.parameters) for c in answer.model_config]
    assert [(p["language_code"], p["voice_name"], p["subvoices"]) for p in params] == [
        ("hi", "hi-female", "Female:0"), ("ta", "ta-male", "Male:0")]
    # What Riva's talk.py --list-voices builds from it names a voice Synthesize accepts.
    full = params[0]["voice_name"] + "." + params[0]["subvoices"].split(":")[0]
    assert core.voice_name(full) == "hi-female"
    assert [c.model_name for c in core.voice_configs(voices, "ta-male").model_config] == ["ta-male"]
    with pytest.raises(InvalidArgument) as err:
        core.voice_configs(voices, "nope")
    assert (err.value.reason, err.value.field) == ("UNKNOWN_VOICE", "model_name")


def test_model_listing_marks_streaming_models_online():
    """GetRivaSpeechRecognitionConfig: streaming models are type "online" with their languages."""
    models = [asr_pb.Model(name="pocketsphinx-en", language_codes=["en-US", "en"], supports_streaming=True,
                           sample_rate_hertz=16000),
              asr_pb.Model(name="batch", language_codes=["hi"], supports_streaming=False)]
    answer = core.model_configs(models, "")
    assert [(c.model_name, c.parameters["type"], c.parameters["language_code"]) for c in answer.model_config] == [
        ("pocketsphinx-en", "online", "en-US,en"), ("batch", "offline", "hi")]
    with pytest.raises(InvalidArgument) as err:
        core.model_configs(models, "missing")
    assert err.value.reason == "UNKNOWN_MODEL"


def test_translation_request_and_pairs():
    """TranslateText maps texts/languages/dnt phrases; language pairs group sources and targets per model."""
    request = rnmt.TranslateTextRequest(texts=["a", "b"], source_language="hi", target_language="ur",
                                        dnt_phrases=["AI4V"], model="apertium")
    request.id.value = "t-1"
    ours = core.translate_request(request)
    assert (list(ours.contents), ours.source_language_code, ours.target_language_code, list(ours.do_not_translate),
            ours.model) == (["a", "b"], "hi", "ur", ["AI4V"], "apertium")
    answer = core.translate_response(nmt_pb.TranslateTextResponse(translations=[
        nmt_pb.Translation(translated_text="x"), nmt_pb.Translation(translated_text="y")]), request)
    assert [(t.text, t.language) for t in answer.translations] == [("x", "ur"), ("y", "ur")]
    assert answer.id.value == "t-1"
    pairs = core.language_pairs([nmt_pb.LanguagePair(source_language_code="hi", target_language_code="ur", model="m"),
                                 nmt_pb.LanguagePair(source_language_code="ur", target_language_code="hi", model="m")],
                                "")
    assert sorted(pairs.languages["m"].src_lang) == ["hi", "ur"] and sorted(pairs.languages["m"].tgt_lang) == [
        "hi", "ur"]
    assert not core.language_pairs([nmt_pb.LanguagePair(model="m")], "other").languages
