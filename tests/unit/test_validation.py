"""The chassis input check every request passes (`services.common.rpc.validation`)."""

from __future__ import annotations

import math

import pytest

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from services.common.errors import InvalidArgument
from services.common.rpc.validation import Malformed, check_request, safe_deserializer


def _refusal(request: object, index: int | None = None) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        check_request(request, index)
    return caught.value


def test_a_plain_request_passes() -> None:
    """A request with ordinary text, defined enums and finite numbers is let through."""
    check_request(nmt_pb.TranslateTextRequest(contents=["नमस्ते", "दुनिया"], target_language_code="ur"))
    check_request(tts_pb.SynthesizeRequest(input=tts_pb.SynthesisInput(text="hi"),
                                           audio_config=tts_pb.AudioOutputConfig(speaking_rate=1.5)))


def test_nul_in_a_repeated_string_names_the_element() -> None:
    """U+0000 anywhere in text is INVALID_CHARACTER with the path of the element."""
    err = _refusal(nmt_pb.TranslateTextRequest(contents=["ok", "a\x00b"], target_language_code="hi"))
    assert (err.reason, err.field) == ("INVALID_CHARACTER", "contents[1]")


def test_nul_in_a_nested_message_names_the_path() -> None:
    """The field path goes through nested messages."""
    err = _refusal(tts_pb.SynthesizeRequest(voice=tts_pb.VoiceSelectionParams(language_code="hi\x00")))
    assert (err.reason, err.field) == ("INVALID_CHARACTER", "voice.language_code")


def test_an_undefined_enum_number_is_out_of_range() -> None:
    """proto3 keeps enum numbers the contract does not define; the check refuses them."""
    request = tts_pb.SynthesizeRequest()
    request.audio_config.encoding = 9999
    err = _refusal(request)
    assert (err.reason, err.field) == ("FIELD_OUT_OF_RANGE", "audio_config.encoding")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_out_of_range(value: float) -> None:
    """NaN and ±inf in a float field are FIELD_OUT_OF_RANGE."""
    err = _refusal(tts_pb.SynthesizeRequest(audio_config=tts_pb.AudioOutputConfig(speaking_rate=value)))
    assert (err.reason, err.field) == ("FIELD_OUT_OF_RANGE", "audio_config.speaking_rate")


def test_stream_messages_are_numbered() -> None:
    """A bad message of a client stream says which message it was."""
    err = _refusal(asr_pb.StreamingRecognizeRequest(
        streaming_config=asr_pb.StreamingRecognitionConfig(config=asr_pb.RecognitionConfig(model="a\x00"))), 2)
    assert err.field == "streaming_config.config.model" and "message 3 of the stream" in err.message


def test_undecodable_bytes_become_malformed_not_an_exception() -> None:
    """Bytes that are not the method's message (here: a string field that is not UTF-8) are a
    MALFORMED_MESSAGE refusal, not an exception inside grpc (which would answer INTERNAL)."""
    deserialize = safe_deserializer(nmt_pb.TranslateTextRequest.FromString)
    bad = deserialize(b"\x0a\x02\xff\xfe")
    assert isinstance(bad, Malformed)
    assert _refusal(bad).reason == "MALFORMED_MESSAGE"
    assert list(deserialize(b"\x0a\x01a").contents) == ["a"]
