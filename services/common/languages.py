"""Language codes in requests: BCP-47 tags reduced to the primary language subtag that models
and voices are keyed by. Knows nothing of grpc; a bad tag is an `InvalidArgument`.
"""

from __future__ import annotations

from services.common.errors import InvalidArgument, Reason

MAX_LANGUAGE_CODE_CHARS = 35


def normalize_language(code: str, field: str, *, required: bool = False) -> str:
    """BCP-47 tag → its lowercase primary language subtag ("hi-IN" → "hi").

    An empty tag gives "" (no language asked for), or FIELD_REQUIRED when `required`.
    """
    code = code.strip()
    if required and not code:
        raise InvalidArgument(f"{field} is required", reason=Reason.FIELD_REQUIRED, field=field)
    if len(code) > MAX_LANGUAGE_CODE_CHARS:
        raise InvalidArgument(f"{field} is longer than {MAX_LANGUAGE_CODE_CHARS} characters",
                              reason=Reason.FIELD_OUT_OF_RANGE, field=field)
    primary = code.replace("_", "-").split("-")[0].lower()
    if code and not (primary.isascii() and primary.isalpha() and 2 <= len(primary) <= 3):
        raise InvalidArgument(f"{field}={code!r} is not a BCP-47 language tag", reason=Reason.UNSUPPORTED_LANGUAGE,
                              field=field)
    return primary
