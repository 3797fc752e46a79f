"""The ULCA facade's pure mapping: serviceIds from the services' discovery answers, audio items,
language and script codes, settings, and the edge policy and routes for Dhruva's paths."""

from __future__ import annotations

import base64

import pytest

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from ai4vc.ulca.v1 import ulca_service_pb2 as pb
from deploy.local import envoy_config
from gateway import policy
from services.common.errors import InvalidArgument
from services.common.settings import SettingsError
from services.ulca import core
from services.ulca.settings import UlcaSettings


def test_catalog_names_each_model_with_its_directions():
    """Models, pairs, transliteration and voice backends become ai4vc/<task>/<name> ids with ISO 639 languages."""
    catalog = core.catalog_of(
        [asr_pb.Model(name="pocketsphinx-en-us", language_codes=["en-US"], supports_streaming=True)],
        [nmt_pb.LanguagePair(source_language_code="hi", target_language_code="ur", model="apertium-urd-hin"),
         nmt_pb.LanguagePair(source_language_code="ur", target_language_code="hi", model="apertium-urd-hin")],
        [nmt_pb.TransliterationPair(source_language_code="en-Latn", target_language_code="hi-Deva",
                                    backend="indic-transliteration")],
        [tts_pb.Voice(name="hi-female", language_codes=["hi"], backend="espeak-ng"),
         tts_pb.Voice(name="ta-male", language_codes=["ta-IN"], backend="espeak-ng")])
    ids = {s.service_id: s for s in catalog.services}
    assert ids["ai4vc/asr/pocketsphinx-en-us"].directions == (("en", ""),)
    assert ids["ai4vc/asr/pocketsphinx-en-us"].streaming
    assert ids["ai4vc/translation/apertium-urd-hin"].directions == (("hi", "ur"), ("ur", "hi"))
    assert ids["ai4vc/transliteration/indic-transliteration"].directions == (("en", "hi"),)
    assert ids["ai4vc/tts/espeak-ng"].directions == (("hi", ""), ("ta", ""))
    assert [s.task for s in catalog.of("tts")] == ["tts"]


def test_audio_items_take_content_or_data_uris_only():
    """audioContent and data: URIs (base64 or percent-encoded) give bytes; http(s) URIs are refused, never fetched."""
    assert core.audio_bytes(pb.AudioItem(audio_content=b"RIFF"), "audio[0]") == b"RIFF"
    uri = "data:audio/wav;base64," + base64.b64encode(b"RIFFxyz").decode()
    assert core.audio_bytes(pb.AudioItem(audio_uri=uri), "audio[0]") == b"RIFFxyz"
    assert core.audio_bytes(pb.AudioItem(audio_uri="data:audio/wav,RI%46F"), "audio[0]") == b"RIFF"
    for bad, reason, field in [("http://10.0.0.1/a.wav", "UNSUPPORTED_AUDIO_URI", "audio[0].audioUri"),
                               ("file:///etc/passwd", "UNSUPPORTED_AUDIO_URI", "audio[0].audioUri"),
                               ("data:audio/wav;base64,!!!", "AUDIO_UNDECODABLE", "audio[0].audioUri"),
                               ("", "FIELD_REQUIRED", "audio[0].audioContent")]:
        with pytest.raises(InvalidArgument) as caught:
            core.audio_bytes(pb.AudioItem(audio_uri=bad), "audio[0]")
        assert (caught.value.reason, caught.value.field) == (reason, field)


def test_language_and_script_codes():
    """ULCA's ISO 639 codes from BCP-47 and back, with ISO 15924 scripts for transliteration."""
    assert core.base("hi-IN") == "hi" and core.base("en_US") == "en" and core.base(" UR ") == "ur"
    assert core.script_code("hi", "deva") == "hi-Deva" and core.script_code("en", "") == "en"


def test_wav_rate_reads_the_header():
    """The sample rate of a RIFF/WAVE header, 0 for anything else."""
    header = b"RIFF" + b"\0" * 4 + b"WAVEfmt " + b"\0" * 8 + (22050).to_bytes(4, "little")
    assert core.wav_rate(header) == 22050 and core.wav_rate(b"OggS" * 10) == 0


def test_settings_aliases_name_a_task():
    """Dhruva ids map to (task, model); an alias naming no task fails at start-up."""
    settings = UlcaSettings(service_aliases=("ai4bharat/x=translation", "ai4bharat/y=tts:espeak-ng"))
    assert settings.aliases() == {"ai4bharat/x": ("translation", ""), "ai4bharat/y": ("tts", "espeak-ng")}
    assert UlcaSettings().aliases()["ai4bharat/indictrans-v2-all-gpu--t4"] == ("translation", "")
    with pytest.raises(SettingsError):
        UlcaSettings(service_aliases=("ai4bharat/z=ocr",))


def test_each_facade_method_needs_the_scope_of_what_it_calls():
    """asr/nmt/tts/pipeline scopes per compute method, any credential for getModelsPipeline, nothing else allowed."""
    service = "/ai4vc.ulca.v1.UlcaService/"
    expected = {"ComputeAsr": "asr", "ComputeTranslation": "nmt", "ComputeTransliteration": "nmt",
                "ComputeTts": "tts", "ComputePipeline": "pipeline"}
    for method, scope in expected.items():
        rule = policy.rule_for(service + method)
        assert rule.allows(frozenset({scope})) and not rule.allows(frozenset({"config"}))
    assert policy.rule_for(service + "GetModelsPipeline").access is policy.Access.AUTHENTICATED
    assert policy.rule_for(service + "SomethingNew").access is policy.Access.DENY


def test_dhruva_paths_get_rest_routes():
    """/services/inference/ and /ulca/apis/ have routes of their own (filters run before the transcoder's rewrite)."""
    assert {"/v1/", "/services/inference/", "/ulca/apis/"} <= set(envoy_config.REST_PREFIXES)
    assert set(envoy_config.DHRUVA_PREFIXES) <= set(envoy_config.REST_PREFIXES)
    for method in pb.DESCRIPTOR.services_by_name["UlcaService"].methods:
        path = method.GetOptions().ListFields()[0][1].post
        assert any(path.startswith(prefix) for prefix in envoy_config.DHRUVA_PREFIXES), path
