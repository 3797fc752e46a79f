"""Unit tests of the TTS SSML subset and sentence splitting (services/tts/ssml.py, core.py)."""

from __future__ import annotations

import pytest

from services.common.errors import InvalidArgument
from services.tts import ssml
from services.tts.core import SentenceBuffer, split_sentences


def test_breaks_prosody_sub_and_say_as():
    """Breaks become pauses, prosody nests, sub speaks its alias and say-as stays marked for the reader."""
    segments = ssml.parse(
        '<speak>नमस्ते <break time="500ms"/> <prosody rate="slow" pitch="+2st" volume="-6dB">धीरे '
        '<prosody rate="200%">तेज़</prosody></prosody> <sub alias="डॉक्टर">डॉ.</sub> '
        '<say-as interpret-as="characters">AB</say-as> <say-as interpret-as="digits">12a3</say-as>'
        '<break strength="strong"/></speak>')
    assert segments == [
        ssml.Text("नमस्ते"), ssml.Pause(0.5),
        ssml.Text("धीरे", ssml.Prosody(0.75, 2.0, -6.0)), ssml.Text("तेज़", ssml.Prosody(1.5, 2.0, -6.0)),
        ssml.Text("डॉक्टर"), ssml.Text("AB", interpret_as="characters"), ssml.Text("12a3", interpret_as="digits"),
        ssml.Pause(0.75),
    ]


def test_merge_joins_read_out_say_as_with_its_sentence():
    """After <say-as> is read out, merge joins it to neighbouring text of the same prosody, not across others."""
    segments = ssml.parse('<speak>कीमत <say-as interpret-as="currency">₹500</say-as> है <break time="1s"/>'
                          '<prosody rate="slow">धीरे</prosody> <say-as interpret-as="bogus">x</say-as></speak>')
    assert segments[1] == ssml.Text("₹500", interpret_as="currency")
    read = [ssml.Text("पाँच सौ रुपए") if isinstance(s, ssml.Text) and s.interpret_as else s for s in segments]
    assert ssml.merge(read) == [ssml.Text("कीमत पाँच सौ रुपए है"), ssml.Pause(1.0),
                                ssml.Text("धीरे", ssml.Prosody(0.75)), ssml.Text("x")]


def test_unknown_elements_are_spoken_and_namespaces_accepted():
    """Elements outside the subset are ignored but their text is spoken; the SSML namespace is fine."""
    segments = ssml.parse('<speak xmlns="http://www.w3.org/2001/10/synthesis"><emphasis>बहुत</emphasis> अच्छा</speak>')
    assert ssml.plain(segments) == "बहुत अच्छा"


@pytest.mark.parametrize("document", [
    "<speak>unclosed", "<voice>not speak</voice>", '<speak><break time="soon"/></speak>',
    '<speak><break time="11s"/></speak>', '<speak><prosody rate="zippy">x</prosody></speak>',
    '<speak><sub>no alias</sub></speak>',
    '<!DOCTYPE speak [<!ENTITY a "aaaa">]><speak>&a;</speak>', "<speak>&undefined;</speak>",
])
def test_malformed_ssml_is_ssml_invalid(document):
    """Malformed XML, a wrong root, bad attribute values and any DOCTYPE are SSML_INVALID on input.ssml."""
    with pytest.raises(InvalidArgument) as caught:
        ssml.parse(document)
    assert caught.value.reason == "SSML_INVALID" and caught.value.field == "input.ssml"


def test_sentences_split_at_danda_and_latin_punctuation():
    """Sentences end at । ॥ . ! ? followed by space; overlong ones are cut at a space."""
    assert split_sentences("पहला वाक्य। दूसरा वाक्य! Third one. 3.14 stays", 400) == [
        "पहला वाक्य।", "दूसरा वाक्य!", "Third one.", "3.14 stays"]
    assert split_sentences("aaa bbb ccc", 7) == ["aaa bbb", "ccc"]


def test_sentence_buffer_emits_complete_sentences_only():
    """Fragments are held until a sentence ends; a final danda ends one at once; flush gives the rest."""
    buffer = SentenceBuffer(400)
    assert buffer.feed("यह पह") == []
    assert buffer.feed("ला है।") == ["यह पहला है।"]
    assert buffer.feed(" Price is 3.") == []
    assert buffer.feed("5 now. And") == ["Price is 3.5 now."]
    assert buffer.flush() == ["And"]


def test_sentence_buffer_is_bounded():
    """Text with no sentence end is spoken in pieces once it exceeds the bound."""
    buffer = SentenceBuffer(10)
    out = buffer.feed("one two three four five")
    assert out and all(len(s) <= 10 for s in out) and len(buffer.pending) <= 10
