"""What auto-decoding costs: sniffing and decoding each container, whole (Recognize) and in
100 ms chunks (StreamingRecognize), as ratios against declared LINEAR16 measured in the same run.

    PYTHONPATH=gen/python:. .venv/bin/python -m bench.autodecode [--seconds 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from services.common import audio
from services.common.audio import E
from tests.audio_util import RATE, container_files, speech

_KINDS = {"wav": E.AUDIO_ENCODING_WAV, "flac": E.AUDIO_ENCODING_FLAC, "ogg_opus": E.AUDIO_ENCODING_OGG_OPUS,
          "ogg_vorbis": E.AUDIO_ENCODING_OGG_VORBIS, "mp3": E.AUDIO_ENCODING_MP3,
          "webm_opus": E.AUDIO_ENCODING_WEBM_OPUS}


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def streamed(data: bytes, encoding: int, rate: int, chunk: int) -> int:
    decoder = audio.StreamDecoder(encoding, rate)
    try:
        total = sum(decoder(data[i:i + chunk]).size for i in range(0, len(data), chunk))
        return total + decoder.finish().size
    finally:
        decoder.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    one = speech("the quick brown fox jumps over the lazy dog and then one two three four five")
    samples = np.tile(one, int(np.ceil(args.seconds * RATE / one.size)))[:round(args.seconds * RATE)]
    files = container_files(samples)
    pcm = audio.to_pcm16(samples).tobytes()
    seconds = samples.size / RATE
    chunk = RATE // 10 * 2  # 100 ms of LINEAR16; containers are cut into pieces of the same byte size

    base_unary = best_of(args.repeat, lambda: audio.decode(pcm, E.AUDIO_ENCODING_LINEAR16, RATE))
    base_stream = best_of(args.repeat, lambda: streamed(pcm, E.AUDIO_ENCODING_LINEAR16, RATE, chunk))
    print(f"{seconds:.0f} s of 16 kHz speech; best of {args.repeat}; baseline = declared LINEAR16 in the same run")
    print(f"baseline: whole {base_unary / seconds * 1e3:.3f} ms per audio second, "
          f"streamed {base_stream / seconds * 1e3:.3f} ms per audio second")
    print(f"{'container':<12} {'bytes':>9} {'whole ×base':>12} {'sniffed/declared':>17} {'whole RTF':>10} "
          f"{'streamed ×base':>15} {'streamed RTF':>13}")
    for kind, encoding in _KINDS.items():
        data = files[kind]
        sniffed = best_of(args.repeat, lambda d=data: audio.decode(d, E.AUDIO_ENCODING_UNSPECIFIED))
        declared = best_of(args.repeat, lambda d=data, e=encoding: audio.decode(d, e))
        stream_x = stream_rtf = ""
        if encoding in audio.STREAMABLE_ENCODINGS:
            took = best_of(args.repeat, lambda d=data: streamed(d, E.AUDIO_ENCODING_UNSPECIFIED, 0, chunk))
            stream_x, stream_rtf = f"{took / base_stream:.1f}", f"{took / seconds:.5f}"
        print(f"{kind:<12} {len(data):>9} {sniffed / base_unary:>12.1f} {sniffed / declared:>17.2f} "
              f"{sniffed / seconds:>10.5f} {stream_x:>15} {stream_rtf:>13}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
