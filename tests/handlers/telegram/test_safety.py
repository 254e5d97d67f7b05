"""Leave, /exit, /delete, /status, groups, unknown commands, Urdu isolation."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from bot.models import Channel
from bot.runtime import Runtime
from handlers.telegram import TELEGRAM_BOT, keys
from handlers.telegram.middlewares import reporter_of
from tests.handlers.telegram.conftest import Reporter
from tests.support.telegram_standin import BotAPIStandIn

REPORT = "Two boys aged 12 are kept locked in a brick kiln near the highway"


def case_ref(text: str) -> str:
    return next(w.strip(".,") for w in text.split() if len(w.strip(".,")) == 7 and w[3] == "-")


async def test_leave_deletes_every_message_and_the_state(
    reporter: Reporter, standin: BotAPIStandIn, tg_runtime: Runtime
) -> None:
    (welcome,) = await reporter.say("/start")
    created, where = await reporter.say(REPORT)
    bot_ids = {welcome.message_id, created.message_id, where.message_id}
    pseudonym = reporter_of(tg_runtime.privacy, reporter.user_id)
    assert tg_runtime.redis.keys(f"{keys.FSM_PREFIX}:{pseudonym}*")

    before = len(standin.of("sendMessage"))
    await reporter.press(where.buttons()["Leave"], where.message_id)

    deleted = {mid for chat, mid in standin.deleted if chat == reporter.user_id}
    assert bot_ids <= deleted  # the bot's messages
    assert set(reporter.sent_ids) <= deleted  # and the reporter's own
    assert standin.of("answerCallbackQuery")[-1].params.get("text") == "Chat cleared."
    assert len(standin.of("sendMessage")) == before  # nothing new left in the chat
    assert not tg_runtime.redis.keys(f"{keys.FSM_PREFIX}:{pseudonym}*")
    # The case itself stays: a child may still need help.
    assert tg_runtime.store.get(case_ref(created.text)) is not None


async def test_exit_command_clears_the_chat_too(reporter: Reporter, standin: BotAPIStandIn) -> None:
    created, first_contact, where = await reporter.say(REPORT)
    await reporter.say("/exit")
    deleted = {mid for _, mid in standin.deleted}
    assert {created.message_id, first_contact.message_id, where.message_id} <= deleted
    assert reporter.sent_ids[-1] in deleted  # the /exit message itself


async def test_delete_erases_after_confirmation(
    reporter: Reporter, standin: BotAPIStandIn, tg_runtime: Runtime
) -> None:
    created, *_ = await reporter.say(REPORT)
    ref = case_ref(created.text)
    (confirm,) = await reporter.say("/delete")
    assert tg_runtime.store.messages(ref)[0].text == REPORT  # nothing erased before "yes"
    await reporter.press(confirm.buttons()["No, keep"], confirm.message_id)
    assert tg_runtime.store.messages(ref)[0].text == REPORT
    (confirm,) = await reporter.say("/delete")
    await reporter.press(confirm.buttons()["Yes, erase"], confirm.message_id)
    assert standin.of("editMessageText")[-1].text.startswith("Erased.")
    case = tg_runtime.store.require(ref)
    assert case.erased and case.reporter == "erased"
    assert all(m.text == "" for m in tg_runtime.store.messages(ref))
    pseudonym = reporter_of(tg_runtime.privacy, reporter.user_id)
    assert tg_runtime.store.encrypted_address(Channel.TELEGRAM.value, pseudonym) is None


async def test_status_shows_own_cases_only(
    reporter: Reporter,
    standin: BotAPIStandIn,
    client: TestClient[Any, Any],
) -> None:
    created, *_ = await reporter.say(REPORT)
    ref = case_ref(created.text)
    (status,) = await reporter.say(f"/status {ref.lower().replace('-', '')}")
    assert status.text == f"Case {ref}: received; a responder will be assigned soon."
    stranger = Reporter(client, standin, user_id=555_111_222)
    (answer,) = await stranger.say(f"/status {ref}")
    assert "I can't find case" in answer.text
    (listing,) = await reporter.say("/status")
    assert f"You have 1 report: {ref}." in listing.text


async def test_groups_get_a_polite_pointer_and_nothing_else(
    reporter: Reporter, standin: BotAPIStandIn, tg_runtime: Runtime
) -> None:
    group = {"id": -100_200_300, "type": "supergroup", "title": "Village group"}
    update = reporter.text_update("/start")
    update["message"]["chat"] = group
    await reporter.post(update)
    (reply,) = standin.of("sendMessage")
    assert "only talk in private chats" in reply.text
    update = reporter.text_update(REPORT)
    update["message"]["chat"] = group
    await reporter.post(update)
    assert len(standin.of("sendMessage")) == 1
    assert tg_runtime.store.refs() == []


async def test_unknown_command_and_stickers_get_a_clear_answer(
    reporter: Reporter, standin: BotAPIStandIn
) -> None:
    (answer,) = await reporter.say("/frobnicate")
    assert "I don't know that command" in answer.text
    sticker = {
        "file_id": "s1",
        "file_unique_id": "u1",
        "type": "regular",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
    }
    await reporter.post(reporter.message_update(sticker=sticker))
    assert "I can read text" in standin.of("sendMessage")[-1].text


async def test_urdu_isolates_the_reference_inside_right_to_left_text(
    reporter: Reporter, standin: BotAPIStandIn
) -> None:
    (welcome,) = await reporter.say("/start")
    await reporter.press(welcome.buttons()["اردو"], welcome.message_id)
    created, where = await reporter.say(REPORT)
    ref = created.text.split("\u2066")[1].split("\u2069")[0]
    assert len(ref) == 7 and ref[3] == "-"
    assert "کیس" in created.text and "یہ کہاں ہوا؟" in where.text
    assert "\u20661098 / 112\u2069" in standin.of("editMessageText")[-1].text


async def test_first_short_message_gets_the_welcome_not_a_case(
    reporter: Reporter, tg_runtime: Runtime
) -> None:
    (welcome,) = await reporter.say("hello?")
    assert "Choose your language" in welcome.text
    assert tg_runtime.store.refs() == []


async def test_media_is_recorded_not_downloaded_and_copied_to_a_responder(
    reporter: Reporter, standin: BotAPIStandIn, tg_runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    from handlers.telegram.reporter import copy_media_to

    photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]
    await reporter.post(reporter.message_update(photo=photo, caption="the van they used"))
    photo_message_id = reporter.sent_ids[-1]
    created = standin.of("sendMessage")[-3]
    ref = case_ref(created.text)
    voice = {"file_id": "v1", "file_unique_id": "u2", "duration": 4}
    await reporter.post(reporter.message_update(voice=voice))
    assert "now has 2 photos, voice notes or files" in standin.of("sendMessage")[-1].text
    case = tg_runtime.store.require(ref)
    assert case.media_count == 2
    assert [m.media_types for m in tg_runtime.store.messages(ref)] == [("photo",), ("voice",)]
    assert not standin.of("getFile")  # never downloaded

    bot = client.app[TELEGRAM_BOT]
    assert await copy_media_to(bot, tg_runtime, ref, responder_chat_id=9_000_001) == 2
    first = standin.of("copyMessage")[0].params
    assert first == {
        "chat_id": 9_000_001,
        "from_chat_id": reporter.user_id,
        "message_id": photo_message_id,
    }
