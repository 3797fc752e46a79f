"""The blocks the control plane publishes, decided off the request path.

- Failed authentications, read from Envoy's JSON access log: a 401 for a credential (not a call
  that carried none) counts against the client address — or, when it named a key that exists
  (a bad secret for a known key), against that (address, key id) pair only, so one office's
  brute-forcer behind a shared address does not lock out a different valid key. `limit` failures
  in a minute block the address (or pair) for a minute: 429 + Retry-After.
- Daily quotas: the services meter characters and audio seconds into Redis
  (`services.common.backends.usage`); a key past either of its daily quotas is blocked until
  the UTC day ends (429, DAILY_QUOTA_EXCEEDED).
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterable

from gateway.edge.render import Block, EdgeKey

WINDOW_S = 60


class FailureCounter:
    def __init__(self, limit: int, known_key: Callable[[str], bool]) -> None:
        self.limit = limit
        self.known_key = known_key
        self._window = 0
        self._counts: dict[str, int] = {}
        self.blocks: dict[str, Block] = {}  # kind + subject → block

    def record_line(self, line: str, now: float | None = None) -> bool:
        """Counts one access-log line; True when it made a new block."""
        try:
            entry = json.loads(line)
        except ValueError:
            return False
        if not isinstance(entry, dict) or str(entry.get("status")) != "401":
            return False
        credential = entry.get("credential") or "-"
        if credential in ("-", "", None):
            return False  # no credential at all: a client that has not tried one
        address = str(entry.get("client") or "")
        key_id = str(entry.get("key_id") or "-")
        if not address:
            return False
        if key_id != "-" and self.known_key(key_id):
            return self.record("p", f"{address}|{key_id}", now)
        return self.record("a", address, now)

    def record(self, kind: str, subject: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        window = int(now // WINDOW_S)
        if window != self._window:
            self._window, self._counts = window, {}
        name = kind + subject
        self._counts[name] = self._counts.get(name, 0) + 1
        current = self.blocks.get(name)
        if self._counts[name] >= self.limit and (current is None or current.until <= now):
            self.blocks[name] = Block(kind, subject, int(now) + WINDOW_S, "FAILED_ATTEMPTS")
            return True
        return False

    def active(self, now: float | None = None) -> list[Block]:
        now = time.time() if now is None else now
        for name in [n for n, b in self.blocks.items() if b.until <= now]:
            del self.blocks[name]
        return list(self.blocks.values())


def end_of_utc_day(now: float | None = None) -> int:
    moment = datetime.datetime.fromtimestamp(time.time() if now is None else now, datetime.UTC)
    midnight = datetime.datetime.combine(moment.date() + datetime.timedelta(days=1), datetime.time(),
                                         datetime.UTC)
    return int(midnight.timestamp())


def quota_blocks(keys: Iterable[EdgeKey], usage: dict[str, tuple[int, float]], now: float | None = None
                 ) -> list[Block]:
    """Blocks for the keys whose metered usage today reached a daily quota."""
    until = end_of_utc_day(now)
    out = []
    for key in keys:
        characters, audio = usage.get(key.key_id, (0, 0.0))
        if ((key.characters_per_day and characters >= key.characters_per_day)
                or (key.audio_seconds_per_day and audio >= key.audio_seconds_per_day)):
            out.append(Block("k", key.key_id, until, "DAILY_QUOTA_EXCEEDED"))
    return out
