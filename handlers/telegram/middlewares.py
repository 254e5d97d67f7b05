"""Per-update plumbing: journal (persist, dedupe, replay), reporter context, flood limit, locale.

Order on the dispatcher's ``update`` observer (after aiogram's own errors, user-context and
FSM middlewares): ``JournalMiddleware`` → ``ReporterContextMiddleware``. Locale is set per
event by ``ReporterI18nMiddleware``. Sent messages are remembered by ``ChatTrail`` on the
Bot's session, so Leave can delete them whichever code sent them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import redis.asyncio as aioredis
from aiogram import Bot, Dispatcher
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.dispatcher.middlewares.base import BaseMiddleware
from aiogram.exceptions import TelegramForbiddenError
from aiogram.fsm.storage.base import KeyBuilder, StorageKey
from aiogram.methods.base import Response, TelegramMethod, TelegramType
from aiogram.types import Chat, Message, TelegramObject, Update, User
from aiogram.utils.i18n import I18n, I18nMiddleware

from bot import keys as bot_keys
from bot.i18n import locale_dir_name
from bot.models import Channel
from bot.privacy import Privacy
from bot.runtime import Runtime
from handlers.telegram import keys
from triage import detect_language as triage_detect_language

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# Telegram keeps undelivered updates for 24 h; a week of dedupe memory is ample.
UPDATE_TTL_SECONDS = 7 * 86400
# Longer than Telegram's 60 s webhook wait, so a slow first delivery is not run twice at once.
CLAIM_SECONDS = 90
MAX_ATTEMPTS = 5
# deleteMessage works only on messages younger than 48 h; older ids are useless.
CHAT_TRAIL_TTL_SECONDS = 47 * 3600
# Telegram's own guidance is ~1 message/s per chat; a person typing never sends 20 a minute.
FLOOD_LIMIT_PER_MINUTE = 20


_SHARED_CONNECTION_KWARGS = (
    "host",
    "port",
    "db",
    "username",
    "password",
    "socket_timeout",
    "socket_connect_timeout",
    "client_name",
)


def async_redis(runtime: Runtime) -> aioredis.Redis:
    """An asyncio client on the same server and database as ``runtime.redis``."""
    sync = runtime.redis.connection_pool.connection_kwargs
    kwargs = {k: sync[k] for k in _SHARED_CONNECTION_KWARGS if sync.get(k) is not None}
    if "path" in sync:  # a unix socket
        kwargs["unix_socket_path"] = sync["path"]
    return aioredis.Redis(**kwargs)


def reporter_of(privacy: Privacy, telegram_id: int) -> str:
    """The pseudonym intake gives this user (``address=str(user_id)``)."""
    return privacy.pseudonym(Channel.TELEGRAM.value, str(telegram_id))


class PseudonymKeyBuilder(KeyBuilder):
    """FSM keys with HMACed chat/user ids; aiogram's default puts them in clear."""

    def __init__(self, privacy: Privacy) -> None:
        self.privacy = privacy

    def build(self, key: StorageKey, part: Literal["data", "state", "lock"] | None = None) -> str:
        parts = [keys.FSM_PREFIX, reporter_of(self.privacy, key.chat_id)]
        if key.user_id != key.chat_id:
            parts.append(reporter_of(self.privacy, key.user_id))
        if key.thread_id is not None:
            parts.append(f"t{key.thread_id}")
        if key.business_connection_id is not None:
            parts.append(self.privacy.pseudonym("telegram-business", key.business_connection_id))
        parts.append(key.destiny)
        if part:
            parts.append(part)
        return ":".join(parts)


