"""NMT domain core: language codes, page tokens, do-not-translate, validation, batching, pairs."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from services.common.backends.registry import ModelInfo, ModelRegistry
from services.common.errors import InvalidArgument
from services.common.languages import normalize_language
from services.common.paging import decode_page_token, encode_page_token
from services.nmt.app import registry_overrides
from services.nmt.core import NmtCore, _protect, _restore, _without_placeholders, chrf, reports
from services.nmt.settings import NmtSettings

HINDI = "नमस्ते दुनिया"
URDU = "یہ ایک کتاب ہے"


class FakeTriton:
    """In-process fake of TritonAdapter: serves hi-ur/ur-hi, max batch 2, and wraps each text in [src>tgt:...]."""

    def __init__(self, pairs: str = "hi-ur,ur-hi", max_batch_size: int = 2) -> None:
        self.config = {
            "max_batch_size": max_batch_size,
            "parameters": {"task": {"string_value": "translation"}, "language_pairs": {"string_value": pairs},
                           "backend_name": {"string_value": "fake"}},
        }
        self.calls: list[dict[str, Any]] = []
        self.config_reads = 0

    async def model_config(self, model: str, timeout_s: float | None = None) -> dict[str, Any]:
        self.config_reads += 1
        return self.config

    async def model_ready(self, model: str, timeout_s: float = 1.0) -> bool:
        return True

    async def repository_index(self, timeout_s: float | None = 2.0) -> list[dict[str, Any]]:
        return [{"name": "nmt", "version": "1", "state": "READY"}]

    async def infer(self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str], *,
                    timeout_s: float | None = None, request_id: str = "") -> dict[str, np.ndarray]:
        texts = [v.decode() for v in inputs["INPUT_TEXT"].reshape(-1)]
        sources = [v.decode() for v in inputs["INPUT_LANGUAGE_ID"].reshape(-1)]
        targets = [v.decode() for v in inputs["OUTPUT_LANGUAGE_ID"].reshape(-1)]
        self.calls.append({"model": model, "texts": texts, "sources": sources, "targets": targets,
                           "shape": inputs["INPUT_TEXT"].shape, "request_id": request_id})
        out = [f"[{s}>{t}:{text}]".encode() for text, s, t in zip(texts, sources, targets, strict=True)]
        return {"OUTPUT_TEXT": np.array(out, dtype=np.object_).reshape(len(out), 1)}


def _core(**overrides: Any) -> tuple[NmtCore, FakeTriton]:
    fake = FakeTriton()
    settings = NmtSettings(**overrides)
    return NmtCore(settings, fake, ModelRegistry(fake, settings.catalog_refresh_s, registry_overrides(settings))), fake  # type: ignore[arg-type]


async def _rejected(coro: Any) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        await coro
    return info.value


# -- language codes -------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "primary"), [("hi-IN", "hi"), ("HI", "hi"), (" ur ", "ur"), ("kok_IN", "kok"),
                                               ("sat-Olck-IN", "sat"), ("", "")])
def test_normalize_language_keeps_primary_subtag(code: str, primary: str) -> None:
    """A BCP-47 tag normalizes to its lowercase primary subtag; empty stays empty."""
    assert normalize_language(code, "f") == primary


def test_normalize_language_too_long_is_out_of_range() -> None:
    """A tag over 35 characters is FIELD_OUT_OF_RANGE on the given field."""
    with pytest.raises(InvalidArgument) as info:
        normalize_language("hi-" + "x" * 40, "target_language_code")
    assert (info.value.reason, info.value.field) == ("FIELD_OUT_OF_RANGE", "target_language_code")


@pytest.mark.parametrize("code", ["hindi", "h", "12", "हि", "-IN", "h1-IN"])
def test_normalize_language_garbage_is_unsupported(code: str) -> None:
    """A tag whose primary subtag is not 2-3 ASCII letters is UNSUPPORTED_LANGUAGE."""
    with pytest.raises(InvalidArgument) as info:
        normalize_language(code, "source_language_code")
    assert (info.value.reason, info.value.field) == ("UNSUPPORTED_LANGUAGE", "source_language_code")


# -- page tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 1, 100, 10**9])
def test_page_token_round_trip(offset: int) -> None:
    """decode(encode(n)) == n."""
    assert decode_page_token(encode_page_token(offset)) == offset


def test_empty_page_token_is_first_page() -> None:
    """An empty token means offset 0."""
    assert decode_page_token("") == 0


@pytest.mark.parametrize(
    "token",
    ["garbage!", "%%%", base64.urlsafe_b64encode(b"o:-1").decode(), base64.urlsafe_b64encode(b"x:5").decode(),
     base64.urlsafe_b64encode(b"o:five").decode(), base64.urlsafe_b64encode(b"\xff\xfe").decode(), "a"],
)
def test_foreign_page_token_rejected(token: str) -> None:
    """A token this server did not issue (garbage, negative, wrong kind) is INVALID_PAGE_TOKEN."""
    with pytest.raises(InvalidArgument) as info:
        decode_page_token(token)
    assert (info.value.reason, info.value.field) == ("INVALID_PAGE_TOKEN", "page_token")


# -- do-not-translate -----------------------------------------------------------------------


def test_protect_restore_round_trip() -> None:
    """Protected phrases are swapped for placeholders and restored verbatim."""
    text = "Open GitHub and Triton Server today"
    protected, mapping = _protect(text, ["Triton Server", "GitHub"])
    assert "GitHub" not in protected and "Triton Server" not in protected
    assert _restore(protected, mapping) == text


def test_protect_uses_longest_phrase_first_order() -> None:
    """With phrases sorted longest first, a phrase inside a longer one doesn't split it."""
    text = "New York and York"
    protected, mapping = _protect(text, ["New York", "York"])
    assert sorted(mapping.values()) == ["New York", "York"]
    assert protected.count("ZXQ0Q") == 1 and protected.count("ZXQ1Q") == 1
    assert _restore(protected, mapping) == text


