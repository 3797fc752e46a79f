"""Reading the platform's events from Kafka: a typed, at-least-once consumer.

`EventConsumer` yields `ai4vc.events.v1.Event` messages and moves its offset past an event only
after the caller is done with it — when the loop asks for the next event, or when `run`'s
handler returned — so a consumer that dies mid-event reads that event again. Offsets are
committed to Kafka when a `group_id` is given, otherwise kept in `positions`. Delivery is at
least once: handlers must be idempotent by `Event.id`.

`assign()` reads explicit partitions without joining a consumer group (tansu's group join takes
~23 s, and a single reader needs no rebalancing); `subscribe()` joins the group, for replicas
sharing the work.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType

from aiokafka import AIOKafkaConsumer, TopicPartition
from google.protobuf.message import DecodeError

from ai4vc.events.v1 import events_pb2

log = logging.getLogger(__name__)

Handler = Callable[[events_pb2.Event], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class Delivery:
    """One Kafka message as `batches()` hands it out: where it sits, and the event it holds
    (None for a message that is not an `Event`: skipped, but its offset still counts)."""

    topic: str
    partition: int
    offset: int
    event: events_pb2.Event | None


class EventConsumer:
    def __init__(self, bootstrap: str, *, group_id: str | None = None, from_beginning: bool = True,
                 client_id: str = "ai4vc-events-consumer") -> None:
        self.group_id = group_id
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group_id, client_id=client_id, enable_auto_commit=False,
            auto_offset_reset="earliest" if from_beginning else "latest")
        # Next offset to read per partition, stored once the event before it was handled.
        self.positions: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def __aenter__(self) -> EventConsumer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def assign(self, topics: Sequence[str], partitions: Mapping[str, Sequence[int]] | None = None,
                     timeout_s: float = 10.0) -> list[TopicPartition]:
        """Reads `topics` (every partition, or those `partitions` names) without a group join.
        Waits up to `timeout_s` for topics that do not exist yet (the relay creates them)."""
        deadline = time.monotonic() + timeout_s
        assigned: list[TopicPartition] = []
        await self._consumer.topics()
        for topic in topics:
            numbers: Sequence[int] | None = (partitions or {}).get(topic)
            while numbers is None:
                found = self._consumer.partitions_for_topic(topic)
                if found:
                    numbers = sorted(found)
                    break
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"topic {topic} has no partitions after {timeout_s} s")
                await asyncio.sleep(0.1)
                await self._consumer.topics()  # refreshes the cluster metadata
            assigned += [TopicPartition(topic, p) for p in numbers]
        self._consumer.assign(assigned)
        return assigned

    def subscribe(self, topics: Sequence[str]) -> None:
        """Joins `group_id`'s consumer group for `topics` (partitions shared among replicas)."""
        if not self.group_id:
            raise ValueError("subscribe needs a group_id")
        self._consumer.subscribe(list(topics))

    async def events(self, poll_timeout_s: float = 1.0) -> AsyncIterator[events_pb2.Event]:
        """Every event, in partition order; an event's offset is stored when the next is asked
        for. A message that is not an `Event` is logged and skipped. Each call starts at the
        stored positions, so an event a failed handler left unstored is read again."""
        self._rewind()
        while True:
            batches = await self._consumer.getmany(timeout_ms=int(poll_timeout_s * 1000))
            for tp, messages in batches.items():
                for message in messages:
                    try:
                        event = events_pb2.Event.FromString(message.value or b"")
                    except DecodeError:
                        log.error("not an ai4vc event; skipped", extra={"topic": tp.topic, "offset": message.offset})
                    else:
                        yield event
                    await self._store(tp, message.offset + 1)

    async def batches(self, poll_timeout_s: float = 1.0, max_records: int | None = None
                      ) -> AsyncIterator[list[Delivery]]:
        """The events a batch at a time, with their partitions and offsets, for a consumer that
        keeps its own offsets (in the same database transaction as what it makes of the batch;
        seed them into `positions` before the first call). A batch's positions are stored when
        the next batch is asked for; empty polls are not yielded."""
        self._rewind()
        while True:
            fetched = await self._consumer.getmany(timeout_ms=int(poll_timeout_s * 1000), max_records=max_records)
            batch: list[Delivery] = []
            for tp, messages in fetched.items():
                for message in messages:
                    try:
                        event: events_pb2.Event | None = events_pb2.Event.FromString(message.value or b"")
                    except DecodeError:
                        log.error("not an ai4vc event; skipped", extra={"topic": tp.topic, "offset": message.offset})
                        event = None
                    batch.append(Delivery(tp.topic, tp.partition, message.offset, event))
            if not batch:
                continue
            yield batch
            for item in batch:
                await self._store(TopicPartition(item.topic, item.partition), item.offset + 1)

    async def end_offsets(self) -> dict[TopicPartition, int]:
        """The next offset each assigned partition will write (its end)."""
        return dict(await self._consumer.end_offsets(list(self._consumer.assignment())))

    async def beginning_offsets(self) -> dict[TopicPartition, int]:
        """The first offset each assigned partition still holds."""
        return dict(await self._consumer.beginning_offsets(list(self._consumer.assignment())))

    def __aiter__(self) -> AsyncIterator[events_pb2.Event]:
        return self.events()

    async def run(self, handler: Handler) -> None:
        """Calls `handler` for each event until cancelled; an event whose handler raised is not
        marked read (the exception ends the loop, the event is read again next time)."""
        async for event in self.events():
            await handler(event)

    async def read_to_end(self, timeout_s: float = 10.0) -> list[events_pb2.Event]:
        """Every event up to the current end of the assigned partitions (backfills, tests)."""
        self._rewind()
        assignment = self._consumer.assignment()
        ends = await self._consumer.end_offsets(list(assignment))
        read: list[events_pb2.Event] = []
        deadline = time.monotonic() + timeout_s

        async def done() -> bool:
            for tp, end in ends.items():
                if await self._consumer.position(tp) < end:
                    return False
            return True

        while not await done():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"not at the end of {sorted(map(str, ends))} after {timeout_s} s")
            batches = await self._consumer.getmany(*ends, timeout_ms=200)
            for tp, messages in batches.items():
                for message in messages:
                    try:
                        read.append(events_pb2.Event.FromString(message.value or b""))
                    except DecodeError:
                        log.error("not an ai4vc event; skipped", extra={"topic": tp.topic, "offset": message.offset})
                    await self._store(tp, message.offset + 1)
        return read

    def _rewind(self) -> None:
        """Back to the stored positions: the client has fetched (and moved past) messages that an
        abandoned loop never handled."""
        for tp, offset in self.positions.items():
            if tp in self._consumer.assignment():
                self._consumer.seek(tp, offset)

    async def _store(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset
        if self.group_id:
            await self._consumer.commit({tp: offset})
