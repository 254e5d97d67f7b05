"""Telegram fixtures: the Bot API stand-in, a Telegram-enabled runtime, the app under test,
and ``Reporter``, a person in a private chat who sends updates by webhook."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from pydantic import SecretStr

from bot.app import create_app
from bot.i18n import LOCALES_DIR
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from handlers.telegram import WEBHOOK_PATH
from tests.conftest import SHARED
from tests.support.telegram_standin import BotAPIStandIn, Call

TOKEN = "123456:TEST-TOKEN"
SECRET = "webhook-secret_for-tests"
_update_ids = itertools.count(int(time.time()) % 100_000 * 1000)


@pytest.fixture(scope="session", autouse=True)
def telegram_catalogs() -> None:
    """What ``make test`` does first: compile the telegram .po files aiogram's I18n needs."""
    for po in LOCALES_DIR.glob("*/LC_MESSAGES/telegram.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as src:
            catalog = read_po(src)
        with mo.open("wb") as dst:
            write_mo(dst, catalog)


@pytest.fixture
async def standin() -> AsyncIterator[BotAPIStandIn]:
    server = BotAPIStandIn(SHARED / "telegram" / "bot-api.json")
    await server.start()
    yield server
    await server.stop()
    assert server.violations == [], "calls that do not match the Bot API schema"


def telegram_settings(settings: Settings, api_base: str, mode: str = "webhook") -> Settings:
    return settings.model_copy(
        update={
            "telegram_token": SecretStr(TOKEN),
            "telegram_webhook_secret": SecretStr(SECRET),
            "telegram_api_base": api_base,
            "telegram_mode": mode,
        }
    )


@pytest.fixture
def tg_runtime(settings: Settings, redis_client: redis.Redis, standin: BotAPIStandIn) -> Runtime:
    return build_runtime(telegram_settings(settings, standin.url), redis_client)


@pytest.fixture
async def client(tg_runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(tg_runtime))) as test_client:
        yield test_client


class Reporter:
    """A Telegram user writing to the bot in a private chat (updates sent by webhook)."""

    first_name = "Priyanka"
    username = "priyanka_k_2009"

    def __init__(
        self,
        client: TestClient[Any, Any],
        standin: BotAPIStandIn,
        user_id: int = 731_954_862,
        language_code: str | None = None,
    ) -> None:
        self.client = client
        self.standin = standin
        self.user_id = user_id
        self.language_code = language_code
        self.message_ids = itertools.count(10)
        self.sent_ids: list[int] = []

    def user(self) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": self.user_id,
            "is_bot": False,
            "first_name": self.first_name,
            "username": self.username,
        }
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def chat(self) -> dict[str, Any]:
        return {
            "id": self.user_id,
            "type": "private",
            "first_name": self.first_name,
            "username": self.username,
        }

    def message_update(self, **content: Any) -> dict[str, Any]:
        message_id = next(self.message_ids)
        self.sent_ids.append(message_id)
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self.chat(),
            "from": self.user(),
            **content,
        }
        return {"update_id": next(_update_ids), "message": message}

    def text_update(self, text: str) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self.message_update(**content)

    def callback_update(self, data: str, message_id: int) -> dict[str, Any]:
        return {
            "update_id": next(_update_ids),
            "callback_query": {
                "id": f"cq{next(_update_ids)}",
                "from": self.user(),
                "chat_instance": "ci-1",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": self.chat(),
                    "from": {"id": 123456, "is_bot": True, "first_name": "Sajag"},
                    "text": "…",
                },
            },
        }

    async def post(self, update: dict[str, Any], secret: str | None = SECRET) -> int:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        response = await self.client.post(WEBHOOK_PATH, json=update, headers=headers)
        await response.read()
        return response.status

    async def say(self, text: str) -> list[Call]:
        """Send a text; return the bot's sendMessage calls in answer."""
        before = len(self.standin.of("sendMessage"))
        assert await self.post(self.text_update(text)) == 200
        return self.standin.of("sendMessage")[before:]

    async def press(self, data: str, message_id: int) -> list[Call]:
        """Press a button; return the bot's sendMessage calls in answer."""
        before = len(self.standin.of("sendMessage"))
        assert await self.post(self.callback_update(data, message_id)) == 200
        return self.standin.of("sendMessage")[before:]


@pytest.fixture
def reporter(client: TestClient[Any, Any], standin: BotAPIStandIn) -> Reporter:
    return Reporter(client, standin)
