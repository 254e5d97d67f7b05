"""/healthz and /metrics over real HTTP (aiohttp test server) and a real Redis."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from bot.app import create_app
from bot.jobs import get_queue
from bot.models import Channel
from bot.runtime import Runtime


async def test_healthz_reports_redis_workers_and_channels(runtime: Runtime) -> None:
    async with TestClient(TestServer(create_app(runtime))) as client:
        resp = await client.get("/healthz")
        body = await resp.json()
        assert resp.status == 200
        assert body["redis"] == "ok"
        assert body["workers"] == 0
        assert body["status"] == "degraded"
        assert body["channels"] == {"sms": "sandbox", "telegram": "sandbox"}

        worker = SimpleWorker(
            [get_queue(runtime.redis)], connection=runtime.redis, serializer=JSONSerializer
        )
        worker.register_birth()
        runtime.redis.set("rq:scheduler-lock:sajag", worker.name, ex=60)
        try:
            body = await (await client.get("/healthz")).json()
        finally:
            worker.register_death()
        assert body["workers"] == 1
        assert body["scheduler"] is True
        assert body["status"] == "ok"


async def test_metrics_count_reports_cases_and_queue(runtime: Runtime) -> None:
    await asyncio.to_thread(
        runtime.intake.submit,
        channel=Channel.SMS,
        address="+919800000031",
        text="girls locked in a spa room right now",
        message_id="SMm1",
    )
    await asyncio.to_thread(
        runtime.intake.submit,
        channel=Channel.TELEGRAM,
        address="5551234",
        text="hello",
        message_id="1:2",
    )
    async with TestClient(TestServer(create_app(runtime))) as client:
        resp = await client.get("/metrics")
        text = await resp.text()
    assert resp.status == 200
    assert 'sajag_reports_received_total{channel="sms"} 1' in text
    assert 'sajag_reports_received_total{channel="telegram"} 1' in text
    assert 'sajag_cases{urgency="critical"} 1' in text
    assert 'sajag_cases_by_status{status="triaged"} 2' in text
    assert 'sajag_queue_depth{queue="sajag"} 2' in text
    assert "sajag_time_to_first_alert_seconds_bucket" in text
