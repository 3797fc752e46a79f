"""Identity that the edge sets on a request (Envoy's jwt_authn/basic_auth and the identity Lua
filter), parsed in this one place. Clients can't forge these headers: the edge strips them from
client input before it adds its own.

Servicers call `identity_of(context)` once per call and hand the parts on (the principal to
records, the key id to usage metering, the scopes to auth checks); backends never read a grpc
context themselves."""

from __future__ import annotations

import dataclasses

import grpc

from services.common.callers import Caller

PRINCIPAL_HEADER = "x-ai4vc-principal"
KEY_ID_HEADER = "x-ai4vc-key-id"
SCOPES_HEADER = "x-ai4vc-scopes"
IDENTITY_HEADERS = (PRINCIPAL_HEADER, KEY_ID_HEADER, SCOPES_HEADER)

# Longest values kept: the edge never sets longer ones, so anything past this is not from it.
_MAX_PRINCIPAL = 256
_MAX_KEY_ID = 64
_MAX_SCOPES = 1024


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who the edge says the caller is. Empty fields: no authenticated caller (principal), a
    bearer-token caller rather than an API key (key_id), no scopes."""

    principal: str = ""
    key_id: str = ""
    scopes: frozenset[str] = frozenset()

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The identity as the headers the edge sets, for passing on to a downstream service
        (empty parts are left out, as the edge leaves them out)."""
        headers = []
        if self.principal:
            headers.append((PRINCIPAL_HEADER, self.principal))
        if self.key_id:
            headers.append((KEY_ID_HEADER, self.key_id))
        if self.scopes:
            headers.append((SCOPES_HEADER, ",".join(sorted(self.scopes))))
        return tuple(headers)


def identity_of(context: grpc.aio.ServicerContext) -> Identity:
    """The caller's identity from this call's metadata; an empty `Identity` when there is none."""
    found: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        # The first of each wins; a `-bin` (bytes) value is never one of ours.
        if key in IDENTITY_HEADERS and key not in found and isinstance(value, str):
            found[key] = value
    scopes = found.get(SCOPES_HEADER, "")[:_MAX_SCOPES]
    return Identity(principal=found.get(PRINCIPAL_HEADER, "")[:_MAX_PRINCIPAL],
                    key_id=found.get(KEY_ID_HEADER, "")[:_MAX_KEY_ID],
                    scopes=frozenset(s for s in (part.strip() for part in scopes.split(",")) if s))


def caller_of(context: grpc.aio.ServicerContext) -> Caller:
    """The domain-side caller (principal and scopes) of this call."""
    identity = identity_of(context)
    return Caller(identity.principal, identity.scopes)
