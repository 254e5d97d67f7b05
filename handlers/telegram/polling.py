"""Long polling that stops between updates, never inside one.

aiogram's ``start_polling`` stops by cancelling its task, which can land in the middle of a
handler. On Python 3.11 that cancellation can be lost: redis-py sends commands through
``asyncio.wait_for``, which swallows a cancellation arriving as the send completes
(CPython gh-86296, fixed in 3.12), and the poller then runs on and shutdown hangs. This
loop is asked to stop with an event instead: it finishes the update in hand, abandons only
an idle ``getUpdates`` wait, and confirms an offset only after its updates were handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import TypeVar

from aiogram import Bot, Dispatcher
from aiogram.exceptions import AiogramError
from aiogram.types import Update

log = logging.getLogger(__name__)

T = TypeVar("T")

# Telegram holds a long poll open up to this many seconds when nothing arrives.
LONG_POLL_SECONDS = 25
# The HTTP request may take the long poll plus ordinary network time.
REQUEST_MARGIN_SECONDS = 15
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0


async def unless_stopped(call: Awaitable[T], stopping: asyncio.Event) -> tuple[bool, T | None]:
    """Await ``call`` unless ``stopping`` is set first; returns (finished, result)."""
    work = asyncio.ensure_future(call)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
    if work.cancelled():
        return False, None
    return True, work.result()


async def pause(seconds: float, stopping: asyncio.Event) -> None:
    """Sleep ``seconds``, or less if asked to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)


async def poll(dispatcher: Dispatcher, bot: Bot, stopping: asyncio.Event) -> None:
    """Fetch and handle updates one at a time until ``stopping`` is set.

    The first request has no offset, so updates that waited while we were down arrive
    first; an update is confirmed (offset past it) only by the request after its handling.
    """
    allowed = dispatcher.resolve_used_update_types()
    offset: int | None = None
    delay = BACKOFF_FIRST_SECONDS
    while not stopping.is_set():
        fetch = bot.get_updates(
            offset=offset,
            timeout=LONG_POLL_SECONDS,
            allowed_updates=allowed,
            request_timeout=LONG_POLL_SECONDS + REQUEST_MARGIN_SECONDS,
        )
        try:
            finished, updates = await unless_stopped(fetch, stopping)
        except AiogramError as exc:
            log.error(
                "telegram getUpdates failed (%s); retrying in %.0fs", type(exc).__name__, delay
            )
            await pause(delay, stopping)
            delay = min(delay * 2, BACKOFF_MAX_SECONDS)
            continue
        if not finished or updates is None:
            return
        delay = BACKOFF_FIRST_SECONDS
        for update in updates:
            await handle(dispatcher, bot, update)
            offset = update.update_id + 1


async def handle(dispatcher: Dispatcher, bot: Bot, update: Update) -> None:
    """Handle one update; a failure is logged and stays journaled for the sweep to retry."""
    try:
        await dispatcher.feed_update(bot, update)
    except Exception:
        log.exception("telegram update %s failed; it stays journaled", update.update_id)
