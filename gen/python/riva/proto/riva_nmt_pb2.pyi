from riva.proto import riva_common_pb2 as _riva_common_pb2
from riva.proto import riva_audio_pb2 as _riva_audio_pb2
from riva.proto import riva_asr_pb2 as _riva_asr_pb2
from riva.proto import riva_tts_pb2 as _riva_tts_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StreamingTranslateSpeechToSpeechConfig(_message.Message):
    __slots__ = ("asr_config", "tts_config", "translation_config")
    ASR_CONFIG_FIELD_NUMBER: _ClassVar[int]
    TTS_CONFIG_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_CONFIG_FIELD_NUMBER: _ClassVar[int]
    asr_config: _riva_asr_pb2.StreamingRecognitionConfig
    tts_config: SynthesizeSpeechConfig
    translation_config: TranslationConfig
    def __init__(self, asr_config: _Optional[_Union[_riva_asr_pb2.StreamingRecognitionConfig, _Mapping]] = ..., tts_config: _Optional[_Union[SynthesizeSpeechConfig, _Mapping]] = ..., translation_config: _Optional[_Union[TranslationConfig, _Mapping]] = ...) -> None: ...

class StreamingTranslateSpeechToSpeechRequest(_message.Message):
    __slots__ = ("config", "audio_content", "id")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    config: StreamingTranslateSpeechToSpeechConfig
    audio_content: bytes
    id: _riva_common_pb2.RequestId
    def __init__(self, config: _Optional[_Union[StreamingTranslateSpeechToSpeechConfig, _Mapping]] = ..., audio_content: _Optional[bytes] = ..., id: _Optional[_Union[_riva_common_pb2.RequestId, _Mapping]] = ...) -> None: ...

class TranslationConfig(_message.Message):
    __slots__ = ("source_language_code", "target_language_code", "model_name", "dnt_phrases")
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    DNT_PHRASES_FIELD_NUMBER: _ClassVar[int]
    source_language_code: str
    target_language_code: str
    model_name: str
    dnt_phrases: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, source_language_code: _Optional[str] = ..., target_language_code: _Optional[str] = ..., model_name: _Optional[str] = ..., dnt_phrases: _Optional[_Iterable[str]] = ...) -> None: ...

class SynthesizeSpeechConfig(_message.Message):
    __slots__ = ("encoding", "sample_rate_hz", "voice_name", "language_code", "prosody_rate", "prosody_pitch", "prosody_volume")
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    VOICE_NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    PROSODY_RATE_FIELD_NUMBER: _ClassVar[int]
    PROSODY_PITCH_FIELD_NUMBER: _ClassVar[int]
    PROSODY_VOLUME_FIELD_NUMBER: _ClassVar[int]
    encoding: _riva_audio_pb2.AudioEncoding
    sample_rate_hz: int
    voice_name: str
    language_code: str
    prosody_rate: str
    prosody_pitch: str
    prosody_volume: str
    def __init__(self, encoding: _Optional[_Union[_riva_audio_pb2.AudioEncoding, str]] = ..., sample_rate_hz: _Optional[int] = ..., voice_name: _Optional[str] = ..., language_code: _Optional[str] = ..., prosody_rate: _Optional[str] = ..., prosody_pitch: _Optional[str] = ..., prosody_volume: _Optional[str] = ...) -> None: ...

class StreamingTranslateSpeechToSpeechResponse(_message.Message):
    __slots__ = ("speech", "id")
    SPEECH_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    speech: _riva_tts_pb2.SynthesizeSpeechResponse
    id: _riva_common_pb2.RequestId
    def __init__(self, speech: _Optional[_Union[_riva_tts_pb2.SynthesizeSpeechResponse, _Mapping]] = ..., id: _Optional[_Union[_riva_common_pb2.RequestId, _Mapping]] = ...) -> None: ...

