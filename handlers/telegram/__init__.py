"""Telegram channel: Bot, Dispatcher and their wiring into the aiohttp app.

With ``SAJAG_TELEGRAM_TOKEN`` unset nothing is registered. Webhook mode serves
``POST /telegram/webhook`` (secret header checked, updates handled before the answer, so
Telegram re-sends anything we failed); polling mode runs ``getUpdates`` in the background.
Either way pending updates are never dropped, and every update is journaled before it is
handled (``middlewares.UpdateJournal``) and replayed if a crash interrupted it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import regex
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot import keys as bot_keys
from bot.i18n import LOCALES_DIR
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.telegram.middlewares import (
    CLAIM_SECONDS,
    ChatTrail,
    FloodLimit,
    JournalMiddleware,
    PseudonymKeyBuilder,
    ReporterContextMiddleware,
    ReporterI18nMiddleware,
    TrailRequests,
    UpdateJournal,
    async_redis,
    replay_pending,
    reporter_of,
)
from handlers.telegram.polling import pause, poll, unless_stopped
from handlers.telegram.reporter import build_group_router, build_reporter_router, send_flood_notice
from handlers.telegram.responder import build_responder_router
from handlers.telegram.retry import RetryRequests

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
I18N_DOMAIN = "telegram"
# Telegram's rule for secret_token: 1-256 characters from A-Z a-z 0-9 _ -.
_SECRET_TOKEN = regex.compile(r"^[A-Za-z0-9_-]{1,256}$")
SWEEP_SECONDS = 30.0
STARTUP_RETRY_MAX_SECONDS = 60.0
# How long shutdown waits for the update in hand to be handled before cancelling it.
SHUTDOWN_GRACE_SECONDS = 10.0
# The app's Bot and Dispatcher, for code that must call Telegram itself (e.g. copy_media_to).
TELEGRAM_BOT = web.AppKey("telegram_bot", Bot)
TELEGRAM_DISPATCHER = web.AppKey("telegram_dispatcher", Dispatcher)


class TelegramSetupError(RuntimeError):
    """The Telegram settings cannot work together; the message says what to set."""


def build_bot(settings: Settings) -> Bot:
    if settings.telegram_token is None:
        raise TelegramSetupError("SAJAG_TELEGRAM_TOKEN is not set; get a token from @BotFather")
    if settings.telegram_api_base:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
    else:
        session = AiohttpSession()
    return Bot(settings.telegram_token.get_secret_value(), session=session)


def build_i18n() -> I18n:
    return I18n(path=LOCALES_DIR, default_locale="en", domain=I18N_DOMAIN)


def build_dispatcher(runtime: Runtime) -> Dispatcher:
    """Dispatcher with Redis FSM (pseudonymous keys, TTL, event isolation) and our middlewares.

    Workflow data: ``runtime``, ``trail`` (ChatTrail), ``journal`` (UpdateJournal) and
    ``telegram_redis`` (the asyncio Redis client, closed with the storage).
    """
    client = async_redis(runtime)
    ttl = timedelta(hours=runtime.settings.conversation_window_hours)
    storage = RedisStorage(
        client, key_builder=PseudonymKeyBuilder(runtime.privacy), state_ttl=ttl, data_ttl=ttl
    )
    dispatcher = Dispatcher(storage=storage, events_isolation=storage.create_isolation())
    journal = UpdateJournal(client, runtime.privacy)
    trail = ChatTrail(client, runtime.privacy)
    i18n = build_i18n()
    i18n_middleware = ReporterI18nMiddleware(i18n, client)

    async def flood_notice(message: Message) -> None:
        data = {
            "reporter": reporter_of(runtime.privacy, message.chat.id),
            "event_from_user": message.from_user,
        }
        await send_flood_notice(message, i18n, await i18n_middleware.get_locale(message, data))

    dispatcher.update.outer_middleware(JournalMiddleware(journal))
    dispatcher.update.outer_middleware(
        ReporterContextMiddleware(runtime, trail, FloodLimit(client), flood_notice)
    )
    i18n_middleware.setup(dispatcher)
    dispatcher.workflow_data.update(
        runtime=runtime, trail=trail, journal=journal, telegram_redis=client
    )
    # Responders first: a registered responder's chat never reaches the reporter flow.
    dispatcher.include_routers(
        build_responder_router(runtime), build_reporter_router(), build_group_router()
    )
    return dispatcher


def attach_session_middlewares(bot: Bot, dispatcher: Dispatcher, runtime: Runtime) -> None:
    """Trail outermost (sees only final successes), retries inside it."""
    trail: ChatTrail = dispatcher["trail"]
    client = dispatcher["telegram_redis"]

    async def record_blocked(chat_id: int) -> None:
        reporter = reporter_of(runtime.privacy, chat_id)
        log.warning("telegram chat %s blocked the bot; recorded", reporter)
        async with client.pipeline(transaction=True) as pipe:
            pipe.hset(bot_keys.reporter_prefs(reporter), "telegram_blocked", "1")
            pipe.hincrby(bot_keys.counter("telegram_send_failures"), "blocked", 1)
            await pipe.execute()

    bot.session.middleware(TrailRequests(trail))
    bot.session.middleware(RetryRequests(on_blocked=record_blocked))


def webhook_secret(settings: Settings) -> str:
    secret = settings.telegram_webhook_secret
    value = secret.get_secret_value() if secret is not None else ""
    if not _SECRET_TOKEN.match(value):
        raise TelegramSetupError(
            "SAJAG_TELEGRAM_MODE=webhook needs SAJAG_TELEGRAM_WEBHOOK_SECRET: 1-256 characters "
            "from A-Z a-z 0-9 _ -; make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return value


def setup(app: web.Application, runtime: Runtime) -> None:
    """Register the webhook route (webhook mode) and the bot's start-up and shutdown."""
    settings = runtime.settings
    if settings.telegram_token is None:
        return
    secret = webhook_secret(settings) if settings.telegram_mode == "webhook" else None
    bot = build_bot(settings)
    dispatcher = build_dispatcher(runtime)
    attach_session_middlewares(bot, dispatcher, runtime)
    app[TELEGRAM_BOT] = bot
    app[TELEGRAM_DISPATCHER] = dispatcher
    if secret is not None:
        # Foreground handling: Telegram gets 200 only once the update is handled, and re-sends
        # it on a 5xx; aiogram's default (background) would acknowledge before handling.
        handler = SimpleRequestHandler(
            dispatcher=dispatcher, bot=bot, handle_in_background=False, secret_token=secret
        )
        app.router.add_post(WEBHOOK_PATH, handler.handle)
    app.cleanup_ctx.append(lambda _app: lifecycle(dispatcher, bot, settings, secret))


