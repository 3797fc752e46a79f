"""Identity that Envoy's authz sets on a request. Clients can't forge these: the edge strips
them from client input before authz adds its own."""

from __future__ import annotations

import grpc

PRINCIPAL_HEADER = "x-ai4vc-principal"
KEY_ID_HEADER = "x-ai4vc-key-id"
SCOPES_HEADER = "x-ai4vc-scopes"
IDENTITY_HEADERS = (PRINCIPAL_HEADER, KEY_ID_HEADER, SCOPES_HEADER)


def principal_of(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == PRINCIPAL_HEADER:
            return str(value)[:256]
    return ""
