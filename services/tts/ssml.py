"""The SSML subset the TTS service renders, parsed into plain segments.

`<speak>` root; `<break time|strength>`, `<prosody rate|pitch|volume>` (nesting composes:
rates multiply, semitones and decibels add), `<sub alias>`, `<say-as interpret-as=
"cardinal"|"ordinal"|"characters"|"digits"|"date"|"currency"|"telephone">` (kept as a segment
of its own, marked, for the core to read out in the voice's language:
`textnorm.SpeechNormalizer.say_as`; `merge` then joins it to its neighbours), `<p>`/`<s>` as
sentence boundaries. Other elements are ignored and
their text is spoken, as the contract says. Parsed with the standard library's expat; a
DOCTYPE (and so any entity declaration) is refused up front, which rules out entity
expansion attacks. Malformed markup or attribute values raise SSML_INVALID.
"""

from __future__ import annotations

import dataclasses
import math
import re
import xml.etree.ElementTree as ET

from services.common.errors import InvalidArgument, Reason

FIELD = "input.ssml"
MAX_BREAK_S = 10.0
_STRENGTH_S = {"none": 0.0, "x-weak": 0.1, "weak": 0.25, "medium": 0.4, "strong": 0.75, "x-strong": 1.2}
_RATE = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.5}
_PITCH_ST = {"x-low": -4.0, "low": -2.0, "medium": 0.0, "default": 0.0, "high": 2.0, "x-high": 4.0}
_VOLUME_DB = {"silent": -96.0, "x-soft": -12.0, "soft": -6.0, "medium": 0.0, "default": 0.0, "loud": 6.0,
              "x-loud": 12.0}
_TIME = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$")
_NUMBER = r"([+-]?\d+(?:\.\d+)?)"
# <say-as interpret-as> values read out (others: the text is spoken as written).
SAY_AS = ("cardinal", "ordinal", "characters", "digits", "date", "currency", "telephone")


@dataclasses.dataclass(frozen=True)
class Prosody:
    rate: float = 1.0
    pitch_semitones: float = 0.0
    volume_gain_db: float = 0.0


@dataclasses.dataclass(frozen=True)
class Text:
    text: str
    prosody: Prosody = Prosody()
    interpret_as: str = ""  # a <say-as> element's: its text is read as that, not normalized


@dataclasses.dataclass(frozen=True)
class Pause:
    seconds: float


Segment = Text | Pause


def invalid(message: str) -> InvalidArgument:
    return InvalidArgument(f"input.ssml: {message}", reason=Reason.SSML_INVALID, field=FIELD)


def parse(ssml: str) -> list[Segment]:
    """SSML → text segments (with their prosody) and pauses, in document order."""
    if re.search(r"<!\s*(DOCTYPE|ENTITY)", ssml, re.IGNORECASE):
        raise invalid("DOCTYPE and entity declarations are not allowed")
    try:
        root = ET.fromstring(ssml)
    except ET.ParseError as exc:
        raise invalid(f"not well-formed XML ({exc})") from None
    if _tag(root) != "speak":
        raise invalid(f"the root element must be <speak>, not <{_tag(root)}>")
    builder = _Builder()
    builder.element(root, Prosody())
    return builder.done()


def merge(segments: list[Segment]) -> list[Segment]:
    """Joins neighbouring text of the same prosody (a read-out <say-as> with the sentence
    around it) into one segment, so it is spoken as one sentence."""
    out: list[Segment] = []
    for segment in segments:
        last = out[-1] if out else None
        if isinstance(segment, Text) and isinstance(last, Text) and last.prosody == segment.prosody:
            glue = "" if segment.text[:1] in ",.;:!?।॥)" else " "  # no space before punctuation
            out[-1] = Text(f"{last.text}{glue}{segment.text}", last.prosody)
        else:
            out.append(segment)
    return out


def plain(segments: list[Segment]) -> str:
    """The text the segments speak (for records and sentence splitting of plain input)."""
    return " ".join(s.text for s in segments if isinstance(s, Text))


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