def test_placeholders_do_not_lower_coverage() -> None:
    """Coverage is recounted over the words sent for translation: do-not-translate placeholders, which the
    model marks unknown, count as neither known nor unknown."""
    text, mapping = _protect("मैं Zoom पर Slack से बात", ["Zoom", "Slack"])
    # 6 words, the 2 placeholders unknown to the model: it reports 4/6.
    assert _without_placeholders(4 / 6, text, mapping) == pytest.approx(1.0)
    assert _without_placeholders(3 / 6, text, mapping) == pytest.approx(0.75)
    assert _without_placeholders(0.5, "कुछ नहीं", {}) == 0.5
    assert _without_placeholders(None, text, mapping) is None


def test_chrf_and_declared_signals() -> None:
    """chrF is 100 for an identical round trip and lower for a changed one; signals are read from the
    model's quality_signals parameter."""
    assert chrf(HINDI, HINDI) == pytest.approx(100.0)
    assert 0.0 <= chrf("नमस्ते", HINDI) < 100.0
    info = ModelInfo(name="nmt", task="translation", backend="apertium",
                     parameters={"quality_signals": "coverage, other"})
    assert reports(info, "coverage") and not reports(info, "round_trip")
    assert not reports(ModelInfo(name="nmt", task="translation", backend="apertium"), "coverage")


def test_protect_skips_absent_phrases() -> None:
    """Phrases not in the text get no placeholder."""
    protected, mapping = _protect("plain text", ["absent"])
    assert (protected, mapping) == ("plain text", {})


# -- translate: validation ------------------------------------------------------------------


async def test_empty_contents_required() -> None:
    """No texts at all is FIELD_REQUIRED on `contents`."""
    core, _ = _core()
    err = await _rejected(core.translate([], "hi", "ur"))
    assert (err.reason, err.field) == ("FIELD_REQUIRED", "contents")


async def test_blank_item_names_its_index() -> None:
    """A blank text is FIELD_REQUIRED on `contents[i]`."""
    core, fake = _core()
    err = await _rejected(core.translate([HINDI, "  "], "hi", "ur"))
    assert (err.reason, err.field) == ("FIELD_REQUIRED", "contents[1]")
    assert fake.calls == []


async def test_too_many_contents() -> None:
    """More texts than max_contents is TOO_MANY_CONTENTS."""
    core, _ = _core(max_contents=2)
    err = await _rejected(core.translate([HINDI] * 3, "hi", "ur"))
    assert (err.reason, err.field) == ("TOO_MANY_CONTENTS", "contents")


async def test_text_too_long() -> None:
    """A text over max_content_chars is CONTENT_TOO_LONG on its index."""
    core, _ = _core(max_content_chars=10)
    err = await _rejected(core.translate(["short", "x" * 11], "hi", "ur"))
    assert (err.reason, err.field) == ("CONTENT_TOO_LONG", "contents[1]")


async def test_total_too_long() -> None:
    """Texts together over max_total_chars are CONTENT_TOO_LONG on `contents`."""
    core, _ = _core(max_content_chars=10, max_total_chars=15)
    err = await _rejected(core.translate(["x" * 8, "y" * 8], "hi", "ur"))
    assert (err.reason, err.field) == ("CONTENT_TOO_LONG", "contents")


