"""TelegramTransport (used by RQ jobs): error mapping, buttons, long texts."""

from __future__ import annotations

import asyncio

import pytest

from bot.models import Channel
from bot.outbound import Button, Outgoing, PermanentSendError, TransientSendError
from bot.settings import Settings
from bot.telegram_transport import TelegramTransport, split_text, utf16_units
from tests.handlers.telegram.conftest import telegram_settings
from tests.support.telegram_standin import BotAPIStandIn

CHAT = 812_345_678


def outgoing(text: str, buttons: tuple[Button, ...] = ()) -> Outgoing:
    return Outgoing(
        channel=Channel.TELEGRAM,
        to=str(CHAT),
        text=text,
        label="asha",
        key="alert_1",
        kind="alert",
        buttons=buttons,
    )


@pytest.fixture
def transport(settings: Settings, standin: BotAPIStandIn) -> TelegramTransport:
    return TelegramTransport(telegram_settings(settings, standin.url))


async def test_sends_with_an_inline_keyboard(
    transport: TelegramTransport, standin: BotAPIStandIn
) -> None:
    buttons = (Button("Accept", "ack:K7Q-4TD"), Button("Can't take", "pass:K7Q-4TD"))
    provider_id = await asyncio.to_thread(transport.send, outgoing("New case K7Q-4TD", buttons))
    (call,) = standin.of("sendMessage")
    assert provider_id == str(call.message_id)
    assert call.params["chat_id"] == CHAT
    assert call.buttons() == {"Accept": "ack:K7Q-4TD", "Can't take": "pass:K7Q-4TD"}


async def test_long_text_is_split_and_buttons_go_last(
    transport: TelegramTransport, standin: BotAPIStandIn
) -> None:
    text = ("बच्ची को ट्रेन से ले जाया गया। " * 200).strip()
    await asyncio.to_thread(transport.send, outgoing(text, (Button("Accept", "ack:X"),)))
    calls = standin.of("sendMessage")
    assert len(calls) == 2
    assert all(utf16_units(c.text) <= 4096 for c in calls)
    assert " ".join(c.text for c in calls) == text
    assert not calls[0].buttons() and calls[1].buttons() == {"Accept": "ack:X"}


@pytest.mark.parametrize(
    ("status", "error", "retry_after"),
    [
        (429, TransientSendError, 7),
        (502, TransientSendError, None),
        (403, PermanentSendError, None),
        (400, PermanentSendError, None),
    ],
)
async def test_errors_map_to_retry_or_give_up(
    status: int,
    error: type[Exception],
    retry_after: int | None,
    transport: TelegramTransport,
    standin: BotAPIStandIn,
) -> None:
    standin.fail_next("sendMessage", status, retry_after=retry_after)
    with pytest.raises(error) as caught:
        await asyncio.to_thread(transport.send, outgoing("hello"))
    if retry_after is not None:
        assert isinstance(caught.value, TransientSendError)
        assert caught.value.retry_after == retry_after


def test_split_counts_utf16_units_and_prefers_line_breaks() -> None:
    emoji = "🚨" * 3000  # 2 UTF-16 units each
    parts = split_text(emoji)
    assert [utf16_units(p) for p in parts] == [4096, 1904]
    text = "a" * 3000 + "\n" + "b" * 3000
    assert split_text(text) == ["a" * 3000, "b" * 3000]
    assert split_text("short") == ["short"]
