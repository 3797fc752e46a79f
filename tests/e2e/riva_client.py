"""What a Riva application does, with the unchanged `nvidia-riva-client` package: run by
tests/e2e/test_riva_compat.py with .venv-riva's Python (its own protobuf), never imported by
our code. Prints one JSON object of what it got.

    python riva_client.py TARGET WAV OUT_DIR KEY          # every call a Riva app makes
    python riva_client.py TARGET WAV OUT_DIR KEY probe    # one call per service: status codes
    python riva_client.py TARGET WAV OUT_DIR "" probe     # the same without credentials
"""

from __future__ import annotations

import json
import sys
import wave
from pathlib import Path

import grpc

import riva.client
from riva.client.proto import riva_asr_pb2, riva_tts_pb2


def status_of(call) -> str:
    try:
        call()
    except grpc.RpcError as err:
        return err.code().name
    return "OK"


def main(target: str, wav: str, out_dir: str, key: str = "", mode: str = "") -> dict:
    auth = riva.client.Auth(uri=target, metadata_args=[["x-api-key", key]] if key else None)
    asr = riva.client.ASRService(auth)
    tts = riva.client.SpeechSynthesisService(auth)
    nmt = riva.client.NeuralMachineTranslationClient(auth)
    out: dict = {}
    if mode == "probe":
        out["nmt"] = status_of(lambda: nmt.translate(["नमस्ते"], "", "hi", "ur"))
        out["tts"] = status_of(lambda: tts.synthesize("नमस्ते", language_code="hi-IN"))
        out["asr"] = status_of(lambda: asr.offline_recognize(Path(wav).read_bytes(), riva.client.RecognitionConfig(
            language_code="en-US")))
        return out
    # As Riva's scripts/asr/transcribe_file.py: no encoding or sample rate, the file's own bytes
    # in chunks (the WAV header leads the first one).
    config = riva.client.RecognitionConfig(language_code="en-US", max_alternatives=1,
                                           enable_word_time_offsets=True)
    streaming = riva.client.StreamingRecognitionConfig(config=config, interim_results=True)
    finals, interims = [], 0
    with riva.client.AudioChunkFileIterator(wav, 1600) as chunks:
        for response in asr.streaming_response_generator(audio_chunks=chunks, streaming_config=streaming):
            for result in response.results:
                if result.is_final:
                    finals.append(result.alternatives[0].transcript)
                else:
                    interims += 1
    out["streaming_transcript"] = " ".join(t.strip() for t in finals)
    out["streaming_interims"] = interims
    # Offline: the whole file, header included (Riva's offline example reads the file's bytes).
    offline = riva.client.RecognitionConfig(language_code="en-US", max_alternatives=1, enable_word_time_offsets=True)
    riva.client.add_audio_file_specs_to_config(offline, wav)
    answer = asr.offline_recognize(Path(wav).read_bytes(), offline)
    out["recognize_transcript"] = " ".join(r.alternatives[0].transcript.strip() for r in answer.results
                                           if r.alternatives)
    out["recognize_words"] = [[w.word, w.start_time, w.end_time] for r in answer.results
                              for w in r.alternatives[0].words]
    models = asr.stub.GetRivaSpeechRecognitionConfig(riva_asr_pb2.RivaSpeechRecognitionConfigRequest(),
                                                     metadata=auth.get_auth_metadata())
    out["asr_models"] = [{"name": m.model_name, **dict(m.parameters)} for m in models.model_config]
    # As Riva's scripts/tts/talk.py --list-voices: voice_name + "." + each subvoice.
    voices = tts.stub.GetRivaSynthesisConfig(riva_tts_pb2.RivaSynthesisConfigRequest(),
                                             metadata=auth.get_auth_metadata())
    out["voices"] = [{"language_code": c.parameters["language_code"],
                      "full_names": [c.parameters["voice_name"] + "." + s.split(":")[0]
                                     for s in c.parameters["subvoices"].split(",")]} for c in voices.model_config]
    english = next(v["full_names"][0] for v in out["voices"] if v["language_code"].startswith("en"))
    rate = 22050
    spoken = tts.synthesize("good morning, how are you today?", voice_name=english, language_code="en-US",
                            encoding=riva.client.AudioEncoding.LINEAR_PCM, sample_rate_hz=rate)
    path = Path(out_dir) / "synthesized.wav"
    with wave.open(str(path), "wb") as out_wav:  # as talk.py writes its output
        out_wav.setnchannels(1), out_wav.setsampwidth(2), out_wav.setframerate(rate)
        out_wav.writeframesraw(spoken.audio)
    out["synthesized_wav"] = str(path)
    out["voice_used"] = english
    online = list(tts.synthesize_online(["नमस्ते, आप कैसे हैं?", "भारत एक विशाल देश है।"], language_code="hi-IN",
                                        encoding=riva.client.AudioEncoding.LINEAR_PCM, sample_rate_hz=rate))
    out["online_chunks"] = len(online)
    out["online_bytes"] = sum(len(r.audio) for r in online)
    translated = nmt.translate(["भारत एक विशाल देश है।"], "", "hi", "ur")
    out["translations"] = [[t.text, t.language] for t in translated.translations]
    pairs = nmt.get_config("")
    out["language_pairs"] = {model: [list(p.src_lang), list(p.tgt_lang)] for model, p in pairs.languages.items()}
    return out


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