@dataclass
class UpdateJournal:
    """Each raw update is written (encrypted) before it is handled and deleted after.

    aiogram's polling moves the offset before handlers run and swallows their errors;
    a crash mid-handling would lose the report. The journal keeps it for ``replay``.
    """

    redis: aioredis.Redis
    privacy: Privacy

    async def begin(self, update: Update) -> bool:
        """Persist ``update``; False if it was handled already or is being handled now."""
        uid = update.update_id
        if await self.redis.exists(keys.update_done(uid)):
            return False
        if not await self.redis.set(keys.update_claim(uid), "1", nx=True, ex=CLAIM_SECONDS):
            return False
        raw = update.model_dump_json(by_alias=True, exclude_none=True)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.update(uid), self.privacy.encrypt(raw), ex=UPDATE_TTL_SECONDS)
            pipe.zadd(keys.UPDATES_PENDING, {str(uid): time.time()}, nx=True)
            await pipe.execute()
        return True

    async def finish(self, update_id: int) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.update_done(update_id), "1", ex=UPDATE_TTL_SECONDS)
            pipe.delete(
                keys.update(update_id),
                keys.update_claim(update_id),
                keys.update_attempts(update_id),
            )
            pipe.zrem(keys.UPDATES_PENDING, str(update_id))
            await pipe.execute()

    async def failed(self, update_id: int) -> None:
        """Release the claim so a replay can retry; give up after ``MAX_ATTEMPTS``."""
        attempts = int(await self.redis.incr(keys.update_attempts(update_id)))
        await self.redis.expire(keys.update_attempts(update_id), UPDATE_TTL_SECONDS)
        if attempts < MAX_ATTEMPTS:
            await self.redis.delete(keys.update_claim(update_id))
            return
        log.error(
            "telegram update %s failed %d times; kept encrypted in %s for a person to look at",
            update_id,
            attempts,
            keys.UPDATES_DEAD,
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(keys.UPDATES_PENDING, str(update_id))
            pipe.zadd(keys.UPDATES_DEAD, {str(update_id): time.time()})
            pipe.delete(keys.update_claim(update_id))
            await pipe.execute()

    async def pending(self, older_than: float = 0.0) -> list[int]:
        cutoff = time.time() - older_than
        raw = await self.redis.zrangebyscore(keys.UPDATES_PENDING, "-inf", cutoff)
        return [int(r.decode() if isinstance(r, bytes) else str(r)) for r in raw]

    async def load(self, update_id: int) -> str | None:
        token = await self.redis.get(keys.update(update_id))
        if token is None:
            return None
        return self.privacy.decrypt(token.decode() if isinstance(token, bytes) else str(token))

    async def release_claims(self, update_ids: list[int]) -> None:
        """At start-up no other process handles updates: claims left are from a dead one."""
        if update_ids:
            await self.redis.delete(*[keys.update_claim(u) for u in update_ids])

    async def forget(self, update_id: int) -> None:
        await self.redis.zrem(keys.UPDATES_PENDING, str(update_id))


class JournalMiddleware(BaseMiddleware):
    def __init__(self, journal: UpdateJournal) -> None:
        self.journal = journal

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        if not await self.journal.begin(event):
            log.info("telegram update %s already handled or in progress: skipped", event.update_id)
            return UNHANDLED
        try:
            result = await handler(event, data)
        except TelegramForbiddenError:
            # Blocked by the user (recorded by RetryRequests): a retry cannot reach them.
            await self.journal.finish(event.update_id)
            return UNHANDLED
        except Exception:
            await self.journal.failed(event.update_id)
            raise
        await self.journal.finish(event.update_id)
        return result


async def replay_pending(
    dispatcher: Dispatcher, bot: Bot, journal: UpdateJournal, *, older_than: float = 0.0
) -> int:
    """Feed journaled updates that were never finished; returns how many were fed."""
    fed = 0
    for update_id in await journal.pending(older_than):
        raw = await journal.load(update_id)
        if raw is None:
            await journal.forget(update_id)
            continue
        update = Update.model_validate_json(raw, context={"bot": bot})
        try:
            await dispatcher.feed_update(bot, update)
        except Exception:
            log.exception("replaying telegram update %s failed; it stays pending", update_id)
        fed += 1
    return fed


@dataclass(frozen=True)
class FloodLimit:
    redis: aioredis.Redis
    per_minute: int = FLOOD_LIMIT_PER_MINUTE

    async def hit(self, reporter: str) -> int:
        """Count one message; returns the count in the current window."""
        key = keys.flood(reporter)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 60, nx=True)
            count, _ = await pipe.execute()
        return int(count)


