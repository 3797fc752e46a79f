from ai4vc.audio.v1 import audio_pb2 as _audio_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubtitleFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBTITLE_FORMAT_UNSPECIFIED: _ClassVar[SubtitleFormat]
    SUBTITLE_FORMAT_SRT: _ClassVar[SubtitleFormat]
    SUBTITLE_FORMAT_WEBVTT: _ClassVar[SubtitleFormat]

class SpeechEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPEECH_EVENT_TYPE_UNSPECIFIED: _ClassVar[SpeechEventType]
    SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_BEGIN: _ClassVar[SpeechEventType]
    SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_END: _ClassVar[SpeechEventType]
    SPEECH_EVENT_TYPE_END_OF_SINGLE_UTTERANCE: _ClassVar[SpeechEventType]
    SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_TIMEOUT: _ClassVar[SpeechEventType]
SUBTITLE_FORMAT_UNSPECIFIED: SubtitleFormat
SUBTITLE_FORMAT_SRT: SubtitleFormat
SUBTITLE_FORMAT_WEBVTT: SubtitleFormat
SPEECH_EVENT_TYPE_UNSPECIFIED: SpeechEventType
SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_BEGIN: SpeechEventType
SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_END: SpeechEventType
SPEECH_EVENT_TYPE_END_OF_SINGLE_UTTERANCE: SpeechEventType
SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_TIMEOUT: SpeechEventType

class RecognitionConfig(_message.Message):
    __slots__ = ("language_code", "model", "audio_config", "max_alternatives", "enable_word_time_offsets", "enable_word_confidence", "enable_automatic_punctuation", "profanity_filter", "subtitle_formats", "store_audio", "enable_inverse_text_normalization", "speech_contexts")
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    MAX_ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    ENABLE_WORD_TIME_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    ENABLE_WORD_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ENABLE_AUTOMATIC_PUNCTUATION_FIELD_NUMBER: _ClassVar[int]
    PROFANITY_FILTER_FIELD_NUMBER: _ClassVar[int]
    SUBTITLE_FORMATS_FIELD_NUMBER: _ClassVar[int]
    STORE_AUDIO_FIELD_NUMBER: _ClassVar[int]
    ENABLE_INVERSE_TEXT_NORMALIZATION_FIELD_NUMBER: _ClassVar[int]
    SPEECH_CONTEXTS_FIELD_NUMBER: _ClassVar[int]
    language_code: str
    model: str
    audio_config: _audio_pb2.AudioConfig
    max_alternatives: int
    enable_word_time_offsets: bool
    enable_word_confidence: bool
    enable_automatic_punctuation: bool
    profanity_filter: bool
    subtitle_formats: _containers.RepeatedScalarFieldContainer[SubtitleFormat]
    store_audio: bool
    enable_inverse_text_normalization: bool
    speech_contexts: _containers.RepeatedCompositeFieldContainer[SpeechContext]
    def __init__(self, language_code: _Optional[str] = ..., model: _Optional[str] = ..., audio_config: _Optional[_Union[_audio_pb2.AudioConfig, _Mapping]] = ..., max_alternatives: _Optional[int] = ..., enable_word_time_offsets: bool = ..., enable_word_confidence: bool = ..., enable_automatic_punctuation: bool = ..., profanity_filter: bool = ..., subtitle_formats: _Optional[_Iterable[_Union[SubtitleFormat, str]]] = ..., store_audio: bool = ..., enable_inverse_text_normalization: bool = ..., speech_contexts: _Optional[_Iterable[_Union[SpeechContext, _Mapping]]] = ...) -> None: ...

class SpeechContext(_message.Message):
    __slots__ = ("phrases", "boost")
    PHRASES_FIELD_NUMBER: _ClassVar[int]
    BOOST_FIELD_NUMBER: _ClassVar[int]
    phrases: _containers.RepeatedScalarFieldContainer[str]
    boost: float
    def __init__(self, phrases: _Optional[_Iterable[str]] = ..., boost: _Optional[float] = ...) -> None: ...

