from ai4vc.audio.v1 import audio_pb2 as _audio_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SsmlVoiceGender(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SSML_VOICE_GENDER_UNSPECIFIED: _ClassVar[SsmlVoiceGender]
    SSML_VOICE_GENDER_MALE: _ClassVar[SsmlVoiceGender]
    SSML_VOICE_GENDER_FEMALE: _ClassVar[SsmlVoiceGender]
    SSML_VOICE_GENDER_NEUTRAL: _ClassVar[SsmlVoiceGender]

class TextNormalization(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEXT_NORMALIZATION_UNSPECIFIED: _ClassVar[TextNormalization]
    TEXT_NORMALIZATION_NONE: _ClassVar[TextNormalization]
    TEXT_NORMALIZATION_NUMBERS: _ClassVar[TextNormalization]
    TEXT_NORMALIZATION_GRAMMAR: _ClassVar[TextNormalization]
SSML_VOICE_GENDER_UNSPECIFIED: SsmlVoiceGender
SSML_VOICE_GENDER_MALE: SsmlVoiceGender
SSML_VOICE_GENDER_FEMALE: SsmlVoiceGender
SSML_VOICE_GENDER_NEUTRAL: SsmlVoiceGender
TEXT_NORMALIZATION_UNSPECIFIED: TextNormalization
TEXT_NORMALIZATION_NONE: TextNormalization
TEXT_NORMALIZATION_NUMBERS: TextNormalization
TEXT_NORMALIZATION_GRAMMAR: TextNormalization

class SynthesisInput(_message.Message):
    __slots__ = ("text", "ssml", "enable_text_normalization")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SSML_FIELD_NUMBER: _ClassVar[int]
    ENABLE_TEXT_NORMALIZATION_FIELD_NUMBER: _ClassVar[int]
    text: str
    ssml: str
    enable_text_normalization: bool
    def __init__(self, text: _Optional[str] = ..., ssml: _Optional[str] = ..., enable_text_normalization: bool = ...) -> None: ...

class VoiceSelectionParams(_message.Message):
    __slots__ = ("language_code", "name", "ssml_gender")
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SSML_GENDER_FIELD_NUMBER: _ClassVar[int]
    language_code: str
    name: str
    ssml_gender: SsmlVoiceGender
    def __init__(self, language_code: _Optional[str] = ..., name: _Optional[str] = ..., ssml_gender: _Optional[_Union[SsmlVoiceGender, str]] = ...) -> None: ...

class AudioOutputConfig(_message.Message):
    __slots__ = ("encoding", "sample_rate_hertz", "speaking_rate", "pitch_semitones", "volume_gain_db")
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    SPEAKING_RATE_FIELD_NUMBER: _ClassVar[int]
    PITCH_SEMITONES_FIELD_NUMBER: _ClassVar[int]
    VOLUME_GAIN_DB_FIELD_NUMBER: _ClassVar[int]
    encoding: _audio_pb2.AudioEncoding
    sample_rate_hertz: int
    speaking_rate: float
    pitch_semitones: float
    volume_gain_db: float
    def __init__(self, encoding: _Optional[_Union[_audio_pb2.AudioEncoding, str]] = ..., sample_rate_hertz: _Optional[int] = ..., speaking_rate: _Optional[float] = ..., pitch_semitones: _Optional[float] = ..., volume_gain_db: _Optional[float] = ...) -> None: ...

class SynthesizeRequest(_message.Message):
    __slots__ = ("input", "voice", "audio_config")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    input: SynthesisInput
    voice: VoiceSelectionParams
    audio_config: AudioOutputConfig
    def __init__(self, input: _Optional[_Union[SynthesisInput, _Mapping]] = ..., voice: _Optional[_Union[VoiceSelectionParams, _Mapping]] = ..., audio_config: _Optional[_Union[AudioOutputConfig, _Mapping]] = ...) -> None: ...

class SynthesizeResponse(_message.Message):
    __slots__ = ("audio_content", "audio_config", "audio_duration", "voice_name", "normalized_text")
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_DURATION_FIELD_NUMBER: _ClassVar[int]
    VOICE_NAME_FIELD_NUMBER: _ClassVar[int]
    NORMALIZED_TEXT_FIELD_NUMBER: _ClassVar[int]
    audio_content: bytes
    audio_config: AudioOutputConfig
    audio_duration: _duration_pb2.Duration
    voice_name: str
    normalized_text: str
    def __init__(self, audio_content: _Optional[bytes] = ..., audio_config: _Optional[_Union[AudioOutputConfig, _Mapping]] = ..., audio_duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., voice_name: _Optional[str] = ..., normalized_text: _Optional[str] = ...) -> None: ...

class StreamingSynthesizeRequest(_message.Message):
    __slots__ = ("input", "voice", "audio_config")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    input: SynthesisInput
    voice: VoiceSelectionParams
    audio_config: AudioOutputConfig
    def __init__(self, input: _Optional[_Union[SynthesisInput, _Mapping]] = ..., voice: _Optional[_Union[VoiceSelectionParams, _Mapping]] = ..., audio_config: _Optional[_Union[AudioOutputConfig, _Mapping]] = ...) -> None: ...

class StreamingSynthesizeResponse(_message.Message):
    __slots__ = ("audio_content", "audio_offset", "audio_config", "voice_name")
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_OFFSET_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    VOICE_NAME_FIELD_NUMBER: _ClassVar[int]
    audio_content: bytes
    audio_offset: _duration_pb2.Duration
    audio_config: AudioOutputConfig
    voice_name: str
    def __init__(self, audio_content: _Optional[bytes] = ..., audio_offset: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., audio_config: _Optional[_Union[AudioOutputConfig, _Mapping]] = ..., voice_name: _Optional[str] = ...) -> None: ...

class StreamingSynthesisConfig(_message.Message):
    __slots__ = ("voice", "audio_config", "enable_text_normalization")
    VOICE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    ENABLE_TEXT_NORMALIZATION_FIELD_NUMBER: _ClassVar[int]
    voice: VoiceSelectionParams
    audio_config: AudioOutputConfig
    enable_text_normalization: bool
    def __init__(self, voice: _Optional[_Union[VoiceSelectionParams, _Mapping]] = ..., audio_config: _Optional[_Union[AudioOutputConfig, _Mapping]] = ..., enable_text_normalization: bool = ...) -> None: ...

class BidiStreamingSynthesizeRequest(_message.Message):
    __slots__ = ("streaming_config", "text")
    STREAMING_CONFIG_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    streaming_config: StreamingSynthesisConfig
    text: str
    def __init__(self, streaming_config: _Optional[_Union[StreamingSynthesisConfig, _Mapping]] = ..., text: _Optional[str] = ...) -> None: ...

class BidiStreamingSynthesizeResponse(_message.Message):
    __slots__ = ("audio_content", "audio_offset", "audio_config", "voice_name", "sentence_text")
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_OFFSET_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    VOICE_NAME_FIELD_NUMBER: _ClassVar[int]
    SENTENCE_TEXT_FIELD_NUMBER: _ClassVar[int]
    audio_content: bytes
    audio_offset: _duration_pb2.Duration
    audio_config: AudioOutputConfig
    voice_name: str
    sentence_text: str
    def __init__(self, audio_content: _Optional[bytes] = ..., audio_offset: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., audio_config: _Optional[_Union[AudioOutputConfig, _Mapping]] = ..., voice_name: _Optional[str] = ..., sentence_text: _Optional[str] = ...) -> None: ...

class ListVoicesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "language_code")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    language_code: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., language_code: _Optional[str] = ...) -> None: ...