class _Builder:
    def __init__(self) -> None:
        self.segments: list[Segment] = []

    def text(self, value: str | None, prosody: Prosody, interpret_as: str = "") -> None:
        if not value or not value.strip():
            return
        if interpret_as:
            self.segments.append(Text(value.strip(), prosody, interpret_as))
            return
        last = self.segments[-1] if self.segments else None
        if isinstance(last, Text) and last.prosody == prosody and not last.interpret_as:
            self.segments[-1] = Text(f"{last.text} {value.strip()}", prosody)
        else:
            self.segments.append(Text(value.strip(), prosody))

    def boundary(self) -> None:
        """Ends the current text segment, so what follows starts a new sentence."""
        if self.segments and isinstance(self.segments[-1], Text):
            self.segments.append(Pause(0.0))

    def element(self, element: ET.Element, prosody: Prosody) -> None:
        tag = _tag(element)
        if tag == "break":
            self.segments.append(Pause(_break_seconds(element)))
        elif tag == "sub":
            alias = element.get("alias")
            if alias is None:
                raise invalid("<sub> needs an alias attribute")
            self.text(alias, prosody)
        elif tag == "say-as":
            kind = element.get("interpret-as", "")
            text = "".join(element.itertext())
            self.text(text, prosody, kind if kind in SAY_AS else "")
        else:
            if tag == "prosody":
                prosody = _prosody(element, prosody)
            if tag in ("p", "s"):
                self.boundary()
            self.text(element.text, prosody)
            for child in element:
                self.element(child, prosody)
                self.text(child.tail, prosody)
            if tag in ("p", "s"):
                self.boundary()

    def done(self) -> list[Segment]:
        out: list[Segment] = []
        for segment in self.segments:
            if isinstance(segment, Pause) and out and isinstance(out[-1], Pause):
                out[-1] = Pause(out[-1].seconds + segment.seconds)
            else:
                out.append(segment)
        return out


def _break_seconds(element: ET.Element) -> float:
    time = element.get("time")
    if time is not None:
        match = _TIME.match(time)
        if not match:
            raise invalid(f"<break time={time!r}>: use e.g. '500ms' or '1.5s'")
        value = float(match.group(1)) / (1000.0 if match.group(2) == "ms" else 1.0)
        if value > MAX_BREAK_S:
            raise invalid(f"<break time={time!r}> is longer than {MAX_BREAK_S:g}s")
        return value
    strength = element.get("strength", "medium")
    if strength not in _STRENGTH_S:
        raise invalid(f"<break strength={strength!r}>: use one of {', '.join(_STRENGTH_S)}")
    return _STRENGTH_S[strength]


def _prosody(element: ET.Element, outer: Prosody) -> Prosody:
    rate, pitch, volume = outer.rate, outer.pitch_semitones, outer.volume_gain_db
    if (value := element.get("rate")) is not None:
        rate *= _rate(value.strip())
    if (value := element.get("pitch")) is not None:
        pitch += _pitch(value.strip())
    if (value := element.get("volume")) is not None:
        volume += _volume(value.strip())
    return Prosody(rate, pitch, volume)


def _rate(value: str) -> float:
    if value in _RATE:
        return _RATE[value]
    if m := re.fullmatch(_NUMBER + "%", value):
        number = float(m.group(1))
        factor = 1 + number / 100 if value[0] in "+-" else number / 100
    elif m := re.fullmatch(_NUMBER, value):
        factor = float(m.group(1))
    else:
        raise invalid(f"<prosody rate={value!r}>: use x-slow..x-fast, a percentage or a multiplier")
    if not 0 < factor <= 10:
        raise invalid(f"<prosody rate={value!r}> is out of range")
    return factor


def _pitch(value: str) -> float:
    if value in _PITCH_ST:
        return _PITCH_ST[value]
    if m := re.fullmatch(_NUMBER + "st", value):
        return float(m.group(1))
    if (m := re.fullmatch(_NUMBER + "%", value)) and value[0] in "+-" and float(m.group(1)) > -100:
        return 12 * math.log2(1 + float(m.group(1)) / 100)
    raise invalid(f"<prosody pitch={value!r}>: use x-low..x-high, '+2st' or '+10%'")


def _volume(value: str) -> float:
    if value in _VOLUME_DB:
        return _VOLUME_DB[value]
    if m := re.fullmatch(_NUMBER + "dB", value):
        return float(m.group(1))
    raise invalid(f"<prosody volume={value!r}>: use silent, x-soft..x-loud or '+6dB'")
