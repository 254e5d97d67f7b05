"""Responders on Telegram, through the real dispatcher and a real Bot against the Bot API
stand-in: the alert's buttons, Accept, /mycases, /case, /note; strangers fall through."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from bot.models import Channel, Status
from bot.responders import parse_roster, store_roster
from bot.runtime import Runtime
from tests.handlers.telegram.conftest import Reporter
from tests.support.telegram_standin import BotAPIStandIn
from workers.routing import route

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "responders.toml"
ASHA_CHAT = 510000001
TEXT = "a 14 year old girl is being taken to Delhi by bus tonight, help"


async def routed_case(runtime: Runtime) -> str:
    """Route in a thread: the transport's sync send must not block the stand-in's loop."""
    return await asyncio.to_thread(_routed_case, runtime)


def _routed_case(runtime: Runtime) -> str:
    roster = parse_roster(EXAMPLE.read_text())
    store_roster(runtime.redis, runtime.privacy, roster, runtime.store.clock())
    case = runtime.intake.submit(
        channel=Channel.SMS, address="+919800012345", text=TEXT, message_id="tg-resp-1"
    ).case
    route(runtime, case.ref)
    return case.ref


async def test_alert_buttons_and_accept(
    tg_runtime: Runtime, client: TestClient[Any, Any], standin: BotAPIStandIn
) -> None:
    ref = await routed_case(tg_runtime)
    asha = Reporter(client, standin, user_id=ASHA_CHAT)
    alert = next(
        c for c in standin.of("sendMessage") if c.params["chat_id"] in (ASHA_CHAT, str(ASHA_CHAT))
    )
    assert ref in alert.params["text"]
    keyboard = alert.params["reply_markup"]
    if isinstance(keyboard, str):
        keyboard = json.loads(keyboard)
    data = [b["callback_data"] for row in keyboard["inline_keyboard"] for b in row]
    assert data == [f"sj:ack:{ref}", f"sj:pass:{ref}", f"sj:done:{ref}"]
    assert await asha.post(asha.callback_update(f"sj:ack:{ref}", 1)) == 200
    assert standin.of("answerCallbackQuery")
    assert standin.of("editMessageText")
    case = tg_runtime.store.require(ref)
    assert (case.status, case.assignee) == (Status.ACKNOWLEDGED, "asha")

    mine = await asha.say("/mycases")
    assert ref in mine[0].params["text"]
    shown = await asha.say(f"/case {ref.lower()}")
    assert ref in shown[0].params["text"]
    await asha.say(f"/note {ref} spoke to the station")
    view = tg_runtime.store.view(ref)
    assert view is not None
    assert any(e.action == "note" and e.detail == "spoke to the station" for e in view.audit)


async def test_strangers_buttons_do_nothing(
    tg_runtime: Runtime, client: TestClient[Any, Any], standin: BotAPIStandIn
) -> None:
    ref = await routed_case(tg_runtime)
    stranger = Reporter(client, standin, user_id=777_000_111)
    assert await stranger.post(stranger.callback_update(f"sj:ack:{ref}", 1)) == 200
    assert tg_runtime.store.require(ref).status == Status.ASSIGNED