class StreamingTranslateSpeechToTextRequest(_message.Message):
    __slots__ = ("config", "audio_content", "id")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    config: StreamingTranslateSpeechToTextConfig
    audio_content: bytes
    id: _riva_common_pb2.RequestId
    def __init__(self, config: _Optional[_Union[StreamingTranslateSpeechToTextConfig, _Mapping]] = ..., audio_content: _Optional[bytes] = ..., id: _Optional[_Union[_riva_common_pb2.RequestId, _Mapping]] = ...) -> None: ...

class StreamingTranslateSpeechToTextResponse(_message.Message):
    __slots__ = ("results", "id")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_riva_asr_pb2.StreamingRecognitionResult]
    id: _riva_common_pb2.RequestId
    def __init__(self, results: _Optional[_Iterable[_Union[_riva_asr_pb2.StreamingRecognitionResult, _Mapping]]] = ..., id: _Optional[_Union[_riva_common_pb2.RequestId, _Mapping]] = ...) -> None: ...

class StreamingTranslateSpeechToTextConfig(_message.Message):
    __slots__ = ("asr_config", "translation_config")
    ASR_CONFIG_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_CONFIG_FIELD_NUMBER: _ClassVar[int]
    asr_config: _riva_asr_pb2.StreamingRecognitionConfig
    translation_config: TranslationConfig
    def __init__(self, asr_config: _Optional[_Union[_riva_asr_pb2.StreamingRecognitionConfig, _Mapping]] = ..., translation_config: _Optional[_Union[TranslationConfig, _Mapping]] = ...) -> None: ...

class TranslateTextRequest(_message.Message):
    __slots__ = ("texts", "model", "source_language", "target_language", "dnt_phrases", "max_len_variation", "id")
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    DNT_PHRASES_FIELD_NUMBER: _ClassVar[int]
    MAX_LEN_VARIATION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    model: str
    source_language: str
    target_language: str
    dnt_phrases: _containers.RepeatedScalarFieldContainer[str]
    max_len_variation: str
    id: _riva_common_pb2.RequestId
    def __init__(self, texts: _Optional[_Iterable[str]] = ..., model: _Optional[str] = ..., source_language: _Optional[str] = ..., target_language: _Optional[str] = ..., dnt_phrases: _Optional[_Iterable[str]] = ..., max_len_variation: _Optional[str] = ..., id: _Optional[_Union[_riva_common_pb2.RequestId, _Mapping]] = ...) -> None: ...

class Translation(_message.Message):
    __slots__ = ("text", "language")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    text: str
    language: str
    def __init__(self, text: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class TranslateTextResponse(_message.Message):
    __slots__ = ("translations", "id")
    TRANSLATIONS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    translations: _containers.RepeatedCompositeFieldContainer[Translation]
    id: _riva_common_pb2.RequestId
    def __init__(self, translations: _Optional[_Iterable[_Union[Translation, _Mapping]]] = ..., id: _Optional[_Union[_riva_common_pb2.RequestId, _Mapping]] = ...) -> None: ...

class AvailableLanguageRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class AvailableLanguageResponse(_message.Message):
    __slots__ = ("languages",)
    class LanguagePair(_message.Message):
        __slots__ = ("src_lang", "tgt_lang")
        SRC_LANG_FIELD_NUMBER: _ClassVar[int]
        TGT_LANG_FIELD_NUMBER: _ClassVar[int]
        src_lang: _containers.RepeatedScalarFieldContainer[str]
        tgt_lang: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, src_lang: _Optional[_Iterable[str]] = ..., tgt_lang: _Optional[_Iterable[str]] = ...) -> None: ...
    class LanguagesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: AvailableLanguageResponse.LanguagePair
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[AvailableLanguageResponse.LanguagePair, _Mapping]] = ...) -> None: ...
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    languages: _containers.MessageMap[str, AvailableLanguageResponse.LanguagePair]
    def __init__(self, languages: _Optional[_Mapping[str, AvailableLanguageResponse.LanguagePair]] = ...) -> None: ...
