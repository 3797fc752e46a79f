from ai4vc.asr.v1 import asr_service_pb2 as _asr_service_pb2
from ai4vc.audio.v1 import audio_pb2 as _audio_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from ai4vc.tts.v1 import tts_service_pb2 as _tts_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunPipelineRequest(_message.Message):
    __slots__ = ("tasks", "input")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[PipelineTask]
    input: PipelineInput
    def __init__(self, tasks: _Optional[_Iterable[_Union[PipelineTask, _Mapping]]] = ..., input: _Optional[_Union[PipelineInput, _Mapping]] = ...) -> None: ...

class PipelineTask(_message.Message):
    __slots__ = ("asr", "translation", "tts")
    ASR_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    TTS_FIELD_NUMBER: _ClassVar[int]
    asr: _asr_service_pb2.RecognitionConfig
    translation: TranslationConfig
    tts: SynthesisConfig
    def __init__(self, asr: _Optional[_Union[_asr_service_pb2.RecognitionConfig, _Mapping]] = ..., translation: _Optional[_Union[TranslationConfig, _Mapping]] = ..., tts: _Optional[_Union[SynthesisConfig, _Mapping]] = ...) -> None: ...

class TranslationConfig(_message.Message):
    __slots__ = ("source_language_code", "target_language_code", "model")
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    source_language_code: str
    target_language_code: str
    model: str
    def __init__(self, source_language_code: _Optional[str] = ..., target_language_code: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class SynthesisConfig(_message.Message):
    __slots__ = ("voice", "audio_config")
    VOICE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    voice: _tts_service_pb2.VoiceSelectionParams
    audio_config: _tts_service_pb2.AudioOutputConfig
    def __init__(self, voice: _Optional[_Union[_tts_service_pb2.VoiceSelectionParams, _Mapping]] = ..., audio_config: _Optional[_Union[_tts_service_pb2.AudioOutputConfig, _Mapping]] = ...) -> None: ...

class PipelineInput(_message.Message):
    __slots__ = ("audio", "text")
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    audio: AudioInput
    text: TextInput
    def __init__(self, audio: _Optional[_Union[AudioInput, _Mapping]] = ..., text: _Optional[_Union[TextInput, _Mapping]] = ...) -> None: ...

class AudioInput(_message.Message):
    __slots__ = ("content", "audio_config")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    audio_config: _audio_pb2.AudioConfig
    def __init__(self, content: _Optional[bytes] = ..., audio_config: _Optional[_Union[_audio_pb2.AudioConfig, _Mapping]] = ...) -> None: ...

class TextInput(_message.Message):
    __slots__ = ("text", "language_code")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    text: str
    language_code: str
    def __init__(self, text: _Optional[str] = ..., language_code: _Optional[str] = ...) -> None: ...

class RunPipelineResponse(_message.Message):
    __slots__ = ("outputs",)
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    outputs: _containers.RepeatedCompositeFieldContainer[TaskOutput]
    def __init__(self, outputs: _Optional[_Iterable[_Union[TaskOutput, _Mapping]]] = ...) -> None: ...

class TaskOutput(_message.Message):
    __slots__ = ("task_index", "transcript", "translation", "audio")
    TASK_INDEX_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    task_index: int
    transcript: TranscriptOutput
    translation: TranslationOutput
    audio: SynthesisOutput
    def __init__(self, task_index: _Optional[int] = ..., transcript: _Optional[_Union[TranscriptOutput, _Mapping]] = ..., translation: _Optional[_Union[TranslationOutput, _Mapping]] = ..., audio: _Optional[_Union[SynthesisOutput, _Mapping]] = ...) -> None: ...

class TranscriptOutput(_message.Message):
    __slots__ = ("transcript", "language_code", "results", "model")
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    transcript: str
    language_code: str
    results: _containers.RepeatedCompositeFieldContainer[_asr_service_pb2.SpeechRecognitionResult]
    model: str
    def __init__(self, transcript: _Optional[str] = ..., language_code: _Optional[str] = ..., results: _Optional[_Iterable[_Union[_asr_service_pb2.SpeechRecognitionResult, _Mapping]]] = ..., model: _Optional[str] = ...) -> None: ...

class TranslationOutput(_message.Message):
    __slots__ = ("translated_text", "source_language_code", "target_language_code", "model")
    TRANSLATED_TEXT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    translated_text: str
    source_language_code: str
    target_language_code: str
    model: str
    def __init__(self, translated_text: _Optional[str] = ..., source_language_code: _Optional[str] = ..., target_language_code: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class SynthesisOutput(_message.Message):
    __slots__ = ("audio_content", "audio_config", "audio_duration", "voice_name")
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_DURATION_FIELD_NUMBER: _ClassVar[int]
    VOICE_NAME_FIELD_NUMBER: _ClassVar[int]
    audio_content: bytes
    audio_config: _tts_service_pb2.AudioOutputConfig
    audio_duration: _duration_pb2.Duration
    voice_name: str
    def __init__(self, audio_content: _Optional[bytes] = ..., audio_config: _Optional[_Union[_tts_service_pb2.AudioOutputConfig, _Mapping]] = ..., audio_duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., voice_name: _Optional[str] = ...) -> None: ...

class StreamingSpeechToSpeechConfig(_message.Message):
    __slots__ = ("recognition_config", "target_language_code", "translation_model", "voice", "audio_config")
    RECOGNITION_CONFIG_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_MODEL_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    recognition_config: _asr_service_pb2.StreamingRecognitionConfig
    target_language_code: str
    translation_model: str
    voice: _tts_service_pb2.VoiceSelectionParams
    audio_config: _tts_service_pb2.AudioOutputConfig
    def __init__(self, recognition_config: _Optional[_Union[_asr_service_pb2.StreamingRecognitionConfig, _Mapping]] = ..., target_language_code: _Optional[str] = ..., translation_model: _Optional[str] = ..., voice: _Optional[_Union[_tts_service_pb2.VoiceSelectionParams, _Mapping]] = ..., audio_config: _Optional[_Union[_tts_service_pb2.AudioOutputConfig, _Mapping]] = ...) -> None: ...

class StreamingSpeechToSpeechRequest(_message.Message):
    __slots__ = ("streaming_config", "audio")
    STREAMING_CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    streaming_config: StreamingSpeechToSpeechConfig
    audio: bytes
    def __init__(self, streaming_config: _Optional[_Union[StreamingSpeechToSpeechConfig, _Mapping]] = ..., audio: _Optional[bytes] = ...) -> None: ...

class StreamingSpeechToSpeechResponse(_message.Message):
    __slots__ = ("utterance_index", "transcript", "translation", "audio")
    UTTERANCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    utterance_index: int
    transcript: StreamingTranscript
    translation: TranslationOutput
    audio: SynthesizedAudioChunk
    def __init__(self, utterance_index: _Optional[int] = ..., transcript: _Optional[_Union[StreamingTranscript, _Mapping]] = ..., translation: _Optional[_Union[TranslationOutput, _Mapping]] = ..., audio: _Optional[_Union[SynthesizedAudioChunk, _Mapping]] = ...) -> None: ...

class StreamingTranscript(_message.Message):
    __slots__ = ("transcript", "is_final", "stability", "language_code", "result_end_offset")
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    STABILITY_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    RESULT_END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    transcript: str
    is_final: bool
    stability: float
    language_code: str
    result_end_offset: _duration_pb2.Duration
    def __init__(self, transcript: _Optional[str] = ..., is_final: bool = ..., stability: _Optional[float] = ..., language_code: _Optional[str] = ..., result_end_offset: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class SynthesizedAudioChunk(_message.Message):
    __slots__ = ("audio_content", "audio_offset", "audio_config", "voice_name")
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_OFFSET_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    VOICE_NAME_FIELD_NUMBER: _ClassVar[int]
    audio_content: bytes
    audio_offset: _duration_pb2.Duration
    audio_config: _tts_service_pb2.AudioOutputConfig
    voice_name: str
    def __init__(self, audio_content: _Optional[bytes] = ..., audio_offset: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., audio_config: _Optional[_Union[_tts_service_pb2.AudioOutputConfig, _Mapping]] = ..., voice_name: _Optional[str] = ...) -> None: ...
