"""A real forked ``sajag worker`` SIGKILLed mid-alert: the case is still routed, each
alert is sent exactly once per idempotency key (RELIABILITY.md fault 1)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from bot.jobs import get_queue, route_job_id
from bot.models import Channel, utcnow
from bot.outbound import read_outbox
from bot.redis import EmbeddedRedis
from bot.runtime import Runtime
from tests.workers.conftest import CRITICAL_TEXT, import_example, use_runtime
from workers.alerts import DELAY_ENV
from workers.routing import reconcile

REPO = Path(__file__).resolve().parents[2]


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def start_worker(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> Iterator[Callable[[dict[str, str]], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(extra: dict[str, str]) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "SAJAG_REDIS_URL": redis_server.url,
            "SAJAG_SECRET_KEY": "test-secret-key-not-for-production",
            "SAJAG_DATA_DIR": str(tmp_path / "data"),
            "SAJAG_LOG_LEVEL": "WARNING",
            **extra,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker"],
            cwd=REPO,
            env=env,
            start_new_session=True,  # its own process group: SIGKILL takes the horse too
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_sigkill_mid_alert_then_retried_and_reconciled(
    runtime: Runtime, start_worker: Callable[[dict[str, str]], subprocess.Popen[bytes]]
) -> None:
    offset = timedelta(0)

    def clock() -> datetime:
        return utcnow() + offset

    rt = next(use_runtime(runtime, clock))  # type: ignore[arg-type]
    import_example(rt, clock)  # type: ignore[arg-type]
    case = rt.intake.submit(
        channel=Channel.SMS,
        address="+919800012345",
        text=CRITICAL_TEXT,
        message_id="kill-1",
    ).case
    job_id = route_job_id(case.ref, case.version)

    doomed = start_worker({DELAY_ENV: "60"})
    job = Job.fetch(job_id, connection=rt.redis, serializer=JSONSerializer)
    wait_for(lambda: job.get_status(refresh=True) == JobStatus.STARTED, 20, "the job to start")
    time.sleep(0.5)  # inside the send's delay
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    assert read_outbox(rt.redis) == []
    assert job.get_status(refresh=True) == JobStatus.STARTED  # orphaned in the registry

    start_worker({})
    offset = timedelta(minutes=2)  # the orphan now looks as stale as it is
    counts = reconcile(rt)
    assert counts["rerouted"] + counts["rescheduled"] == 1
    wait_for(lambda: len(read_outbox(rt.redis)) >= 1, 20, "the first alert")
    time.sleep(1)
    first = read_outbox(rt.redis)

    # RQ's own recovery of the abandoned job (normally after its heartbeat expires) retries
    # route_case. The dead worker's scheduler lock is still held, so the retry is moved
    # to the queue here rather than waiting for that lock to expire.
    queue = get_queue(rt.redis)
    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 3600)
    assert job.get_status(refresh=True) == JobStatus.SCHEDULED
    queue.scheduled_job_registry.remove(job)
    queue.enqueue_job(job)
    wait_for(
        lambda: job.get_status(refresh=True) == JobStatus.FINISHED, 30, "the retried job to finish"
    )
    outbox = read_outbox(rt.redis)
    assert outbox == first
    keys = [e["key"] for e in outbox]
    assert len(keys) == len(set(keys))
    assert {e["kind"] for e in outbox} == {"alert"}
    assert rt.store.require(case.ref).assignee is not None
