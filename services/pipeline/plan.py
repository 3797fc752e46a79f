"""Checks a pipeline before anything runs: the chain must type-check (audio → ASR → text,
text → translation → text, text → TTS → audio) and its languages must connect. Pure logic
on the contract's messages; every problem is an INVALID_ARGUMENT naming the task and field.
"""

from __future__ import annotations

import dataclasses

from ai4vc.pipeline.v1 import pipeline_service_pb2 as pb
from services.common.errors import InvalidArgument, Reason

AUDIO = "audio"
TEXT = "text"
_TAKES = {"asr": AUDIO, "translation": TEXT, "tts": TEXT}
_GIVES = {"asr": TEXT, "translation": TEXT, "tts": AUDIO}


def base_language(code: str) -> str:
    """The language and script of a BCP-47 tag, without region: "hi-IN" → "hi", "hi-Latn-IN" → "hi-latn"."""
    parts = [p for p in code.strip().lower().replace("_", "-").split("-") if p]
    if not parts:
        return ""
    script = [p for p in parts[1:] if len(p) == 4 and p.isalpha()]
    return "-".join(parts[:1] + script[:1])


def same_language(a: str, b: str) -> bool:
    return base_language(a) == base_language(b)


@dataclasses.dataclass(frozen=True)
class Step:
    """One checked task: its kind, config, and the language of the text it receives."""

    index: int
    kind: str  # "asr" | "translation" | "tts"
    task: pb.PipelineTask
    # Language of the text this step receives (translation, tts) or gives (asr); "" if unknown.
    language: str

    @property
    def field(self) -> str:
        return f"tasks[{self.index}].{self.kind}"


def check(request: pb.RunPipelineRequest, max_tasks: int) -> list[Step]:
    """The request's steps, or INVALID_ARGUMENT for a chain that cannot run."""
    if not request.tasks:
        raise InvalidArgument("a pipeline needs at least one task", reason=Reason.INVALID_PIPELINE, field="tasks")
    if len(request.tasks) > max_tasks:
        raise InvalidArgument(f"a pipeline has at most {max_tasks} tasks, got {len(request.tasks)}",
                              reason=Reason.INVALID_PIPELINE, field="tasks")
    source = request.input.WhichOneof("input_source")
    if source is None:
        raise InvalidArgument("input is required: audio or text", reason=Reason.FIELD_REQUIRED, field="input")
    if source == "text" and not request.input.text.text.strip():
        raise InvalidArgument("input.text.text is empty", reason=Reason.FIELD_REQUIRED, field="input.text.text")
    if source == "audio":
        if not request.input.audio.content:
            raise InvalidArgument("input.audio.content is empty", reason=Reason.FIELD_REQUIRED,
                                  field="input.audio.content")
    carrying = AUDIO if source == "audio" else TEXT
    language = request.input.text.language_code if source == "text" else ""
    steps: list[Step] = []
    for index, task in enumerate(request.tasks):
        kind = task.WhichOneof("task")
        if kind is None:
            raise InvalidArgument(f"tasks[{index}] sets no task (asr, translation or tts)",
                                  reason=Reason.FIELD_REQUIRED, field=f"tasks[{index}]")
        if _TAKES[kind] != carrying:
            after = f"tasks[{index - 1}] ({request.tasks[index - 1].WhichOneof('task')})" if index else "the input"
            raise InvalidArgument(
                f"tasks[{index}] ({kind}) takes {_TAKES[kind]} but {after} gives {carrying}",
                reason=Reason.INVALID_PIPELINE, field=f"tasks[{index}]",
                metadata={"task_index": str(index), "expected": _TAKES[kind], "got": carrying})
        _check_languages(index, kind, task, language)
        if kind == "asr":
            received, language = task.asr.language_code, task.asr.language_code
        elif kind == "translation":
            received, language = task.translation.source_language_code or language, \
                task.translation.target_language_code
        else:
            received, language = language or task.tts.voice.language_code, ""
        steps.append(Step(index, kind, task, received))
        carrying = _GIVES[kind]
    return steps


def _check_languages(index: int, kind: str, task: pb.PipelineTask, language: str) -> None:
    """Checks the task's languages against `language`, that of the text it receives ("" unknown)."""
    prefix = f"tasks[{index}].{kind}"
    if kind == "asr":
        if not task.asr.language_code:
            raise InvalidArgument(f"{prefix}.language_code is required", reason=Reason.FIELD_REQUIRED,
                                  field=f"{prefix}.language_code")
        if task.asr.subtitle_formats:
            raise InvalidArgument("subtitle formats are not produced in a pipeline", reason=Reason.UNSUPPORTED_FEATURE,
                                  field=f"{prefix}.subtitle_formats")
        return
    if kind == "translation":
        cfg = task.translation
        if not cfg.target_language_code:
            raise InvalidArgument(f"{prefix}.target_language_code is required", reason=Reason.FIELD_REQUIRED,
                                  field=f"{prefix}.target_language_code")
        if cfg.source_language_code and language and not same_language(cfg.source_language_code, language):
            raise InvalidArgument(
                f"{prefix}.source_language_code is {cfg.source_language_code!r} but the text it receives is in "
                f"{language!r}", reason=Reason.LANGUAGE_MISMATCH, field=f"{prefix}.source_language_code",
                metadata={"task_index": str(index), "expected": language})
        source = cfg.source_language_code or language
        if source and same_language(source, cfg.target_language_code):
            raise InvalidArgument(f"{prefix} translates {source!r} into itself",
                                  reason=Reason.UNSUPPORTED_LANGUAGE_PAIR,
                                  field=f"{prefix}.target_language_code", metadata={"task_index": str(index)})
        return
    voice = task.tts.voice
    if not voice.language_code:
        raise InvalidArgument(f"{prefix}.voice.language_code is required in a pipeline", reason=Reason.FIELD_REQUIRED,
                              field=f"{prefix}.voice.language_code")
    if language and not same_language(voice.language_code, language):
        raise InvalidArgument(
            f"{prefix}.voice.language_code is {voice.language_code!r} but the text it receives is in {language!r}",
            reason=Reason.LANGUAGE_MISMATCH, field=f"{prefix}.voice.language_code",
            metadata={"task_index": str(index), "expected": language})


def check_streaming(config: pb.StreamingSpeechToSpeechConfig) -> tuple[str, str]:
    """(recognition language, target language or "" for none) of a valid stream config."""
    recognition = config.recognition_config.config
    if not recognition.language_code:
        field = "streaming_config.recognition_config.config.language_code"
        raise InvalidArgument(f"{field} is required", reason=Reason.FIELD_REQUIRED, field=field)
    source = recognition.language_code
    target = config.target_language_code
    if target and same_language(target, source):
        target = ""
    spoken = target or source
    if not config.voice.language_code:
        raise InvalidArgument("streaming_config.voice.language_code is required", reason=Reason.FIELD_REQUIRED,
                              field="streaming_config.voice.language_code")
    if not same_language(config.voice.language_code, spoken):
        raise InvalidArgument(
            f"streaming_config.voice.language_code is {config.voice.language_code!r} but the speech to speak is in "
            f"{spoken!r}", reason=Reason.LANGUAGE_MISMATCH, field="streaming_config.voice.language_code",
            metadata={"expected": spoken})
    return source, target
