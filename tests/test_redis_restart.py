"""Redis killed and restarted under a live worker: nothing acknowledged is lost, the
worker reconnects and scheduled jobs still fire (RELIABILITY.md fault 3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from bot.jobs import enqueue_in, get_queue
from bot.models import Channel
from bot.redis import EmbeddedRedis
from bot.runtime import build_runtime
from bot.settings import Settings

pytestmark = pytest.mark.slow


def _wait(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except redis.RedisError:
            pass
        time.sleep(0.2)
    return False


def test_redis_restart_keeps_reports_and_scheduled_jobs(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis", persistent=True).start()
    port = server.port
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        redis_url=server.url,  # type: ignore[call-arg]
        secret_key="k",
    )
    runtime = build_runtime(settings)
    intake = runtime.intake.submit(
        channel=Channel.SMS,
        address="+919800000055",
        text="boy beaten at the kiln right now",
        message_id="SMr1",
    )
    marker = tmp_path / "fired"
    enqueue_in(runtime.redis, timedelta(seconds=4), "os.mkdir", str(marker), job_id="touch_marker")
    env = {
        **os.environ,
        "SAJAG_REDIS_URL": server.url,
        "SAJAG_DATA_DIR": str(tmp_path / "data"),
        "SAJAG_SECRET_KEY": "k",
        "SAJAG_LOG_LEVEL": "WARNING",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait(lambda: runtime.redis.exists("rq:scheduler-lock:sajag")), (
            "worker and scheduler up"
        )
        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)  # a crash: only the fsynced AOF remains
        server.process.wait()
        server.process = None
        time.sleep(1)
        restarted = EmbeddedRedis(tmp_path / "redis", port=port, persistent=True).start()
        try:
            client = redis.Redis.from_url(restarted.url)
            assert client.exists(f"sajag:case:{intake.case.ref}")
            assert client.llen(f"sajag:case:{intake.case.ref}:messages") == 1
            assert _wait(marker.exists), "the scheduled job fired after the restart"
            assert _wait(
                lambda: get_queue(client).count == 0 and client.exists("rq:scheduler-lock:sajag")
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(20)
            restarted.stop()
    finally:
        if worker.poll() is None:
            worker.kill()
        server.stop()