async def test_missing_target_required() -> None:
    """A blank target is FIELD_REQUIRED on target_language_code."""
    core, _ = _core()
    err = await _rejected(core.translate([HINDI], "hi", " "))
    assert (err.reason, err.field) == ("FIELD_REQUIRED", "target_language_code")


async def test_unsupported_pair_lists_available_pairs() -> None:
    """A pair the model does not serve is UNSUPPORTED_LANGUAGE_PAIR with the served pairs in metadata."""
    core, fake = _core()
    err = await _rejected(core.translate([HINDI], "hi", "ta"))
    assert err.reason == "UNSUPPORTED_LANGUAGE_PAIR"
    assert err.field == "source_language_code"
    assert err.metadata["available_pairs"] == "hi-ur,ur-hi"
    assert fake.calls == []


async def test_unknown_model() -> None:
    """A model name not in the catalog is UNKNOWN_MODEL on `model`, listing served models."""
    core, _ = _core()
    err = await _rejected(core.translate([HINDI], "hi", "ur", model="gpt"))
    assert (err.reason, err.field) == ("UNKNOWN_MODEL", "model")
    assert err.metadata["available_models"] == "nmt"


async def test_same_source_and_target_rejected() -> None:
    """Source equal to target (after normalization) is rejected on target_language_code."""
    core, _ = _core()
    err = await _rejected(core.translate([HINDI], "hi-IN", "hi"))
    assert (err.reason, err.field) == ("UNSUPPORTED_LANGUAGE_PAIR", "target_language_code")


async def test_undetectable_text_without_source() -> None:
    """With no source given, a text with no script letters is LANGUAGE_NOT_DETECTED on its index."""
    core, _ = _core()
    err = await _rejected(core.translate([URDU, "12345"], "", "hi"))
    assert (err.reason, err.field) == ("LANGUAGE_NOT_DETECTED", "contents[1]")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"do_not_translate": ["ok", " "]}, "do_not_translate[1]"),
    ({"do_not_translate": ["x" * 101]}, "do_not_translate[0]"),
    ({"do_not_translate": ["a"] * 101}, "do_not_translate"),
    ({"model": "m" * 129}, "model"),
])
async def test_out_of_range_options(kwargs: dict[str, Any], field: str) -> None:
    """Blank/over-long/too many do-not-translate phrases and an over-long model name are FIELD_OUT_OF_RANGE."""
    core, _ = _core()
    err = await _rejected(core.translate([HINDI], "hi", "ur", **kwargs))
    assert (err.reason, err.field) == ("FIELD_OUT_OF_RANGE", field)


# -- translate: behaviour -------------------------------------------------------------------


async def test_translates_with_given_source() -> None:
    """A given source goes to the model as the primary subtag and results are not marked detected."""
    core, fake = _core()
    [result] = await core.translate([HINDI], "hi-IN", "ur-PK", request_id="rq")
    assert result.text == f"[hi>ur:{HINDI}]"
    assert (result.source_language_code, result.detected, result.model) == ("hi", False, "nmt")
    assert fake.calls[0]["request_id"] == "rq"


async def test_detects_source_per_item() -> None:
    """With no source, each text's language is detected and marked so."""
    core, fake = _core()
    results = await core.translate([URDU, URDU], "", "hi")
    assert [(r.source_language_code, r.detected) for r in results] == [("ur", True), ("ur", True)]
    assert fake.calls[0]["sources"] == ["ur", "ur"]


async def test_detected_source_without_pair_names_the_item() -> None:
    """With detection, a text whose language can't go to the target fails on that text's index."""
    core, fake = _core()
    err = await _rejected(core.translate([URDU, HINDI], "", "hi"))
    assert (err.reason, err.field) == ("UNSUPPORTED_LANGUAGE_PAIR", "contents[1]")
    assert fake.calls == []


async def test_mixed_detected_languages_are_grouped_per_source() -> None:
    """Texts detected as different languages are sent in separate per-source groups, each to its own pair."""
    fake = FakeTriton(pairs="hi-en,ur-en")
    settings = NmtSettings()
    core = NmtCore(settings, fake, ModelRegistry(fake, settings.catalog_refresh_s, registry_overrides(settings)))  # type: ignore[arg-type]
    results = await core.translate([HINDI, URDU, HINDI], "", "en")
    assert [r.source_language_code for r in results] == ["hi", "ur", "hi"]
    assert [r.text for r in results] == [f"[hi>en:{HINDI}]", f"[ur>en:{URDU}]", f"[hi>en:{HINDI}]"]
    for call in fake.calls:
        assert len(set(call["sources"])) == 1


