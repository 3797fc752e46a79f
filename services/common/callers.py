"""Who is calling, as the edge authenticated it, for domain cores (grpc-free): the principal and
its scopes, with the checks every service makes. `services.common.rpc.identity.caller_of` builds
one from a call's identity headers."""

from __future__ import annotations

import dataclasses

from services.common.errors import PermissionDenied, Reason, Unauthenticated


@dataclasses.dataclass(frozen=True)
class Caller:
    principal: str
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    def require(self) -> Caller:
        """The caller, or UNAUTHENTICATED when the edge named none."""
        if not self.principal:
            raise Unauthenticated("no authenticated caller")
        return self

    def require_scope(self, scope: str, message: str, reason: Reason = Reason.PERMISSION_DENIED) -> Caller:
        """The caller, when it holds `scope` (or admin); PERMISSION_DENIED with `reason` otherwise."""
        if scope not in self.require().scopes and not self.is_admin:
            raise PermissionDenied(message, reason=reason)
        return self
