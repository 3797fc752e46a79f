"""The drop-in claim: our services work against a Triton whose model configs have exactly the
published repositories' interfaces (IndicTrans2 `nmt`, Indic-TTS `tts`) and declare nothing
about capability — small CPU implementations (ours) behind them, capability from settings."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as triton_grpc

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from deploy.local.parts import ROOT, Triton, free_port
from services.nmt import app as nmt_app
from services.nmt.settings import NmtSettings
from tests.service.harness import running

PUBLISHED = Path(__file__).parent / "published"


def interface(config: dict) -> dict[str, list[tuple[str, str, tuple[int, ...]]]]:
    """Tensor names, types and dims of a model config as Triton reports it."""
    return {
        kind: sorted((t["name"], t["data_type"], tuple(int(d) for d in t["dims"])) for t in config.get(kind, []))
        for kind in ("input", "output")
    }


@pytest.fixture(scope="module")
def published_triton() -> Iterator[Triton]:
    base = Path(tempfile.mkdtemp(prefix="ai4vc-contract-"))
    repo = base / "repo"
    for name in ("nmt", "tts"):
        (repo / name).mkdir(parents=True)
        shutil.copy(PUBLISHED / name / "config.pbtxt", repo / name / "config.pbtxt")
        (repo / name / "1").symlink_to(ROOT / "models" / name / "1")  # our CPU implementation
    server = Triton(base, free_port(), free_port(), free_port(), model_repository=repo)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("name", ["nmt", "tts"])
def test_our_models_have_the_published_interface(published_triton, name):
    """models/<name> declares the same tensors (names, types, dims) as the published repository, plus
    only the optional quality-signal outputs it announces."""
    client = triton_grpc.InferenceServerClient(published_triton.url)
    published = client.get_model_config(name, as_json=True)["config"]
    assert not published.get("parameters"), "the published config declares no capability"
    ours_dir = Path(tempfile.mkdtemp())
    try:
        ours = Triton(ours_dir, free_port(), free_port(), free_port(), model_repository=_single(ours_dir, name))
        ours.start()
        try:
            mine = triton_grpc.InferenceServerClient(ours.url).get_model_config(name, as_json=True)["config"]
        finally:
            ours.stop()
    finally:
        shutil.rmtree(ours_dir, ignore_errors=True)
    ours_io, theirs = interface(mine), interface(published)
    assert ours_io["input"] == theirs["input"]
    # Every published output, and beyond them only the optional signals the model announces in its
    # `quality_signals` parameter (the services ask for those only where it does, so a published
    # repository without them still serves).
    extra = sorted(set(ours_io["output"]) - set(theirs["output"]))
    assert set(theirs["output"]) <= set(ours_io["output"])
    announced = mine.get("parameters", {}).get("quality_signals", {}).get("string_value", "")
    assert [name for name, _, _ in extra] == [f"OUTPUT_{s.strip().upper()}" for s in announced.split(",") if s.strip()]
    assert (int(mine.get("max_batch_size", 0)) > 0) == (int(published.get("max_batch_size", 0)) > 0)


def _single(base: Path, name: str) -> Path:
    repo = base / "repo"
    repo.mkdir()
    (repo / name).symlink_to(ROOT / "models" / name)
    return repo


async def test_nmt_service_translates_against_the_published_nmt_contract(published_triton, pg_schema, tmp_path):
    """The NMT service, told the pairs by settings, translates through an IndicTrans2-shaped model."""
    url, schema = pg_schema
    settings = NmtSettings(port=0, triton_url=published_triton.url, language_pairs="hi-ur,ur-hi",
                           database_url=url, database_schema=schema, spool_dir=str(tmp_path), log_json=False)
    async with running(settings, nmt_app.create) as (_app, _handle, channel):
        stub = pb_grpc.NmtServiceStub(channel)
        answer = await stub.TranslateText(pb.TranslateTextRequest(
            contents=["भारत एक विशाल देश है।"], source_language_code="hi", target_language_code="ur"), timeout=15)
        pairs = await stub.ListLanguagePairs(pb.ListLanguagePairsRequest(), timeout=5)
    assert any("\u0600" <= ch <= "\u06ff" for ch in answer.translations[0].translated_text)
    assert {(p.source_language_code, p.target_language_code) for p in pairs.language_pairs} == {
        ("hi", "ur"), ("ur", "hi")}


def test_tts_answers_on_the_published_indic_tts_contract(published_triton):
    """An Indic-TTS-shaped request (unbatched [1] strings, speaker "female") returns audio."""
    client = triton_grpc.InferenceServerClient(published_triton.url)
    inputs = []
    for name, value in (("INPUT_TEXT", "नमस्ते, आप कैसे हैं?"), ("INPUT_SPEAKER_ID", "female"),
                        ("INPUT_LANGUAGE_ID", "hi")):
        tensor = triton_grpc.InferInput(name, [1], "BYTES")
        tensor.set_data_from_numpy(np.array([value.encode()], dtype=np.object_))
        inputs.append(tensor)
    audio = client.infer("tts", inputs).as_numpy("OUTPUT_GENERATED_AUDIO")
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 0.3 < len(audio) / 22050 < 10 and float(np.sqrt(np.mean(audio**2))) > 0.01
