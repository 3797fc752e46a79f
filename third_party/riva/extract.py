"""Re-extracts riva.binpb, the FileDescriptorSet of NVIDIA Riva's ASR, TTS and NMT APIs, from
the `nvidia-riva-client` wheel (MIT, see LICENSE), which ships compiled `_pb2.py` modules and
no `.proto` files.

    python third_party/riva/extract.py path/to/nvidia_riva_client-2.28.0-py3-none-any.whl

Each `_pb2.py` passes its serialized FileDescriptorProto to `AddSerializedFile(b'...')`; the
literal is read with `ast` (nothing from the wheel is imported, so any protobuf version runs
this). `health.proto` is left out on purpose: its package `grpc.health.v1` clashes with
grpcio-health-checking's in one process, and our own health service answers it. `riva_nlp`
is left out too (no NLP facade). Files are written in dependency order, deterministically.
"""

from __future__ import annotations

import ast
import sys
import zipfile
from pathlib import Path

from google.protobuf import descriptor_pb2

HERE = Path(__file__).resolve().parent
# Dependency order: audio and common first, then the services that import them.
MODULES = ("riva_audio", "riva_common", "riva_asr", "riva_tts", "riva_nmt")


def serialized_file(source: str) -> bytes:
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "AddSerializedFile" and node.args):
            value = ast.literal_eval(node.args[0])
            if isinstance(value, bytes):
                return value
    raise ValueError("no AddSerializedFile(b'...') call found")


def extract(wheel: Path) -> descriptor_pb2.FileDescriptorSet:
    files = descriptor_pb2.FileDescriptorSet()
    with zipfile.ZipFile(wheel) as archive:
        for name in MODULES:
            source = archive.read(f"riva/client/proto/{name}_pb2.py").decode()
            files.file.add().ParseFromString(serialized_file(source))
    return files


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    wheel = Path(argv[1])
    files = extract(wheel)
    (HERE / "riva.binpb").write_bytes(files.SerializeToString(deterministic=True))
    (HERE / "SOURCE").write_text(f"{wheel.name}\n" + "".join(f"{f.name} ({f.package})\n" for f in files.file))
    print(f"wrote {HERE / 'riva.binpb'}: {', '.join(f.name for f in files.file)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
