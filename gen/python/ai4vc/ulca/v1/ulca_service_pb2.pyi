from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LanguageConfig(_message.Message):
    __slots__ = ("source_language", "target_language", "source_script_code", "target_script_code")
    SOURCE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_SCRIPT_CODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_SCRIPT_CODE_FIELD_NUMBER: _ClassVar[int]
    source_language: str
    target_language: str
    source_script_code: str
    target_script_code: str
    def __init__(self, source_language: _Optional[str] = ..., target_language: _Optional[str] = ..., source_script_code: _Optional[str] = ..., target_script_code: _Optional[str] = ...) -> None: ...

class TranscriptionFormat(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: _Optional[str] = ...) -> None: ...

class TaskConfig(_message.Message):
    __slots__ = ("service_id", "language", "audio_format", "sampling_rate", "encoding", "transcription_format", "post_processors", "pre_processors", "gender", "is_sentence", "num_suggestions", "domain", "model_id", "best_token_count")
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FORMAT_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_RATE_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPTION_FORMAT_FIELD_NUMBER: _ClassVar[int]
    POST_PROCESSORS_FIELD_NUMBER: _ClassVar[int]
    PRE_PROCESSORS_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    IS_SENTENCE_FIELD_NUMBER: _ClassVar[int]
    NUM_SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    BEST_TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    service_id: str
    language: LanguageConfig
    audio_format: str
    sampling_rate: int
    encoding: str
    transcription_format: TranscriptionFormat
    post_processors: _containers.RepeatedScalarFieldContainer[str]
    pre_processors: _containers.RepeatedScalarFieldContainer[str]
    gender: str
    is_sentence: bool
    num_suggestions: int
    domain: _containers.RepeatedScalarFieldContainer[str]
    model_id: str
    best_token_count: int
    def __init__(self, service_id: _Optional[str] = ..., language: _Optional[_Union[LanguageConfig, _Mapping]] = ..., audio_format: _Optional[str] = ..., sampling_rate: _Optional[int] = ..., encoding: _Optional[str] = ..., transcription_format: _Optional[_Union[TranscriptionFormat, _Mapping]] = ..., post_processors: _Optional[_Iterable[str]] = ..., pre_processors: _Optional[_Iterable[str]] = ..., gender: _Optional[str] = ..., is_sentence: bool = ..., num_suggestions: _Optional[int] = ..., domain: _Optional[_Iterable[str]] = ..., model_id: _Optional[str] = ..., best_token_count: _Optional[int] = ...) -> None: ...

class ControlConfig(_message.Message):
    __slots__ = ("data_tracking",)
    DATA_TRACKING_FIELD_NUMBER: _ClassVar[int]
    data_tracking: bool
    def __init__(self, data_tracking: bool = ...) -> None: ...

class AudioItem(_message.Message):
    __slots__ = ("audio_content", "audio_uri")
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_URI_FIELD_NUMBER: _ClassVar[int]
    audio_content: bytes
    audio_uri: str
    def __init__(self, audio_content: _Optional[bytes] = ..., audio_uri: _Optional[str] = ...) -> None: ...

class TextItem(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: str
    def __init__(self, source: _Optional[str] = ...) -> None: ...

class TextOutput(_message.Message):
    __slots__ = ("source", "target")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    source: str
    target: str
    def __init__(self, source: _Optional[str] = ..., target: _Optional[str] = ...) -> None: ...

class TransliterationOutput(_message.Message):
    __slots__ = ("source", "target")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    source: str
    target: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, source: _Optional[str] = ..., target: _Optional[_Iterable[str]] = ...) -> None: ...

class TtsAudioConfig(_message.Message):
    __slots__ = ("language", "audio_format", "encoding", "sampling_rate")
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FORMAT_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_RATE_FIELD_NUMBER: _ClassVar[int]
    language: LanguageConfig
    audio_format: str
    encoding: str
    sampling_rate: int
    def __init__(self, language: _Optional[_Union[LanguageConfig, _Mapping]] = ..., audio_format: _Optional[str] = ..., encoding: _Optional[str] = ..., sampling_rate: _Optional[int] = ...) -> None: ...

class ComputeAsrRequest(_message.Message):
    __slots__ = ("config", "audio", "control_config", "service_id")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    CONTROL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    config: TaskConfig
    audio: _containers.RepeatedCompositeFieldContainer[AudioItem]
    control_config: ControlConfig
    service_id: str
    def __init__(self, config: _Optional[_Union[TaskConfig, _Mapping]] = ..., audio: _Optional[_Iterable[_Union[AudioItem, _Mapping]]] = ..., control_config: _Optional[_Union[ControlConfig, _Mapping]] = ..., service_id: _Optional[str] = ...) -> None: ...

