"""What a job runs with: the runtime (Redis, store, outbound, privacy) and its clock.

RQ jobs are thin: they take ids, get the context and call plain functions that receive
everything as arguments. A worker process builds its context from ``Settings`` once;
tests install their own (a runtime whose store and outbound carry a controlled clock).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rq import Retry
from rq.job import Job

from bot.jobs import get_queue
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings

SEND_RETRY = Retry(max=5, interval=[5, 15, 60, 180, 600])


@dataclass
class _Installed:
    runtime: Runtime | None = None
    pid: int = 0


# One context per process: set at start-up by tests, or built on first use in a worker.
_installed = _Installed()


def install(runtime: Runtime) -> Runtime:
    _installed.runtime, _installed.pid = runtime, os.getpid()
    return runtime


def uninstall() -> None:
    _installed.runtime, _installed.pid = None, 0


def runtime() -> Runtime:
    """This process's runtime (a forked job builds its own: connections do not cross forks)."""
    if _installed.runtime is None or _installed.pid != os.getpid():
        return install(build_runtime(Settings()))
    return _installed.runtime


def now(rt: Runtime) -> datetime:
    return rt.store.clock()


def schedule(
    rt: Runtime,
    due: datetime,
    func: str,
    *args: Any,
    job_id: str,
    pipeline: Any = None,
) -> Job:
    """Run ``func`` at ``due`` (by the runtime's clock) through RQ's scheduler.

    The due time rides along in ``meta`` so a test clock can tell which jobs are due.
    """
    delay = max(timedelta(0), due - now(rt))
    return get_queue(rt.redis).enqueue_in(
        delay,
        func,
        *args,
        job_id=job_id,
        meta={"due_at": due.isoformat()},
        retry=SEND_RETRY,
        result_ttl=3600,
        failure_ttl=30 * 86400,
        pipeline=pipeline,
    )
