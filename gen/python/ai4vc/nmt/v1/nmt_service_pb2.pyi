from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TranslateTextRequest(_message.Message):
    __slots__ = ("contents", "source_language_code", "target_language_code", "model", "do_not_translate", "include_round_trip_chrf")
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DO_NOT_TRANSLATE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ROUND_TRIP_CHRF_FIELD_NUMBER: _ClassVar[int]
    contents: _containers.RepeatedScalarFieldContainer[str]
    source_language_code: str
    target_language_code: str
    model: str
    do_not_translate: _containers.RepeatedScalarFieldContainer[str]
    include_round_trip_chrf: bool
    def __init__(self, contents: _Optional[_Iterable[str]] = ..., source_language_code: _Optional[str] = ..., target_language_code: _Optional[str] = ..., model: _Optional[str] = ..., do_not_translate: _Optional[_Iterable[str]] = ..., include_round_trip_chrf: bool = ...) -> None: ...

class TranslateTextResponse(_message.Message):
    __slots__ = ("translations",)
    TRANSLATIONS_FIELD_NUMBER: _ClassVar[int]
    translations: _containers.RepeatedCompositeFieldContainer[Translation]
    def __init__(self, translations: _Optional[_Iterable[_Union[Translation, _Mapping]]] = ...) -> None: ...

class Translation(_message.Message):
    __slots__ = ("translated_text", "detected_language_code", "model", "signals")
    TRANSLATED_TEXT_FIELD_NUMBER: _ClassVar[int]
    DETECTED_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    translated_text: str
    detected_language_code: str
    model: str
    signals: QualitySignals
    def __init__(self, translated_text: _Optional[str] = ..., detected_language_code: _Optional[str] = ..., model: _Optional[str] = ..., signals: _Optional[_Union[QualitySignals, _Mapping]] = ...) -> None: ...

class QualitySignals(_message.Message):
    __slots__ = ("coverage", "round_trip_chrf", "round_trip_model")
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    ROUND_TRIP_CHRF_FIELD_NUMBER: _ClassVar[int]
    ROUND_TRIP_MODEL_FIELD_NUMBER: _ClassVar[int]
    coverage: float
    round_trip_chrf: float
    round_trip_model: str
    def __init__(self, coverage: _Optional[float] = ..., round_trip_chrf: _Optional[float] = ..., round_trip_model: _Optional[str] = ...) -> None: ...

class DetectLanguageRequest(_message.Message):
    __slots__ = ("content",)
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    content: str
    def __init__(self, content: _Optional[str] = ...) -> None: ...

class DetectLanguageResponse(_message.Message):
    __slots__ = ("languages",)
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    languages: _containers.RepeatedCompositeFieldContainer[DetectedLanguage]
    def __init__(self, languages: _Optional[_Iterable[_Union[DetectedLanguage, _Mapping]]] = ...) -> None: ...

class DetectedLanguage(_message.Message):
    __slots__ = ("language_code", "confidence")
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    language_code: str
    confidence: float
    def __init__(self, language_code: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class TransliterateRequest(_message.Message):
    __slots__ = ("contents", "source_language_code", "target_language_code", "is_word_level", "top_k")
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    IS_WORD_LEVEL_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    contents: _containers.RepeatedScalarFieldContainer[str]
    source_language_code: str
    target_language_code: str
    is_word_level: bool
    top_k: int
    def __init__(self, contents: _Optional[_Iterable[str]] = ..., source_language_code: _Optional[str] = ..., target_language_code: _Optional[str] = ..., is_word_level: bool = ..., top_k: _Optional[int] = ...) -> None: ...

class TransliterateResponse(_message.Message):
    __slots__ = ("transliterations",)
    TRANSLITERATIONS_FIELD_NUMBER: _ClassVar[int]
    transliterations: _containers.RepeatedCompositeFieldContainer[Transliteration]
    def __init__(self, transliterations: _Optional[_Iterable[_Union[Transliteration, _Mapping]]] = ...) -> None: ...

class Transliteration(_message.Message):
    __slots__ = ("candidates",)
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, candidates: _Optional[_Iterable[str]] = ...) -> None: ...

class ListLanguagePairsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "source_language_code", "target_language_code")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    source_language_code: str
    target_language_code: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., source_language_code: _Optional[str] = ..., target_language_code: _Optional[str] = ...) -> None: ...

class ListLanguagePairsResponse(_message.Message):
    __slots__ = ("language_pairs", "next_page_token")
    LANGUAGE_PAIRS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    language_pairs: _containers.RepeatedCompositeFieldContainer[LanguagePair]
    next_page_token: str
    def __init__(self, language_pairs: _Optional[_Iterable[_Union[LanguagePair, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class LanguagePair(_message.Message):
    __slots__ = ("source_language_code", "target_language_code", "model", "backend")
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    source_language_code: str
    target_language_code: str
    model: str
    backend: str
    def __init__(self, source_language_code: _Optional[str] = ..., target_language_code: _Optional[str] = ..., model: _Optional[str] = ..., backend: _Optional[str] = ...) -> None: ...

class ListTransliterationPairsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "source_language_code", "target_language_code")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    source_language_code: str
    target_language_code: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., source_language_code: _Optional[str] = ..., target_language_code: _Optional[str] = ...) -> None: ...

class ListTransliterationPairsResponse(_message.Message):
    __slots__ = ("transliteration_pairs", "next_page_token")
    TRANSLITERATION_PAIRS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    transliteration_pairs: _containers.RepeatedCompositeFieldContainer[TransliterationPair]
    next_page_token: str
    def __init__(self, transliteration_pairs: _Optional[_Iterable[_Union[TransliterationPair, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class TransliterationPair(_message.Message):
    __slots__ = ("source_language_code", "target_language_code", "supports_candidates", "backend")
    SOURCE_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    source_language_code: str
    target_language_code: str
    supports_candidates: bool
    backend: str
    def __init__(self, source_language_code: _Optional[str] = ..., target_language_code: _Optional[str] = ..., supports_candidates: bool = ..., backend: _Optional[str] = ...) -> None: ...