async def lifecycle(
    dispatcher: Dispatcher, bot: Bot, settings: Settings, secret: str | None
) -> AsyncIterator[None]:
    """Start in the background (a Telegram outage must not stop SMS intake); stop cleanly:
    the update in hand is finished, then the session and storage are closed."""
    stopping = asyncio.Event()
    task = asyncio.create_task(run(dispatcher, bot, settings, secret, stopping), name="telegram")
    try:
        yield
    finally:
        stopping.set()
        await asyncio.wait({task}, timeout=SHUTDOWN_GRACE_SECONDS)
        # Cancel until done: on Python 3.11 a cancellation can be lost mid-request
        # (see handlers/telegram/polling.py).
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await bot.session.close()
        await dispatcher.storage.close()


async def run(
    dispatcher: Dispatcher,
    bot: Bot,
    settings: Settings,
    secret: str | None,
    stopping: asyncio.Event,
) -> None:
    journal: UpdateJournal = dispatcher["journal"]
    await journal.release_claims(await journal.pending())
    replayed = await replay_pending(dispatcher, bot, journal)
    if replayed:
        log.info("replayed %d telegram update(s) left unfinished by the last run", replayed)
    sweeper = asyncio.create_task(sweep(dispatcher, bot, journal, stopping), name="tg-sweep")
    try:
        connected, _ = await unless_stopped(
            until_done(lambda: connect(dispatcher, bot, settings, secret)), stopping
        )
        if not connected:
            return
        if secret is None:
            await poll(dispatcher, bot, stopping)
        else:
            await stopping.wait()
    finally:
        stopping.set()
        await sweeper


async def connect(dispatcher: Dispatcher, bot: Bot, settings: Settings, secret: str | None) -> None:
    if secret is None:
        # getUpdates fails while a webhook is set; pending updates are kept either way.
        await bot.delete_webhook(drop_pending_updates=False)
        return
    await bot.set_webhook(
        url=settings.base_url + WEBHOOK_PATH,
        secret_token=secret,
        drop_pending_updates=False,
        allowed_updates=dispatcher.resolve_used_update_types(),
    )
    log.info("telegram webhook set to %s%s", settings.base_url, WEBHOOK_PATH)


async def until_done(attempt: Callable[[], Awaitable[None]]) -> None:
    """Retry a start-up call with backoff; Telegram may be briefly unreachable."""
    delay = 1.0
    while True:
        try:
            await attempt()
            return
        except Exception as exc:
            log.error("telegram start-up failed (%s); retrying in %.0fs", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, STARTUP_RETRY_MAX_SECONDS)


async def sweep(
    dispatcher: Dispatcher, bot: Bot, journal: UpdateJournal, stopping: asyncio.Event
) -> None:
    """Re-feed updates whose handling failed or whose handler died (claim expired)."""
    while not stopping.is_set():
        await pause(SWEEP_SECONDS, stopping)
        if stopping.is_set():
            return
        try:
            await replay_pending(dispatcher, bot, journal, older_than=CLAIM_SECONDS)
        except Exception:
            log.exception("telegram journal sweep failed; trying again in %ss", SWEEP_SECONDS)
