"""After a lost Redis the worker frees its dead scheduler's lock (test_redis_restart.py
drives the whole fault; the reconnect branch there depends on timing, so it is pinned
down here)."""

from __future__ import annotations

import redis
from rq import SimpleWorker
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer

from bot.cli import _free_scheduler_lock
from bot.jobs import get_queue

LOCK = "rq:scheduler-lock:sajag"


def test_the_lost_schedulers_lock_is_released(redis_client: redis.Redis) -> None:
    queue = get_queue(redis_client)
    worker = SimpleWorker([queue], connection=redis_client, serializer=JSONSerializer)
    worker.scheduler = RQScheduler([queue], connection=redis_client, serializer=JSONSerializer)
    assert worker.scheduler.acquire_locks() == {"sajag"}
    assert redis_client.exists(LOCK)
    _free_scheduler_lock(worker)
    assert not redis_client.exists(LOCK), "a new worker's scheduler can take over at once"


def test_another_schedulers_lock_is_left_alone(redis_client: redis.Redis) -> None:
    queue = get_queue(redis_client)
    redis_client.set(LOCK, "someone-else", ex=60)
    worker = SimpleWorker([queue], connection=redis_client, serializer=JSONSerializer)
    worker.scheduler = RQScheduler([queue], connection=redis_client, serializer=JSONSerializer)
    assert worker.scheduler.acquire_locks() == set()
    _free_scheduler_lock(worker)
    assert redis_client.get(LOCK) == b"someone-else"