class RecognitionWarning(_message.Message):
    __slots__ = ("reason", "field", "message")
    REASON_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    reason: str
    field: str
    message: str
    def __init__(self, reason: _Optional[str] = ..., field: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RecognizeRequest(_message.Message):
    __slots__ = ("config", "content")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    config: RecognitionConfig
    content: bytes
    def __init__(self, config: _Optional[_Union[RecognitionConfig, _Mapping]] = ..., content: _Optional[bytes] = ...) -> None: ...

class RecognizeResponse(_message.Message):
    __slots__ = ("results", "audio_duration", "model", "subtitles", "warnings")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_DURATION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SUBTITLES_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SpeechRecognitionResult]
    audio_duration: _duration_pb2.Duration
    model: str
    subtitles: _containers.RepeatedCompositeFieldContainer[Subtitle]
    warnings: _containers.RepeatedCompositeFieldContainer[RecognitionWarning]
    def __init__(self, results: _Optional[_Iterable[_Union[SpeechRecognitionResult, _Mapping]]] = ..., audio_duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., model: _Optional[str] = ..., subtitles: _Optional[_Iterable[_Union[Subtitle, _Mapping]]] = ..., warnings: _Optional[_Iterable[_Union[RecognitionWarning, _Mapping]]] = ...) -> None: ...

