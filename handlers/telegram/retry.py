"""Retries for Bot API calls made by the bot process (a Bot session middleware).

429: wait ``retry_after`` seconds — never less, Telegram extends the ban otherwise — and
try again. 5xx and network errors: exponential backoff. 403 (blocked by the user): recorded
and raised; there is nobody to retry for. The dispatcher turns a raised error into a
logged, journaled failure, never a crash.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates
from aiogram.methods.base import Response, TelegramMethod, TelegramType

log = logging.getLogger(__name__)

BlockedHook = Callable[[int], Awaitable[None]]


async def sleep_at_least(seconds: float) -> None:
    """``asyncio.sleep`` may wake up to one clock tick early; this never does."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(left)


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    # A 429 asking for longer than this is not waited out inside a handler: the update
    # stays journaled and is replayed, and RQ sends get TransientSendError(retry_after).
    max_retry_after: float = 120.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))


class RetryRequests(BaseRequestMiddleware):
    def __init__(self, policy: RetryPolicy | None = None, on_blocked: BlockedHook | None = None):
        self.policy = policy or RetryPolicy()
        self.on_blocked = on_blocked

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        attempt = 1
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if (
                    attempt >= self.policy.max_attempts
                    or exc.retry_after > self.policy.max_retry_after
                ):
                    raise
                log.warning("telegram %s: flood control, waiting %ss", name, exc.retry_after)
                await sleep_at_least(exc.retry_after)
            except (TelegramServerError, TelegramNetworkError) as exc:
                # aiogram's polling loop has its own backoff for getUpdates.
                if attempt >= self.policy.max_attempts or isinstance(method, GetUpdates):
                    raise
                delay = self.policy.backoff(attempt)
                log.warning("telegram %s: %s, retrying in %.1fs", name, type(exc).__name__, delay)
                await asyncio.sleep(delay)
            except TelegramForbiddenError:
                chat_id = getattr(method, "chat_id", None)
                if self.on_blocked is not None and isinstance(chat_id, int):
                    await self.on_blocked(chat_id)
                raise
            attempt += 1
