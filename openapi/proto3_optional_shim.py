"""protoc plugin wrapper: runs Debian's protoc-gen-swagger (grpc-gateway 1.6.4) and declares
FEATURE_PROTO3_OPTIONAL in its answer.

That release predates proto3 `optional`, so protoc refuses to run it on a file that has one
(ai4vc/config/v1). The plugin handles such a field as a plain field, which is what it is on the
JSON wire (absent or present; the synthetic oneof is not visible in JSON), so only the feature
flag is missing. Env: AI4VC_SWAGGER_PLUGIN, the plugin binary (default protoc-gen-swagger on PATH).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from google.protobuf.compiler import plugin_pb2


def main() -> int:
    binary = os.environ.get("AI4VC_SWAGGER_PLUGIN") or shutil.which("protoc-gen-swagger")
    if not binary:
        sys.stderr.write("protoc-gen-swagger not found (apt-get install golang-grpc-gateway)\n")
        return 1
    request = sys.stdin.buffer.read()
    done = subprocess.run([binary], input=request, capture_output=True, check=False)
    sys.stderr.buffer.write(done.stderr)
    if done.returncode != 0:
        return done.returncode
    response = plugin_pb2.CodeGeneratorResponse.FromString(done.stdout)
    response.supported_features |= plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