class ListVoicesResponse(_message.Message):
    __slots__ = ("voices", "next_page_token")
    VOICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    voices: _containers.RepeatedCompositeFieldContainer[Voice]
    next_page_token: str
    def __init__(self, voices: _Optional[_Iterable[_Union[Voice, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Voice(_message.Message):
    __slots__ = ("name", "language_codes", "ssml_gender", "natural_sample_rate_hertz", "supports_streaming", "supports_ssml", "backend", "text_normalization")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    SSML_GENDER_FIELD_NUMBER: _ClassVar[int]
    NATURAL_SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_STREAMING_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_SSML_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    TEXT_NORMALIZATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    language_codes: _containers.RepeatedScalarFieldContainer[str]
    ssml_gender: SsmlVoiceGender
    natural_sample_rate_hertz: int
    supports_streaming: bool
    supports_ssml: bool
    backend: str
    text_normalization: TextNormalization
    def __init__(self, name: _Optional[str] = ..., language_codes: _Optional[_Iterable[str]] = ..., ssml_gender: _Optional[_Union[SsmlVoiceGender, str]] = ..., natural_sample_rate_hertz: _Optional[int] = ..., supports_streaming: bool = ..., supports_ssml: bool = ..., backend: _Optional[str] = ..., text_normalization: _Optional[_Union[TextNormalization, str]] = ...) -> None: ...
