"""Sends to Telegram from RQ jobs (sync code): one short-lived aiogram Bot per send.

Errors map to what ``workers.messaging`` retries: 429 → TransientSendError(retry_after),
5xx and network errors → TransientSendError, 403 (blocked, kicked) and 400 (chat not
found, bad request) → PermanentSendError. Text longer than Telegram's 4096 limit is split
at paragraph, line or word boundaries; the buttons go on the last part.
"""

from __future__ import annotations

import asyncio

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.outbound import Button, Outgoing, PermanentSendError, TransientSendError
from bot.settings import Settings

# sendMessage.text: 1-4096 characters; Telegram counts UTF-16 code units.
MAX_TEXT_UNITS = 4096


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT_UNITS) -> list[str]:
    """Parts of at most ``limit`` UTF-16 units, cut at the last paragraph, line or space."""
    parts: list[str] = []
    rest = text
    while utf16_units(rest) > limit:
        cut = _fit(rest, limit)
        window = rest[:cut]
        for separator in ("\n\n", "\n", " "):
            at = window.rfind(separator)
            if at > cut // 2:
                cut = at + len(separator)
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


def _fit(text: str, limit: int) -> int:
    """The longest prefix length (in characters) that fits in ``limit`` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def inline_keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    rows = [[InlineKeyboardButton(text=b.text, callback_data=b.callback_data)] for b in buttons]
    return InlineKeyboardMarkup(inline_keyboard=rows)


class TelegramTransport:
    name = "telegram"

    def __init__(self, settings: Settings) -> None:
        if settings.telegram_token is None:
            raise ValueError("TelegramTransport needs SAJAG_TELEGRAM_TOKEN (from @BotFather)")
        self.token = settings.telegram_token.get_secret_value()
        self.api_base = settings.telegram_api_base

    def send(self, message: Outgoing) -> str:
        """Send ``message`` (to = the chat id) and return the last part's message id."""
        try:
            return asyncio.run(self._send(message))
        except TelegramRetryAfter as exc:
            raise TransientSendError(
                f"telegram flood control: retry after {exc.retry_after}s", exc.retry_after
            ) from exc
        except (TelegramServerError, TelegramNetworkError) as exc:
            raise TransientSendError(f"telegram unavailable: {type(exc).__name__}") from exc
        except (TelegramForbiddenError, TelegramBadRequest, TelegramNotFound) as exc:
            raise PermanentSendError(
                f"telegram refused {message.key}: {exc.message} (blocked, or chat not found)"
            ) from exc
        except TelegramUnauthorizedError as exc:
            raise TransientSendError(
                "telegram rejected the bot token; check SAJAG_TELEGRAM_TOKEN"
            ) from exc
        except TelegramAPIError as exc:
            raise TransientSendError(f"telegram error: {exc.message}") from exc

    async def _send(self, message: Outgoing) -> str:
        api = TelegramAPIServer.from_base(self.api_base) if self.api_base else None
        session = AiohttpSession(api=api) if api else AiohttpSession()
        async with Bot(self.token, session=session) as bot:
            parts = split_text(message.text)
            sent_id = ""
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                sent = await bot.send_message(
                    chat_id=int(message.to) if message.to.lstrip("-").isdigit() else message.to,
                    text=part,
                    reply_markup=inline_keyboard(message.buttons) if last else None,
                )
                sent_id = str(sent.message_id)
            return sent_id