class ReporterContextMiddleware(BaseMiddleware):
    """Adds ``runtime`` and ``reporter``; remembers incoming message ids; limits floods.

    A chat over the limit gets one notice, then its messages are dropped until the minute
    passes (``flood_notice`` sends the notice in the reporter's language).
    """

    def __init__(
        self,
        runtime: Runtime,
        trail: ChatTrail,
        flood: FloodLimit,
        flood_notice: Callable[[Message], Awaitable[None]],
    ) -> None:
        self.runtime = runtime
        self.trail = trail
        self.flood = flood
        self.flood_notice = flood_notice

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        data["runtime"] = self.runtime
        chat: Chat | None = data.get("event_chat")
        user: User | None = data.get("event_from_user")
        if chat is None or user is None or chat.type != "private":
            return await handler(event, data)
        reporter = reporter_of(self.runtime.privacy, user.id)
        data["reporter"] = reporter
        message = event.message if isinstance(event, Update) else None
        if message is not None:
            await self.trail.remember(reporter, message.message_id)
            count = await self.flood.hit(reporter)
            if count > self.flood.per_minute:
                log.warning("flood limit: dropped a message from %s", reporter)
                if count == self.flood.per_minute + 1:
                    await self.flood_notice(message)
                return UNHANDLED
        return await handler(event, data)


@dataclass(frozen=True)
class ChatTrail:
    """Message ids in each private chat (both directions), for Leave/exit to delete."""

    redis: aioredis.Redis
    privacy: Privacy

    async def remember(self, reporter: str, message_id: int) -> None:
        key = keys.chat_messages(reporter)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, message_id)
            pipe.expire(key, CHAT_TRAIL_TTL_SECONDS)
            await pipe.execute()

    async def take(self, reporter: str) -> list[int]:
        """All remembered ids, forgetting them."""
        key = keys.chat_messages(reporter)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(key, 0, -1)
            pipe.delete(key)
            raw, _ = await pipe.execute()
        return sorted({int(r) for r in raw})


class TrailRequests(BaseRequestMiddleware):
    """Session middleware: every message the bot puts in a private chat joins its trail."""

    def __init__(self, trail: ChatTrail) -> None:
        self.trail = trail

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        response = await make_request(bot, method)
        # Typed as Response, but aiogram's session hands back the method's result itself.
        result: object = getattr(response, "result", response)
        if isinstance(result, Message) and result.chat.type == "private":
            await self.trail.remember(
                reporter_of(self.trail.privacy, result.chat.id), result.message_id
            )
        elif method.__api_method__ == "copyMessage":
            chat_id = getattr(method, "chat_id", None)
            message_id = getattr(result, "message_id", None)
            if isinstance(chat_id, int) and chat_id > 0 and isinstance(message_id, int):
                await self.trail.remember(reporter_of(self.trail.privacy, chat_id), message_id)
        return response


class ReporterI18nMiddleware(I18nMiddleware):
    """Locale: the reporter's choice, else the language of what they just wrote, else the
    language detected earlier in this conversation, else their Telegram app's, else English.
    """

    def __init__(self, i18n: I18n, redis: aioredis.Redis) -> None:
        super().__init__(i18n)
        self.redis = redis

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        reporter: str | None = data.get("reporter")
        if reporter is not None:
            chosen = await self._stored_pref(reporter)
            if chosen:
                return chosen
        text = getattr(event, "text", None) or getattr(event, "caption", None)
        if isinstance(text, str):
            detected = self.supported(detect_language(text))
            if detected:
                return detected
        state = data.get("state")
        if state is not None:
            remembered = (await state.get_data()).get("lang")
            if isinstance(remembered, str) and self.supported(remembered):
                return remembered
        user: User | None = data.get("event_from_user")
        if user is not None and user.language_code:
            app_locale = self.supported(user.language_code) or self.supported(
                user.language_code.split("-")[0]
            )
            if app_locale:
                return app_locale
        return self.i18n.default_locale

    async def _stored_pref(self, reporter: str) -> str | None:
        raw = await self.redis.hget(bot_keys.reporter_prefs(reporter), "lang")
        if raw is None:
            return None
        return self.supported(raw.decode() if isinstance(raw, bytes) else str(raw))

    def supported(self, lang: str) -> str | None:
        """Our catalog folder for ``lang`` (``hi-Latn`` needs its own; no silent script swap)."""
        name = locale_dir_name(lang)
        return name if name in self.i18n.available_locales else None


def detect_language(text: str) -> str:
    """``triage.detect_language`` for texts long enough to say something (not "hi" or "ok")."""
    if len(text.split()) < 3:
        return "und"
    return triage_detect_language(text)
