"""The generated SDKs' examples (sdk/<lang>/examples) call NmtService.TranslateText through the
real Envoy with an API key made for them, and print what the Python stubs get for the same call:
TypeScript over gRPC and gRPC-Web (connect-node), Go (grpc-go), Ruby (grpc gem), and C++ (grpc++)
and Java (grpc-java) where `make sdks-check` has built them. Errors come out as the code and the ErrorInfo reason."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest

from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as auth_grpc
from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
TS_EXAMPLE = ROOT / "sdk/typescript/dist/examples/translate.js"
GO_EXAMPLE = ROOT / ".run/sdks/bin/translate-go"
CPP_EXAMPLE = ROOT / ".run/sdks/cpp/translate"
JAVA_CLASSPATH = ROOT / ".run/sdks/java/classpath.txt"
TEXTS = ["भारत एक विशाल देश है।", "भारत"]


@pytest.fixture(scope="module")
def examples_built() -> None:
    """Builds the TypeScript and Go examples the way `make sdk-examples` does."""
    missing = [tool for tool in ("node", "go", "ruby") if shutil.which(tool) is None]
    if not (ROOT / "sdk/typescript/node_modules/.bin/tsc").exists():
        missing.append("sdk/typescript/node_modules (make bootstrap-sdks)")
    if not (ROOT / "sdk/ruby/lib/ai4vc/nmt/v1/nmt_service_services_pb.rb").exists():
        missing.append("sdk/ruby/lib (make sdks)")
    if missing:
        pytest.skip(f"SDK toolchains or generated code missing: {', '.join(missing)} (make sdks)")
    built = subprocess.run(["bash", "scripts/sdks-check.sh", "--examples"], cwd=ROOT, capture_output=True,
                           text=True, timeout=170)
    assert built.returncode == 0, built.stdout + built.stderr


@pytest.fixture(scope="module")
async def nmt_key(mesh) -> str:
    """A fresh API key with only the nmt scope, made through the edge with the admin key."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        answer = await auth_grpc.AuthServiceStub(channel).CreateApiKey(
            auth_pb.CreateApiKeyRequest(display_name="sdk-examples", scopes=["nmt"]),
            timeout=10, metadata=(("x-api-key", mesh.admin_key()),))
    return answer.key


@pytest.fixture(scope="module")
async def expected(mesh, nmt_key) -> list[str]:
    """What the Python stubs get through the edge for the same texts."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        answer = await pb_grpc.NmtServiceStub(channel).TranslateText(
            pb.TranslateTextRequest(contents=TEXTS, source_language_code="hi", target_language_code="ur"),
            timeout=15, metadata=(("x-api-key", nmt_key),))
    texts = [t.translated_text for t in answer.translations]
    assert all(any("\u0600" <= ch <= "\u06ff" for ch in text) for text in texts)
    return texts


def run_example(command: list[str], key: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AI4VC_API_KEY": key}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def commands(mesh, example: str, source: str, target: str, texts: list[str]) -> list[str]:
    edge = f"127.0.0.1:{mesh.ports.envoy}"
    if example == "ts-grpc":
        return ["node", str(TS_EXAMPLE), "--target", f"http://{edge}", "--from", source, "--to", target, *texts]
    if example == "ts-grpc-web":
        return ["node", str(TS_EXAMPLE), "--target", f"http://{edge}", "--protocol", "grpc-web",
                "--from", source, "--to", target, *texts]
    if example == "go":
        return [str(GO_EXAMPLE), "-target", edge, "-from", source, "-to", target, *texts]
    if example == "ruby":
        return ["ruby", "-Isdk/ruby/lib", "sdk/ruby/examples/translate.rb", edge, source, target, *texts]
    if example == "java":
        return ["java", "-cp", JAVA_CLASSPATH.read_text().strip(), "org.ai4vc.examples.Translate",
                edge, source, target, *texts]
    return [str(CPP_EXAMPLE), edge, source, target, *texts]


EXAMPLES = ["ts-grpc", "ts-grpc-web", "go", "ruby"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_translates_through_envoy(mesh, examples_built, nmt_key, expected, example):
    """Each example prints, one per line, the translations the Python stubs get."""
    result = run_example(commands(mesh, example, "hi", "ur", TEXTS), nmt_key)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == expected


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_reports_the_error_reason(mesh, examples_built, nmt_key, example):
    """An unsupported pair exits 1 with INVALID_ARGUMENT's reason and the field, read from ErrorInfo /
    BadRequest by the SDK's error helpers."""
    result = run_example(commands(mesh, example, "hi", "ta", ["नमस्ते"]), nmt_key)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "UNSUPPORTED_LANGUAGE_PAIR" in result.stderr
    assert "source_language_code" in result.stderr


def test_example_without_a_valid_key_is_refused(mesh, examples_built):
    """A wrong key is refused at the edge and the example says UNAUTHENTICATED."""
    result = run_example(commands(mesh, "go", "hi", "ur", ["नमस्ते"]), "not-a-key")
    assert result.returncode == 1
    assert "Unauthenticated" in result.stderr


@pytest.mark.parametrize(("example", "built"), [("cpp", CPP_EXAMPLE), ("java", JAVA_CLASSPATH)])
def test_compiled_examples_translate_through_envoy(mesh, nmt_key, expected, example, built):
    """The C++ and Java examples (built by `make sdks-check`, which CI runs before the tests) print
    the same translations."""
    if not built.exists():
        pytest.skip(f"{example} example not built: make sdks-check builds {built.relative_to(ROOT)}")
    result = run_example(commands(mesh, example, "hi", "ur", TEXTS), nmt_key)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == expected
