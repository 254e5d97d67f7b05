"""Polling mode: getUpdates from the stand-in, no dropped updates, clean shutdown."""

from __future__ import annotations

import redis
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.runtime import build_runtime
from bot.settings import Settings
from handlers.telegram import keys
from tests.handlers.telegram.conftest import Reporter, telegram_settings
from tests.support.telegram_standin import BotAPIStandIn

REPORT = "My neighbour's daughter, 12, was taken to the city by a placement agent"


async def test_polling_handles_pending_updates_and_stops_cleanly(
    settings: Settings, redis_client: redis.Redis, standin: BotAPIStandIn
) -> None:
    runtime = build_runtime(telegram_settings(settings, standin.url, mode="polling"), redis_client)
    reporter = Reporter(None, standin)  # type: ignore[arg-type]
    # Updates that waited while the bot was down must not be dropped.
    first = reporter.text_update(REPORT)
    standin.push_update(first)
    async with TestClient(TestServer(create_app(runtime))):
        calls = await standin.wait_for("sendMessage", 3)
        assert "saved as case" in calls[0].text
        assert "Choose your language" in calls[1].text  # first contact: the safety note
        where = calls[2]
        standin.push_update(reporter.callback_update(where.buttons()["Skip"], where.message_id))
        await standin.wait_for("answerCallbackQuery")
        await standin.wait_for("sendMessage", 4)
    (delete_webhook,) = standin.of("deleteWebhook")
    assert delete_webhook.params.get("drop_pending_updates") is False
    assert not standin.of("setWebhook")
    polls = standin.of("getUpdates")
    assert polls[0].params.get("offset") in (None, 0)
    assert any(p.params.get("offset") == first["update_id"] + 1 for p in polls)
    assert len(runtime.store.refs()) == 1
    assert redis_client.zcard(keys.UPDATES_PENDING) == 0


async def test_shutdown_finishes_the_update_in_hand(
    settings: Settings, redis_client: redis.Redis, standin: BotAPIStandIn
) -> None:
    runtime = build_runtime(telegram_settings(settings, standin.url, mode="polling"), redis_client)
    reporter = Reporter(None, standin)  # type: ignore[arg-type]
    standin.slow_down("sendMessage", 0.3)
    standin.push_update(reporter.text_update(REPORT))
    async with TestClient(TestServer(create_app(runtime))):
        await standin.wait_for("sendMessage")  # handling has begun; now shut down
    replies = [c for c in standin.of("sendMessage") if c.result is not None]
    assert len(replies) == 3  # reference, safety note, first question: none cut off
    assert len(runtime.store.refs()) == 1
    assert redis_client.zcard(keys.UPDATES_PENDING) == 0
