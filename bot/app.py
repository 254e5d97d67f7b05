"""aiohttp wiring: health, metrics, and the channel handlers' routes."""

from __future__ import annotations

import asyncio
import logging

import redis
from aiohttp import web
from rq import Worker

import handlers.telegram
import handlers.twilio
from bot import metrics
from bot.jobs import QUEUE_NAME
from bot.outbound import channel_modes
from bot.runtime import Runtime
from bot.web import RUNTIME

log = logging.getLogger(__name__)

SCHEDULER_LOCK = "rq:scheduler-lock:" + QUEUE_NAME


def health(runtime: Runtime) -> tuple[dict[str, object], int]:
    body: dict[str, object] = {
        "status": "ok",
        "redis": "ok",
        "workers": 0,
        "scheduler": False,
        "channels": channel_modes(runtime.settings),
    }
    try:
        runtime.redis.ping()
        body["workers"] = Worker.count(connection=runtime.redis)
        body["scheduler"] = bool(runtime.redis.exists(SCHEDULER_LOCK))
    except redis.RedisError as exc:
        body["status"], body["redis"] = "error", f"unreachable: {exc.__class__.__name__}"
        return body, 503
    if body["workers"] == 0 or not body["scheduler"]:
        # Reports are still accepted and queued; nobody is processing them yet.
        body["status"] = "degraded"
    return body, 200


async def healthz(request: web.Request) -> web.Response:
    body, status = await asyncio.to_thread(health, request.app[RUNTIME])
    return web.json_response(body, status=status)


async def metrics_view(request: web.Request) -> web.Response:
    text = await asyncio.to_thread(metrics.render, request.app[RUNTIME].redis)
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


def create_app(runtime: Runtime) -> web.Application:
    app = web.Application(client_max_size=256 * 1024)
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    handlers.twilio.setup(app, runtime)
    handlers.telegram.setup(app, runtime)
    return app
