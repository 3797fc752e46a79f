"""AI4V-C: the Python SDK (`ai4vc.sdk`), the CLI (`ai4vc.cli`) and the generated API messages
(`ai4vc.<api>.v1`, e.g. `ai4vc.nmt.v1.nmt_service_pb2`).

`extend_path` lets a source checkout put this package before gen/python on sys.path and still
import the generated messages from there; an installed wheel holds both in one directory."""

from __future__ import annotations

from pkgutil import extend_path
from typing import TYPE_CHECKING, Any

__path__ = extend_path(__path__, __name__)
__version__ = "0.1.0"

if TYPE_CHECKING:
    from ai4vc.sdk import AsyncClient as AsyncClient
    from ai4vc.sdk import Client as Client

_LAZY = {"Client", "AsyncClient", "ApiKey", "Jwt", "RetryPolicy", "Ai4vcError"}


def __getattr__(name: str) -> Any:
    # Lazy, so that `import ai4vc.nmt.v1...` in a server process does not load the client stack.
    if name in _LAZY:
        from ai4vc import sdk

        return getattr(sdk, name)
    raise AttributeError(name)
