"""Routing fixtures: a controlled clock, the example roster, and RQ driven in-process."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rq import SimpleWorker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from bot.jobs import get_queue
from bot.models import Case, Channel
from bot.outbound import read_outbox
from bot.responders import Roster, parse_roster, store_roster
from bot.runtime import Runtime
from workers import context

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "responders.toml"
# Monday 2 Nov 2026, 08:30 in Kolkata: asha holds primary, ravi secondary (see the example).
START = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
REPORTER = "+919800012345"
CRITICAL_TEXT = "a 14 year old girl is being taken to Delhi by bus tonight, help"


_MESSAGE_IDS = itertools.count(1)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def use_runtime(runtime: Runtime, clock: Clock) -> Iterator[Runtime]:
    """Give the runtime the test clock and make it the jobs' context."""
    runtime.store.clock = clock
    runtime.outbound.clock = clock
    context.install(runtime)
    yield runtime
    context.uninstall()


def import_example(rt: Runtime, clock: Clock) -> Roster:
    return store_roster(rt.redis, rt.privacy, parse_roster(EXAMPLE.read_text()), clock())


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def rt(runtime: Runtime, clock: Clock) -> Iterator[Runtime]:
    yield from use_runtime(runtime, clock)


@pytest.fixture
def roster(rt: Runtime, clock: Clock) -> Roster:
    return import_example(rt, clock)


def submit(
    rt: Runtime,
    text: str = CRITICAL_TEXT,
    *,
    address: str = REPORTER,
    channel: Channel = Channel.SMS,
    message_id: str | None = None,
    language: str | None = None,
) -> Case:
    intake = rt.intake.submit(
        channel=channel,
        address=address,
        text=text,
        message_id=message_id or f"m-{next(_MESSAGE_IDS)}",
        received_at=rt.store.clock(),
        language=language,
        country="IN",
    )
    return intake.case


def work(rt: Runtime) -> None:
    SimpleWorker([get_queue(rt.redis)], connection=rt.redis, serializer=JSONSerializer).work(
        burst=True
    )


def move_due(rt: Runtime, clock: Clock) -> int:
    """Enqueue scheduled jobs due by the test clock (their ``due_at``), as RQ's scheduler
    would when the real time came."""
    queue = get_queue(rt.redis)
    registry = ScheduledJobRegistry(queue=queue)
    moved = 0
    for job_id in registry.get_job_ids():
        job = Job.fetch(job_id, connection=rt.redis, serializer=JSONSerializer)
        due = job.meta.get("due_at")
        if due is not None and datetime.fromisoformat(due) > clock():
            continue
        registry.remove(job)
        queue.enqueue_job(job)
        moved += 1
    return moved


def run_until(rt: Runtime, clock: Clock, **delta: float) -> None:
    """Advance the clock and run every job that falls due, as a live worker would."""
    clock.advance(**delta)
    work(rt)
    while move_due(rt, clock):
        work(rt)


def alerts(rt: Runtime, ref: str | None = None) -> list[dict[str, object]]:
    return [
        e
        for e in read_outbox(rt.redis, 10_000)
        if e["kind"] == "alert" and (ref is None or e["case_ref"] == ref)
    ]


def alerted(rt: Runtime, ref: str) -> list[tuple[str, str]]:
    """(responder, channel) pairs in send order."""
    return [(str(e["to"]), str(e["channel"])) for e in alerts(rt, ref)]
