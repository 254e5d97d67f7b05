"""Telegram errors (429, 5xx, blocked), the flood limit, and what Redis holds."""

from __future__ import annotations

from bot import keys as bot_keys
from bot.runtime import Runtime
from handlers.telegram import keys
from handlers.telegram.middlewares import FLOOD_LIMIT_PER_MINUTE, reporter_of
from tests.handlers.telegram.conftest import Reporter
from tests.support.telegram_standin import BotAPIStandIn

REPORT = "A 15 year old boy was taken by an agent for work in another city, he is missing"


async def test_flood_control_waits_at_least_retry_after(
    reporter: Reporter, standin: BotAPIStandIn
) -> None:
    standin.fail_next("sendMessage", 429, retry_after=1)
    await reporter.say("/start")
    refused, delivered = standin.of("sendMessage")
    assert delivered.at - refused.at >= 1.0
    assert delivered.params == refused.params


async def test_server_errors_are_retried_with_backoff(
    reporter: Reporter, standin: BotAPIStandIn
) -> None:
    standin.fail_next("sendMessage", 502, times=2)
    await reporter.say("/start")
    calls = standin.of("sendMessage")
    assert len(calls) == 3
    assert calls[2].at - calls[0].at >= 0.5 + 1.0  # 0.5 s, then 1 s


async def test_a_blocked_bot_is_recorded_and_the_dispatcher_keeps_going(
    reporter: Reporter, standin: BotAPIStandIn, tg_runtime: Runtime
) -> None:
    standin.fail_next("sendMessage", 403)
    # Handled (and journaled as done): re-sending cannot reach someone who blocked us.
    assert await reporter.post(reporter.text_update("/start")) == 200
    pseudonym = reporter_of(tg_runtime.privacy, reporter.user_id)
    assert tg_runtime.store.get_pref(pseudonym, "telegram_blocked") == "1"
    assert tg_runtime.redis.zcard(keys.UPDATES_PENDING) == 0
    (welcome,) = await reporter.say("/help")
    assert "/status" in welcome.text


async def test_per_chat_flood_limit(
    reporter: Reporter, standin: BotAPIStandIn, tg_runtime: Runtime
) -> None:
    for n in range(FLOOD_LIMIT_PER_MINUTE + 3):
        await reporter.post(reporter.text_update(f"/status {n}"))
    notices = [c for c in standin.of("sendMessage") if "very fast" in c.text]
    assert len(notices) == 1
    assert len(standin.of("sendMessage")) == FLOOD_LIMIT_PER_MINUTE + 1


async def test_no_telegram_id_or_name_in_redis(
    reporter: Reporter, standin: BotAPIStandIn, tg_runtime: Runtime
) -> None:
    (welcome,) = await reporter.say("/start")
    await reporter.press(welcome.buttons()["हिन्दी"], welcome.message_id)
    _, where = await reporter.say(REPORT)
    await reporter.press(where.buttons()["छोड़ें"], where.message_id)
    forbidden = [
        str(reporter.user_id).encode(),
        Reporter.first_name.encode(),
        Reporter.username.encode(),
    ]
    r = tg_runtime.redis
    keys_seen = r.keys("*")
    assert any(k.startswith(keys.FSM_PREFIX.encode()) for k in keys_seen)
    for key in keys_seen:
        values: list[bytes] = [key]
        kind = r.type(key)
        if kind == b"string":
            values.append(r.get(key) or b"")
        elif kind == b"list":
            values += r.lrange(key, 0, -1)
        elif kind == b"hash":
            for field, value in r.hgetall(key).items():
                values += [field, value]
        elif kind == b"set":
            values += list(r.smembers(key))
        elif kind == b"zset":
            values += [m for m, _ in r.zrange(key, 0, -1, withscores=True)]
        for value in values:
            for secret in forbidden:
                assert secret not in value, (key, value[:200])
    pseudonym = reporter_of(tg_runtime.privacy, reporter.user_id)
    assert r.hget(bot_keys.reporter_prefs(pseudonym), "lang") == b"hi"
