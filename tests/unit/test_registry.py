"""Model registry: reading declared capability from model configs and answering "which model"."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.backends.registry import ModelRegistry, parse_model
from services.common.errors import InvalidArgument, Unavailable


def _config(**params: str) -> dict[str, Any]:
    return {"backend": "python", "max_batch_size": 8,
            "parameters": {k: {"string_value": v} for k, v in params.items()}}


def test_parse_declared_capability() -> None:
    """Languages, pairs, voices, sample rate and streaming come from the config's parameters."""
    info = parse_model("tts", _config(task="tts", voices="hi-male,hi-female,en-female", sample_rate_hertz="22050",
                                      streaming="false", backend_name="espeak-ng"))
    assert info.task == "tts" and info.backend == "espeak-ng" and info.sample_rate_hertz == 22050
    assert [v.name for v in info.voices] == ["hi-male", "hi-female", "en-female"]
    assert info.languages == ("en", "hi") and not info.streaming and info.max_batch_size == 8


def test_decoupled_models_are_streaming() -> None:
    """A decoupled model counts as streaming even without the parameter."""
    config = _config(task="tts") | {"model_transaction_policy": {"decoupled": True}}
    assert parse_model("tts_streaming", config).streaming


def test_transliteration_languages_give_all_pairs() -> None:
    """A transliteration model's language list means every ordered pair of distinct languages."""
    info = parse_model("xlit", _config(task="transliteration", languages="en,hi,ta"))
    assert len(info.language_pairs) == 6
    assert ("en", "hi") in info.language_pairs and ("hi", "hi") not in info.language_pairs


def test_overrides_declare_for_published_repositories() -> None:
    """Overrides stand in for a published config (IndicTrans2's) that declares nothing."""
    info = parse_model("nmt", {"backend": "python"}, {"task": "translation", "language_pairs": "en-hi,hi-en"})
    assert info.task == "translation" and info.language_pairs == (("en", "hi"), ("hi", "en"))


class FakeTriton:
    """In-process fake of TritonAdapter's discovery calls."""

    def __init__(self, models: dict[str, dict[str, Any]]) -> None:
        self.models = models
        self.down = False
        self.index_reads = 0

    async def repository_index(self, timeout_s: float | None = 2.0) -> list[dict[str, Any]]:
        self.index_reads += 1
        if self.down:
            raise Unavailable("down")
        return [{"name": n, "state": "READY"} for n in self.models] + [{"name": "broken", "state": "UNAVAILABLE"}]

    async def model_config(self, model: str, timeout_s: float | None = None) -> dict[str, Any]:
        return self.models[model]


async def test_find_answers_or_names_what_is_available() -> None:
    """find() picks the model serving the request, else INVALID_ARGUMENT listing what is available."""
    fake = FakeTriton({"nmt": _config(task="translation", language_pairs="hi-ur,ur-hi"),
                       "tts": _config(task="tts", voices="hi-male,ta-female")})
    registry = ModelRegistry(fake)  # type: ignore[arg-type]
    assert (await registry.find("translation", language="hi", target="ur")).name == "nmt"
    assert (await registry.find("tts", voice="ta-female")).name == "tts"
    assert [m.name for m in await registry.models()] == ["nmt", "tts"]  # not-ready models are left out
    with pytest.raises(InvalidArgument) as pair:
        await registry.find("translation", language="hi", target="en")
    assert pair.value.reason == "UNSUPPORTED_LANGUAGE_PAIR" and pair.value.metadata["available_pairs"] == "hi-ur,ur-hi"
    with pytest.raises(InvalidArgument) as voice:
        await registry.find("tts", voice="xx-female")
    assert voice.value.reason == "UNKNOWN_VOICE" and "hi-male" in voice.value.metadata["available_voices"]
    with pytest.raises(InvalidArgument) as model:
        await registry.find("tts", model="nope")
    assert model.value.reason == "UNKNOWN_MODEL"


async def test_keeps_last_view_when_triton_goes_away() -> None:
    """Once loaded, a Triton outage keeps the last view; before any load it is UNAVAILABLE."""
    fake = FakeTriton({"nmt": _config(task="translation", language_pairs="hi-ur")})
    fresh = ModelRegistry(fake, refresh_s=0)  # type: ignore[arg-type]
    fake.down = True
    with pytest.raises(Unavailable):
        await fresh.models()
    fake.down = False
    await fresh.models()
    fake.down = True
    assert [m.name for m in await fresh.models()] == ["nmt"]