class ComputeAsrResponse(_message.Message):
    __slots__ = ("output", "task_type")
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    output: _containers.RepeatedCompositeFieldContainer[TextOutput]
    task_type: str
    def __init__(self, output: _Optional[_Iterable[_Union[TextOutput, _Mapping]]] = ..., task_type: _Optional[str] = ...) -> None: ...

class ComputeTranslationRequest(_message.Message):
    __slots__ = ("config", "input", "control_config", "service_id")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    CONTROL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    config: TaskConfig
    input: _containers.RepeatedCompositeFieldContainer[TextItem]
    control_config: ControlConfig
    service_id: str
    def __init__(self, config: _Optional[_Union[TaskConfig, _Mapping]] = ..., input: _Optional[_Iterable[_Union[TextItem, _Mapping]]] = ..., control_config: _Optional[_Union[ControlConfig, _Mapping]] = ..., service_id: _Optional[str] = ...) -> None: ...

class ComputeTranslationResponse(_message.Message):
    __slots__ = ("output", "task_type")
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    output: _containers.RepeatedCompositeFieldContainer[TextOutput]
    task_type: str
    def __init__(self, output: _Optional[_Iterable[_Union[TextOutput, _Mapping]]] = ..., task_type: _Optional[str] = ...) -> None: ...

class ComputeTransliterationRequest(_message.Message):
    __slots__ = ("config", "input", "control_config", "service_id")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    CONTROL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    config: TaskConfig
    input: _containers.RepeatedCompositeFieldContainer[TextItem]
    control_config: ControlConfig
    service_id: str
    def __init__(self, config: _Optional[_Union[TaskConfig, _Mapping]] = ..., input: _Optional[_Iterable[_Union[TextItem, _Mapping]]] = ..., control_config: _Optional[_Union[ControlConfig, _Mapping]] = ..., service_id: _Optional[str] = ...) -> None: ...

class ComputeTransliterationResponse(_message.Message):
    __slots__ = ("output", "task_type")
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    output: _containers.RepeatedCompositeFieldContainer[TransliterationOutput]
    task_type: str
    def __init__(self, output: _Optional[_Iterable[_Union[TransliterationOutput, _Mapping]]] = ..., task_type: _Optional[str] = ...) -> None: ...

class ComputeTtsRequest(_message.Message):
    __slots__ = ("config", "input", "control_config", "service_id")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    CONTROL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    config: TaskConfig
    input: _containers.RepeatedCompositeFieldContainer[TextItem]
    control_config: ControlConfig
    service_id: str
    def __init__(self, config: _Optional[_Union[TaskConfig, _Mapping]] = ..., input: _Optional[_Iterable[_Union[TextItem, _Mapping]]] = ..., control_config: _Optional[_Union[ControlConfig, _Mapping]] = ..., service_id: _Optional[str] = ...) -> None: ...

class ComputeTtsResponse(_message.Message):
    __slots__ = ("audio", "config", "task_type")
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    audio: _containers.RepeatedCompositeFieldContainer[AudioItem]
    config: TtsAudioConfig
    task_type: str
    def __init__(self, audio: _Optional[_Iterable[_Union[AudioItem, _Mapping]]] = ..., config: _Optional[_Union[TtsAudioConfig, _Mapping]] = ..., task_type: _Optional[str] = ...) -> None: ...

class UlcaPipelineTask(_message.Message):
    __slots__ = ("task_type", "config")
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    task_type: str
    config: TaskConfig
    def __init__(self, task_type: _Optional[str] = ..., config: _Optional[_Union[TaskConfig, _Mapping]] = ...) -> None: ...

class PipelineInputData(_message.Message):
    __slots__ = ("input", "audio")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    input: _containers.RepeatedCompositeFieldContainer[TextItem]
    audio: _containers.RepeatedCompositeFieldContainer[AudioItem]
    def __init__(self, input: _Optional[_Iterable[_Union[TextItem, _Mapping]]] = ..., audio: _Optional[_Iterable[_Union[AudioItem, _Mapping]]] = ...) -> None: ...

class PipelineTaskOutput(_message.Message):
    __slots__ = ("task_type", "output", "audio", "config")
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    task_type: str
    output: _containers.RepeatedCompositeFieldContainer[TextOutput]
    audio: _containers.RepeatedCompositeFieldContainer[AudioItem]
    config: TtsAudioConfig
    def __init__(self, task_type: _Optional[str] = ..., output: _Optional[_Iterable[_Union[TextOutput, _Mapping]]] = ..., audio: _Optional[_Iterable[_Union[AudioItem, _Mapping]]] = ..., config: _Optional[_Union[TtsAudioConfig, _Mapping]] = ...) -> None: ...

