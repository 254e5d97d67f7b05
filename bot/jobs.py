"""RQ queue access. Jobs are enqueued by dotted name so nothing here imports ``workers``."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import redis
from redis.client import Pipeline
from rq import Queue, Retry
from rq.job import Job
from rq.serializers import JSONSerializer

QUEUE_NAME = "sajag"
ROUTE_CASE = "workers.routing.route_case"


def get_queue(connection: redis.Redis, name: str = QUEUE_NAME) -> Queue:
    return Queue(name, connection=connection, serializer=JSONSerializer)


def safe_job_id(*parts: object) -> str:
    """Job ids may hold only letters, digits, ``_`` and ``-`` (rq >= 2.8)."""
    raw = "_".join(str(p) for p in parts)
    return "".join(ch if ch.isalnum() or ch in "_-" else "-" for ch in raw)


def enqueue(
    connection: redis.Redis,
    func: str,
    *args: Any,
    job_id: str,
    pipeline: Pipeline | None = None,
    retry: Retry | None = None,
    timeout: int = 120,
) -> Job:
    return get_queue(connection).enqueue_call(
        func,
        args=args,
        job_id=job_id,
        pipeline=pipeline,
        retry=retry or Retry(max=5, interval=[5, 15, 60, 180, 600]),
        timeout=timeout,
        result_ttl=3600,
        failure_ttl=30 * 86400,
    )


def enqueue_in(
    connection: redis.Redis,
    delay: timedelta,
    func: str,
    *args: Any,
    job_id: str,
    retry: Retry | None = None,
) -> Job:
    return get_queue(connection).enqueue_in(
        delay,
        func,
        *args,
        job_id=job_id,
        retry=retry or Retry(max=5, interval=[5, 15, 60, 180, 600]),
        result_ttl=3600,
        failure_ttl=30 * 86400,
    )


def route_job_id(ref: str, version: int) -> str:
    return safe_job_id("route", ref, version)


def enqueue_route(
    connection: redis.Redis, ref: str, version: int, pipeline: Pipeline | None = None
) -> Job:
    return enqueue(
        connection, ROUTE_CASE, ref, job_id=route_job_id(ref, version), pipeline=pipeline
    )


# Periodic jobs: every worker's ticker offers them; a SET NX per time slot lets one win.
RECONCILE = "workers.routing.reconcile_open_cases"
DAILY_MAINTENANCE = "workers.retention.daily_maintenance"
PERIODIC: tuple[tuple[str, int], ...] = ((RECONCILE, 60), (DAILY_MAINTENANCE, 3600))


def offer_periodic(connection: redis.Redis, now_ts: float) -> list[str]:
    """Enqueue each periodic job once per interval across all workers; returns those enqueued."""
    enqueued = []
    for func, every in PERIODIC:
        slot = int(now_ts // every)
        name = func.rsplit(".", 1)[1]
        if connection.set(f"sajag:periodic:{name}:{slot}", "1", nx=True, ex=every * 2):
            enqueue(
                connection, func, job_id=safe_job_id(name, slot), retry=Retry(max=2, interval=10)
            )
            enqueued.append(func)
    return enqueued


def recover_abandoned_jobs(connection: redis.Redis) -> int:
    """Retry every job a dead worker left in the started registry; returns how many.

    Only safe when no worker can be alive, as when ``sajag run`` has just started its own
    Redis: the workers of the previous run died with it. RQ would otherwise wait for the
    jobs' heartbeats to expire (minutes) and a maintenance pass.
    """
    registry = get_queue(connection).started_job_registry
    abandoned = len(registry.get_job_ids(cleanup=False))
    if abandoned:
        registry.cleanup(timestamp=time.time() + 10**9)
    return abandoned
