"""Request messages the helpers of both clients build (one place, so sync and async agree)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from pathlib import Path

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.audio.v1 import audio_pb2
from ai4vc.pipeline.v1 import pipeline_service_pb2 as pipeline_pb
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb


def recognize(path: Path, language: str, model: str, word_offsets: bool) -> asr_pb.RecognizeRequest:
    """No audio_config: the server reads the file's container header (the header wins over any suffix)."""
    config = asr_pb.RecognitionConfig(language_code=language, model=model, enable_word_time_offsets=word_offsets)
    return asr_pb.RecognizeRequest(config=config, content=path.read_bytes())


def streaming_config(config: audio_pb2.AudioConfig, language: str, model: str,
                     interim_results: bool) -> asr_pb.StreamingRecognizeRequest:
    return asr_pb.StreamingRecognizeRequest(streaming_config=asr_pb.StreamingRecognitionConfig(
        config=asr_pb.RecognitionConfig(language_code=language, model=model, audio_config=config),
        interim_results=interim_results))


def streaming_recognize(audio: Iterable[bytes], config: audio_pb2.AudioConfig, language: str, model: str,
                        interim_results: bool) -> Iterator[asr_pb.StreamingRecognizeRequest]:
    """The config first, then the audio: the only order the server accepts."""
    yield streaming_config(config, language, model, interim_results)
    for chunk in audio:
        if chunk:
            yield asr_pb.StreamingRecognizeRequest(audio=chunk)


async def astreaming_recognize(audio: AsyncIterable[bytes] | Iterable[bytes], config: audio_pb2.AudioConfig,
                               language: str, model: str,
                               interim_results: bool) -> AsyncIterator[asr_pb.StreamingRecognizeRequest]:
    yield streaming_config(config, language, model, interim_results)
    async for chunk in _aiter(audio):
        if chunk:
            yield asr_pb.StreamingRecognizeRequest(audio=chunk)


def _voice(voice: str, language: str) -> tts_pb.VoiceSelectionParams:
    return tts_pb.VoiceSelectionParams(name=voice, language_code=language)


_PCM = tts_pb.AudioOutputConfig(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16)


def synthesize(text: str, voice: str, language: str) -> tts_pb.SynthesizeRequest:
    return tts_pb.SynthesizeRequest(input=tts_pb.SynthesisInput(text=text), voice=_voice(voice, language),
                                    audio_config=tts_pb.AudioOutputConfig(encoding=audio_pb2.AUDIO_ENCODING_WAV))


def streaming_synthesize(text: str, voice: str, language: str) -> tts_pb.StreamingSynthesizeRequest:
    return tts_pb.StreamingSynthesizeRequest(input=tts_pb.SynthesisInput(text=text), voice=_voice(voice, language),
                                             audio_config=_PCM)


def _s2s_config(config: audio_pb2.AudioConfig, source: str, target: str,
                voice: str) -> pipeline_pb.StreamingSpeechToSpeechRequest:
    recognition = asr_pb.StreamingRecognitionConfig(
        config=asr_pb.RecognitionConfig(language_code=source, audio_config=config), interim_results=True)
    return pipeline_pb.StreamingSpeechToSpeechRequest(streaming_config=pipeline_pb.StreamingSpeechToSpeechConfig(
        recognition_config=recognition, target_language_code=target, voice=_voice(voice, target or source),
        audio_config=_PCM))


def speech_to_speech(audio: Iterable[bytes], config: audio_pb2.AudioConfig, source: str, target: str,
                     voice: str) -> Iterator[pipeline_pb.StreamingSpeechToSpeechRequest]:
    yield _s2s_config(config, source, target, voice)
    for chunk in audio:
        if chunk:
            yield pipeline_pb.StreamingSpeechToSpeechRequest(audio=chunk)


async def aspeech_to_speech(audio: AsyncIterable[bytes] | Iterable[bytes], config: audio_pb2.AudioConfig,
                            source: str, target: str,
                            voice: str) -> AsyncIterator[pipeline_pb.StreamingSpeechToSpeechRequest]:
    yield _s2s_config(config, source, target, voice)
    async for chunk in _aiter(audio):
        if chunk:
            yield pipeline_pb.StreamingSpeechToSpeechRequest(audio=chunk)


async def _aiter(source: AsyncIterable[bytes] | Iterable[bytes]) -> AsyncIterator[bytes]:
    if isinstance(source, AsyncIterable):
        async for item in source:
            yield item
    else:
        for item in source:
            yield item