class ComputePipelineRequest(_message.Message):
    __slots__ = ("pipeline_tasks", "input_data", "control_config")
    PIPELINE_TASKS_FIELD_NUMBER: _ClassVar[int]
    INPUT_DATA_FIELD_NUMBER: _ClassVar[int]
    CONTROL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    pipeline_tasks: _containers.RepeatedCompositeFieldContainer[UlcaPipelineTask]
    input_data: PipelineInputData
    control_config: ControlConfig
    def __init__(self, pipeline_tasks: _Optional[_Iterable[_Union[UlcaPipelineTask, _Mapping]]] = ..., input_data: _Optional[_Union[PipelineInputData, _Mapping]] = ..., control_config: _Optional[_Union[ControlConfig, _Mapping]] = ...) -> None: ...

class ComputePipelineResponse(_message.Message):
    __slots__ = ("pipeline_response",)
    PIPELINE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    pipeline_response: _containers.RepeatedCompositeFieldContainer[PipelineTaskOutput]
    def __init__(self, pipeline_response: _Optional[_Iterable[_Union[PipelineTaskOutput, _Mapping]]] = ...) -> None: ...

class PipelineRequestConfig(_message.Message):
    __slots__ = ("pipeline_id", "submitter")
    PIPELINE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    pipeline_id: str
    submitter: str
    def __init__(self, pipeline_id: _Optional[str] = ..., submitter: _Optional[str] = ...) -> None: ...

class GetModelsPipelineRequest(_message.Message):
    __slots__ = ("pipeline_tasks", "pipeline_request_config")
    PIPELINE_TASKS_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_REQUEST_CONFIG_FIELD_NUMBER: _ClassVar[int]
    pipeline_tasks: _containers.RepeatedCompositeFieldContainer[UlcaPipelineTask]
    pipeline_request_config: PipelineRequestConfig
    def __init__(self, pipeline_tasks: _Optional[_Iterable[_Union[UlcaPipelineTask, _Mapping]]] = ..., pipeline_request_config: _Optional[_Union[PipelineRequestConfig, _Mapping]] = ...) -> None: ...

class InferenceApiKey(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class PipelineInferenceApiEndPoint(_message.Message):
    __slots__ = ("callback_url", "inference_api_key", "is_sync_api", "is_multilingual_enabled")
    CALLBACK_URL_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_API_KEY_FIELD_NUMBER: _ClassVar[int]
    IS_SYNC_API_FIELD_NUMBER: _ClassVar[int]
    IS_MULTILINGUAL_ENABLED_FIELD_NUMBER: _ClassVar[int]
    callback_url: str
    inference_api_key: InferenceApiKey
    is_sync_api: bool
    is_multilingual_enabled: bool
    def __init__(self, callback_url: _Optional[str] = ..., inference_api_key: _Optional[_Union[InferenceApiKey, _Mapping]] = ..., is_sync_api: bool = ..., is_multilingual_enabled: bool = ...) -> None: ...

class LanguageTargets(_message.Message):
    __slots__ = ("source_language", "target_language_list")
    SOURCE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_LIST_FIELD_NUMBER: _ClassVar[int]
    source_language: str
    target_language_list: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, source_language: _Optional[str] = ..., target_language_list: _Optional[_Iterable[str]] = ...) -> None: ...

class ServiceConfig(_message.Message):
    __slots__ = ("service_id", "model_id", "language")
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    service_id: str
    model_id: str
    language: LanguageConfig
    def __init__(self, service_id: _Optional[str] = ..., model_id: _Optional[str] = ..., language: _Optional[_Union[LanguageConfig, _Mapping]] = ...) -> None: ...

class TaskServices(_message.Message):
    __slots__ = ("task_type", "config")
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    task_type: str
    config: _containers.RepeatedCompositeFieldContainer[ServiceConfig]
    def __init__(self, task_type: _Optional[str] = ..., config: _Optional[_Iterable[_Union[ServiceConfig, _Mapping]]] = ...) -> None: ...

class GetModelsPipelineResponse(_message.Message):
    __slots__ = ("languages", "pipeline_response_config", "pipeline_inference_api_end_point")
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_RESPONSE_CONFIG_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_INFERENCE_API_END_POINT_FIELD_NUMBER: _ClassVar[int]
    languages: _containers.RepeatedCompositeFieldContainer[LanguageTargets]
    pipeline_response_config: _containers.RepeatedCompositeFieldContainer[TaskServices]
    pipeline_inference_api_end_point: PipelineInferenceApiEndPoint
    def __init__(self, languages: _Optional[_Iterable[_Union[LanguageTargets, _Mapping]]] = ..., pipeline_response_config: _Optional[_Iterable[_Union[TaskServices, _Mapping]]] = ..., pipeline_inference_api_end_point: _Optional[_Union[PipelineInferenceApiEndPoint, _Mapping]] = ...) -> None: ...