class SpeechRecognitionResult(_message.Message):
    __slots__ = ("alternatives", "language_code", "result_end_offset")
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    RESULT_END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    alternatives: _containers.RepeatedCompositeFieldContainer[SpeechRecognitionAlternative]
    language_code: str
    result_end_offset: _duration_pb2.Duration
    def __init__(self, alternatives: _Optional[_Iterable[_Union[SpeechRecognitionAlternative, _Mapping]]] = ..., language_code: _Optional[str] = ..., result_end_offset: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class SpeechRecognitionAlternative(_message.Message):
    __slots__ = ("transcript", "confidence", "words", "inverse_text_normalized", "spoken_transcript")
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    INVERSE_TEXT_NORMALIZED_FIELD_NUMBER: _ClassVar[int]
    SPOKEN_TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    transcript: str
    confidence: float
    words: _containers.RepeatedCompositeFieldContainer[WordInfo]
    inverse_text_normalized: bool
    spoken_transcript: str
    def __init__(self, transcript: _Optional[str] = ..., confidence: _Optional[float] = ..., words: _Optional[_Iterable[_Union[WordInfo, _Mapping]]] = ..., inverse_text_normalized: bool = ..., spoken_transcript: _Optional[str] = ...) -> None: ...

class WordInfo(_message.Message):
    __slots__ = ("start_offset", "end_offset", "word", "confidence", "spoken_word")
    START_OFFSET_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    WORD_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    SPOKEN_WORD_FIELD_NUMBER: _ClassVar[int]
    start_offset: _duration_pb2.Duration
    end_offset: _duration_pb2.Duration
    word: str
    confidence: float
    spoken_word: str
    def __init__(self, start_offset: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., end_offset: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., word: _Optional[str] = ..., confidence: _Optional[float] = ..., spoken_word: _Optional[str] = ...) -> None: ...

class Subtitle(_message.Message):
    __slots__ = ("format", "content")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    format: SubtitleFormat
    content: str
    def __init__(self, format: _Optional[_Union[SubtitleFormat, str]] = ..., content: _Optional[str] = ...) -> None: ...

class StreamingRecognitionConfig(_message.Message):
    __slots__ = ("config", "interim_results", "single_utterance", "enable_voice_activity_events", "endpointing", "interim_inverse_text_normalization")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    INTERIM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    SINGLE_UTTERANCE_FIELD_NUMBER: _ClassVar[int]
    ENABLE_VOICE_ACTIVITY_EVENTS_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTING_FIELD_NUMBER: _ClassVar[int]
    INTERIM_INVERSE_TEXT_NORMALIZATION_FIELD_NUMBER: _ClassVar[int]
    config: RecognitionConfig
    interim_results: bool
    single_utterance: bool
    enable_voice_activity_events: bool
    endpointing: EndpointingConfig
    interim_inverse_text_normalization: bool
    def __init__(self, config: _Optional[_Union[RecognitionConfig, _Mapping]] = ..., interim_results: bool = ..., single_utterance: bool = ..., enable_voice_activity_events: bool = ..., endpointing: _Optional[_Union[EndpointingConfig, _Mapping]] = ..., interim_inverse_text_normalization: bool = ...) -> None: ...

class EndpointingConfig(_message.Message):
    __slots__ = ("speech_start_timeout", "end_of_utterance_silence", "max_utterance_duration")
    SPEECH_START_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    END_OF_UTTERANCE_SILENCE_FIELD_NUMBER: _ClassVar[int]
    MAX_UTTERANCE_DURATION_FIELD_NUMBER: _ClassVar[int]
    speech_start_timeout: _duration_pb2.Duration
    end_of_utterance_silence: _duration_pb2.Duration
    max_utterance_duration: _duration_pb2.Duration
    def __init__(self, speech_start_timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., end_of_utterance_silence: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., max_utterance_duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StreamingRecognizeRequest(_message.Message):
    __slots__ = ("streaming_config", "audio")
    STREAMING_CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    streaming_config: StreamingRecognitionConfig
    audio: bytes
    def __init__(self, streaming_config: _Optional[_Union[StreamingRecognitionConfig, _Mapping]] = ..., audio: _Optional[bytes] = ...) -> None: ...

class StreamingRecognizeResponse(_message.Message):
    __slots__ = ("results", "speech_event_type", "speech_event_offset", "audio_processed", "warnings")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SPEECH_EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SPEECH_EVENT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    AUDIO_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[StreamingRecognitionResult]
    speech_event_type: SpeechEventType
    speech_event_offset: _duration_pb2.Duration
    audio_processed: _duration_pb2.Duration
    warnings: _containers.RepeatedCompositeFieldContainer[RecognitionWarning]
    def __init__(self, results: _Optional[_Iterable[_Union[StreamingRecognitionResult, _Mapping]]] = ..., speech_event_type: _Optional[_Union[SpeechEventType, str]] = ..., speech_event_offset: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., audio_processed: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., warnings: _Optional[_Iterable[_Union[RecognitionWarning, _Mapping]]] = ...) -> None: ...

class StreamingRecognitionResult(_message.Message):
    __slots__ = ("alternatives", "is_final", "stability", "result_end_offset", "utterance_index", "language_code")
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    STABILITY_FIELD_NUMBER: _ClassVar[int]
    RESULT_END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    alternatives: _containers.RepeatedCompositeFieldContainer[SpeechRecognitionAlternative]
    is_final: bool
    stability: float
    result_end_offset: _duration_pb2.Duration
    utterance_index: int
    language_code: str
    def __init__(self, alternatives: _Optional[_Iterable[_Union[SpeechRecognitionAlternative, _Mapping]]] = ..., is_final: bool = ..., stability: _Optional[float] = ..., result_end_offset: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., utterance_index: _Optional[int] = ..., language_code: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "language_code")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    language_code: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., language_code: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("name", "description", "language_codes", "supports_streaming", "sample_rate_hertz", "supports_automatic_punctuation", "supports_word_time_offsets", "backend", "inverse_text_normalization_language_codes", "supports_word_boosting")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_STREAMING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_AUTOMATIC_PUNCTUATION_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_WORD_TIME_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    INVERSE_TEXT_NORMALIZATION_LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_WORD_BOOSTING_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    language_codes: _containers.RepeatedScalarFieldContainer[str]
    supports_streaming: bool
    sample_rate_hertz: int
    supports_automatic_punctuation: bool
    supports_word_time_offsets: bool
    backend: str
    inverse_text_normalization_language_codes: _containers.RepeatedScalarFieldContainer[str]
    supports_word_boosting: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., language_codes: _Optional[_Iterable[str]] = ..., supports_streaming: bool = ..., sample_rate_hertz: _Optional[int] = ..., supports_automatic_punctuation: bool = ..., supports_word_time_offsets: bool = ..., backend: _Optional[str] = ..., inverse_text_normalization_language_codes: _Optional[_Iterable[str]] = ..., supports_word_boosting: bool = ...) -> None: ...