async def test_batches_respect_max_batch_size_and_keep_order() -> None:
    """Texts go to the model in chunks of at most max_batch_size rows; results keep input order."""
    core, fake = _core()
    texts = [f"{URDU} {i}" for i in range(5)]
    results = await core.translate(texts, "ur", "hi")
    assert [r.text for r in results] == [f"[ur>hi:{t}]" for t in texts]
    assert sorted(len(c["texts"]) for c in fake.calls) == [1, 2, 2]
    assert all(c["shape"] == (len(c["texts"]), 1) for c in fake.calls)
    assert sorted(t for c in fake.calls for t in c["texts"]) == sorted(texts)


async def test_do_not_translate_survives_verbatim() -> None:
    """Do-not-translate phrases never reach the model and come back verbatim in the output."""
    core, fake = _core()
    text = f"{URDU} AI4Bharat Triton Server Triton"
    [result] = await core.translate([text], "ur", "hi", do_not_translate=["Triton", "Triton Server", "AI4Bharat"])
    assert result.text == f"[ur>hi:{text}]"
    sent = fake.calls[0]["texts"][0]
    assert "Triton" not in sent and "AI4Bharat" not in sent


async def test_catalog_is_cached_between_calls() -> None:
    """The model registry reads the model config once within catalog_refresh_s."""
    core, fake = _core()
    await core.translate([URDU], "ur", "hi")
    await core.translate([HINDI], "hi", "ur")
    assert fake.config_reads == 1


async def test_language_pairs_setting_overrides_model_config() -> None:
    """`language_pairs` in settings replaces what the model config declares."""
    core, _ = _core(language_pairs="hi-en")
    pairs, _ = await core.list_pairs(0, "", "", "")
    assert [(p.source, p.target, p.backend) for p in pairs] == [("hi", "en", "fake")]


def test_detect_validates_content() -> None:
    """detect() rejects empty, over-long and script-less content with the right reason."""
    core, _ = _core(max_content_chars=5)
    for content, reason in [(" ", "FIELD_REQUIRED"), ("x" * 6, "CONTENT_TOO_LONG"), ("123", "LANGUAGE_NOT_DETECTED")]:
        with pytest.raises(InvalidArgument) as info:
            core.detect(content)
        assert (info.value.reason, info.value.field) == (reason, "content")
    assert core.detect("abc")[0].language_code == "en"


# -- list pairs -----------------------------------------------------------------------------


async def test_list_pairs_paginates() -> None:
    """page_size=1 yields a next token; following it yields the rest and an empty token."""
    core, _ = _core()
    first, token = await core.list_pairs(1, "", "", "")
    assert len(first) == 1 and token
    second, token2 = await core.list_pairs(1, token, "", "")
    assert token2 == ""
    assert {(p.source, p.target) for p in first + second} == {("hi", "ur"), ("ur", "hi")}


async def test_list_pairs_default_page_has_all() -> None:
    """page_size 0 returns every pair without a next token."""
    core, _ = _core()
    pairs, token = await core.list_pairs(0, "", "", "")
    assert [(p.source, p.target, p.model, p.backend) for p in pairs] == [("hi", "ur", "nmt", "fake"),
                                                                          ("ur", "hi", "nmt", "fake")]
    assert token == ""


async def test_list_pairs_filters() -> None:
    """Source and target filters (BCP-47 tags) narrow the list."""
    core, _ = _core()
    by_source, _ = await core.list_pairs(0, "", "ur-PK", "")
    assert [(p.source, p.target) for p in by_source] == [("ur", "hi")]
    by_target, _ = await core.list_pairs(0, "", "", "ur")
    assert [(p.source, p.target) for p in by_target] == [("hi", "ur")]
    none, _ = await core.list_pairs(0, "", "ta", "")
    assert none == []


async def test_list_pairs_rejects_bad_input() -> None:
    """A negative page_size or a foreign page token is rejected."""
    core, _ = _core()
    err = await _rejected(core.list_pairs(-1, "", "", ""))
    assert (err.reason, err.field) == ("FIELD_OUT_OF_RANGE", "page_size")
    err = await _rejected(core.list_pairs(1, "bogus!", "", ""))
    assert err.reason == "INVALID_PAGE_TOKEN"


@pytest.mark.parametrize(("text", "phrases"), [("Post on X via GitHub", ["GitHub", "X"]),
                                                ("Windows 10 and 0", ["Windows 10", "0"])])
async def test_short_phrase_matching_placeholder_letters_survives(text: str, phrases: list[str]) -> None:
    """Phrases that share letters with the placeholder alphabet still all come back verbatim."""
    core, _ = _core()
    [result] = await core.translate([text], "ur", "hi", do_not_translate=phrases)
    assert result.text == f"[ur>hi:{text}]"
