"""Webhook receiver: secret check, set-up call, deduplication, journal and replay."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis
from aiogram.types import Update
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from handlers.telegram import WEBHOOK_PATH, keys
from handlers.telegram.middlewares import UpdateJournal, async_redis
from tests.handlers.telegram.conftest import SECRET, Reporter
from tests.support.telegram_standin import BotAPIStandIn

REPORT = "A girl of 14 was sold to a man from another state, she is crying at the bus stand"


async def test_webhook_without_or_with_a_wrong_secret_is_refused_and_not_processed(
    reporter: Reporter, standin: BotAPIStandIn, tg_runtime: Runtime
) -> None:
    assert await reporter.post(reporter.text_update(REPORT), secret=None) == 401
    assert await reporter.post(reporter.text_update(REPORT), secret="guess") == 401
    assert standin.of("sendMessage") == []
    assert tg_runtime.store.refs() == []
    assert tg_runtime.redis.keys("sajag:tg:update*") == []


async def test_startup_sets_the_webhook_with_secret_and_keeps_pending_updates(
    client: TestClient[Any, Any], standin: BotAPIStandIn
) -> None:
    (call,) = await standin.wait_for("setWebhook")
    assert call.params["url"] == "https://sajag.example.org" + WEBHOOK_PATH
    assert call.params["secret_token"] == SECRET
    assert call.params["drop_pending_updates"] is False
    assert {"message", "callback_query"} <= set(call.params["allowed_updates"])


async def test_the_same_update_delivered_twice_is_handled_once(
    reporter: Reporter, standin: BotAPIStandIn, tg_runtime: Runtime
) -> None:
    update = reporter.text_update(REPORT)
    statuses = await asyncio.gather(reporter.post(update), reporter.post(update))
    assert statuses == [200, 200]
    assert await reporter.post(update) == 200  # and once more, later
    created = [c for c in standin.of("sendMessage") if "saved as case" in c.text]
    assert len(created) == 1
    (ref,) = tg_runtime.store.refs()
    assert tg_runtime.store.require(ref).message_count == 1
    assert tg_runtime.redis.zcard(keys.UPDATES_PENDING) == 0


async def test_no_token_registers_nothing(settings: Settings, redis_client: redis.Redis) -> None:
    runtime = build_runtime(settings, redis_client)
    async with TestClient(TestServer(create_app(runtime))) as client:
        response = await client.post(WEBHOOK_PATH, json={"update_id": 1})
        assert response.status == 404


async def test_an_update_left_unfinished_by_a_crash_is_replayed_at_start(
    settings: Settings,
    redis_client: redis.Redis,
    standin: BotAPIStandIn,
    tg_runtime: Runtime,
) -> None:
    # A previous run journaled this update, then died before handling it.
    reporter = Reporter(None, standin)  # type: ignore[arg-type]
    raw = reporter.text_update(REPORT)
    journal_client = async_redis(tg_runtime)
    journal = UpdateJournal(journal_client, tg_runtime.privacy)
    assert await journal.begin(Update.model_validate(raw))
    await journal_client.aclose()
    stored = redis_client.get(keys.update(raw["update_id"]))
    assert (
        stored is not None
        and b"Priyanka" not in stored
        and str(reporter.user_id).encode() not in stored
    )
    assert (
        json.loads(tg_runtime.privacy.decrypt(stored.decode()) or "{}")["update_id"]
        == raw["update_id"]
    )

    async with TestClient(TestServer(create_app(tg_runtime))):
        calls = await standin.wait_for("sendMessage", 2)
        for _ in range(200):  # the journal entry goes once the handler has returned
            if redis_client.zcard(keys.UPDATES_PENDING) == 0:
                break
            await asyncio.sleep(0.01)
    assert "saved as case" in calls[0].text
    assert len(tg_runtime.store.refs()) == 1
    assert redis_client.zcard(keys.UPDATES_PENDING) == 0
    assert redis_client.get(keys.update(raw["update_id"])) is None
