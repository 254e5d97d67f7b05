"""POST /sms/twilio against a real Redis, signed with twilio's own algorithm."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis
from aiohttp.test_utils import TestClient

from bot import keys
from bot.models import Channel, Status, utcnow
from bot.responders import parse_roster, store_roster
from bot.runtime import Runtime
from tests.handlers.conftest import Phone, new_sid

NUMBER = "+919800000001"
REPO = Path(__file__).resolve().parents[2]


def case_count(client: redis.Redis) -> int:
    return int(client.zcard(keys.CASES_ALL))


async def test_a_report_creates_a_case_and_the_reply_gives_its_reference(
    phone: Phone, runtime: Runtime
) -> None:
    status, reply = await phone.text(
        "A 12 year old girl is locked in a room at the lodge behind Patna station right now"
    )
    assert status == 200
    (case,) = runtime.store.list_cases()
    assert case.ref in reply
    assert case.urgency == "critical"
    assert case.channel is Channel.SMS
    assert "1098 / 112" in reply, (
        "critical: the local emergency number, country from the +91 number"
    )
    assert case.country == "IN"


async def test_country_of_the_number_picks_the_emergency_number(phone: Phone) -> None:
    phone.number = "+9779800000001"  # Nepal
    _, reply = await phone.text("they are taking 3 small girls across the border tonight in a jeep")
    assert "1098 / 100" in reply


async def test_forged_missing_and_stale_url_signatures_are_refused_and_store_nothing(
    phone: Phone, runtime: Runtime
) -> None:
    params = {
        "MessageSid": new_sid(),
        "From": NUMBER,
        "To": "+15005550006",
        "Body": "girl locked now",
    }
    forged = await phone.post(params, signature="bm90IGEgc2lnbmF0dXJl")
    missing = await phone.post(params, signature="")
    phone.url = "http://old-host.example/sms/twilio"  # signed for a URL we are not at
    stale = await phone.post(params)
    phone.url = None
    phone.token = "someone-elses-token"
    wrong_key = await phone.post(params)
    assert [forged.status, missing.status, stale.status, wrong_key.status] == [403, 403, 403, 403]
    assert case_count(runtime.redis) == 0
    assert not list(runtime.redis.scan_iter("sajag:seen:*"))


async def test_tampered_body_is_refused(phone: Phone, runtime: Runtime) -> None:
    params = {"MessageSid": new_sid(), "From": NUMBER, "To": "+15005550006", "Body": "hello"}
    signature = phone.sign(params)
    params["Body"] = "something else"
    assert (await phone.post(params, signature=signature)).status == 403
    assert case_count(runtime.redis) == 0


async def test_the_same_message_sid_twice_makes_one_message_and_the_same_reply(
    phone: Phone, runtime: Runtime
) -> None:
    sid = new_sid()
    first = await phone.text("a boy of 10 works at the brick kiln near Gaya every day", sid=sid)
    again = await phone.text("a boy of 10 works at the brick kiln near Gaya every day", sid=sid)
    assert first == again
    (case,) = runtime.store.list_cases()
    assert len(runtime.store.messages(case.ref)) == 1


async def test_fifty_concurrent_duplicates(phone: Phone, runtime: Runtime) -> None:
    sid = new_sid()
    results = await asyncio.gather(
        *[phone.text("girls kept at the spa on MG road", sid=sid) for _ in range(50)]
    )
    assert {r for r in results} == {results[0]}
    assert results[0][0] == 200
    assert case_count(runtime.redis) == 1
    (case,) = runtime.store.list_cases()
    assert len(runtime.store.messages(case.ref)) == 1


async def test_thousand_concurrent_webhooks_make_exactly_a_thousand_messages(
    client: TestClient, runtime: Runtime
) -> None:
    phones = [Phone(client, runtime, number=f"+9198{i:08d}") for i in range(1000)]
    results = await asyncio.gather(
        *[p.text(f"report {i}: a child works at a dhaba in Ranchi") for i, p in enumerate(phones)]
    )
    assert [s for s, _ in results].count(200) == 1000
    assert case_count(runtime.redis) == 1000
    total = sum(runtime.redis.llen(keys.case_messages(r)) for r in runtime.store.refs(limit=2000))
    assert total == 1000


CONVERSATIONS = {
    "hi": [
        "मेरे पड़ोस में एक 13 साल की लड़की को एक आदमी शादी के लिए ले जा रहा है",
        "आज रात बस से दिल्ली ले जाएंगे, गया बस स्टैंड",
    ],
    "hi-Latn": [
        "ek 13 saal ki ladki ko ek aadmi shaadi ke liye le ja raha hai",
        "aaj raat bus se Delhi le jayenge, Gaya bus stand",
    ],
    "bn": [
        "আমাদের পাড়ার ১৩ বছরের একটি মেয়েকে একজন লোক বিয়ের জন্য নিয়ে যাচ্ছে",
        "আজ রাতে বাসে করে ঢাকা নিয়ে যাবে, বাস স্ট্যান্ড থেকে",
    ],
    "en": [
        "a man is taking a 13 year old girl from my street to marry her",
        "tonight by bus to Delhi, from Gaya bus stand",
    ],
}
CASE_WORD = {"hi": "केस", "hi-Latn": "case", "bn": "কেস", "en": "case"}


@pytest.mark.parametrize("language", list(CONVERSATIONS))
async def test_a_whole_conversation_in_the_reporters_language(
    phone: Phone, runtime: Runtime, language: str
) -> None:
    first, second = CONVERSATIONS[language]
    status1, reply1 = await phone.text(first)
    status2, reply2 = await phone.text(second)
    assert status1 == status2 == 200
    (case,) = runtime.store.list_cases()
    assert case.message_count == 2
    assert case.ref in reply1 and case.ref in reply2
    assert CASE_WORD[language] in reply1.casefold(), f"reply in {language}: {reply1}"
    if language.endswith("Latn") or language == "en":
        assert all(ord(ch) < 0x250 for ch in reply1 + reply2), (
            "romanized reporters get a GSM-7 reply"
        )
    assert case.urgency == "critical", "tonight + movement: urgency rose on the second message"
    assert "child_marriage" in case.categories


async def test_urgency_never_falls_when_the_reporter_adds_a_calm_message(
    phone: Phone, runtime: Runtime
) -> None:
    await phone.text("they are putting two small girls on the night train to Mumbai right now")
    await phone.text("ok thank you")
    (case,) = runtime.store.list_cases()
    assert case.urgency == "critical"


async def test_stop_erases_the_address_and_keeps_the_case(phone: Phone, runtime: Runtime) -> None:
    await phone.text("a girl of 14 works in a house in Sector 5 and is beaten")
    reporter = runtime.privacy.pseudonym("sms", NUMBER)
    assert runtime.store.encrypted_address("sms", reporter) is not None
    status, reply = await phone.text("STOP")
    assert status == 200 and "erased" in reply
    assert runtime.store.encrypted_address("sms", reporter) is None
    assert len(runtime.store.list_cases()) == 1
    assert_number_nowhere(runtime.redis, NUMBER)


async def test_delete_erases_texts_and_the_number(phone: Phone, runtime: Runtime) -> None:
    await phone.text("my neighbour's son, 11, is made to beg at the Howrah signal by a man")
    status, reply = await phone.text("DELETE")
    assert status == 200 and "erased" in reply
    (case,) = runtime.store.list_cases()
    assert case.erased
    assert all(m.text == "" for m in runtime.store.messages(case.ref))
    assert case.urgency in ("high", "medium"), "the anonymous triage stays for the responder"
    assert_number_nowhere(runtime.redis, NUMBER)
    for key in runtime.redis.scan_iter("*"):
        assert b"Howrah" not in (runtime.redis.dump(key) or b""), key


def assert_number_nowhere(client: redis.Redis, number: str) -> None:
    needles = [number.encode(), number[1:].encode(), number[-10:].encode()]
    for key in client.scan_iter("*"):
        dump = client.dump(key) or b""
        assert not any(n in key or n in dump for n in needles), key


async def test_status_and_help_and_language_keywords(phone: Phone, runtime: Runtime) -> None:
    await phone.text("a girl of 15 is kept at the spa on Park street and cannot leave")
    (case,) = runtime.store.list_cases()
    _, status_reply = await phone.text(f"status {case.ref.replace('-', '').lower()}")
    assert case.ref in status_reply and "waiting for a responder" in status_reply
    _, other = await phone.text("STATUS AAA-AAA")
    assert "No case" in other
    _, help_reply = await phone.text("HELP")
    assert "1098" in help_reply and "STOP" in help_reply
    _, menu = await phone.text("LANG")
    assert "हिन्दी" in menu and "বাংলা" in menu
    _, chosen = await phone.text("LANG 4")
    assert "বাংলা" in chosen
    _, bengali = await phone.text("HELP")
    assert "সজাগ" in bengali
    assert len(runtime.store.list_cases()) == 1, "keywords are not reports"


async def test_another_numbers_case_status_is_not_shown(
    client: TestClient, runtime: Runtime
) -> None:
    alice, bob = Phone(client, runtime, "+919800000011"), Phone(client, runtime, "+919800000012")
    await alice.text("a boy is chained at the kiln in Bhadohi")
    (case,) = runtime.store.list_cases()
    _, reply = await bob.text(f"STATUS {case.ref}")
    assert "No case" in reply


async def test_whatsapp_uses_the_same_flow(phone: Phone, runtime: Runtime) -> None:
    phone.number = "whatsapp:+8801700000001"
    status, reply = await phone.text(
        "ajke rate ekta meye ke border par kore niye jabe, boyosh 14", ProfileName="Rina"
    )
    assert status == 200
    (case,) = runtime.store.list_cases()
    assert case.channel is Channel.WHATSAPP
    assert case.ref in reply
    assert "1098 / 999" in reply or case.urgency != "critical"
    for key in runtime.redis.scan_iter("*"):
        assert b"Rina" not in (runtime.redis.dump(key) or b"")


async def test_media_is_recorded_never_downloaded(phone: Phone, runtime: Runtime) -> None:
    status, reply = await phone.text(
        "",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME0",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME1",
        MediaContentType1="audio/ogg",
    )
    assert status == 200
    assert "photos" in reply
    (case,) = runtime.store.list_cases()
    assert case.media_count == 2
    (message,) = runtime.store.messages(case.ref)
    assert message.media_types == ("image/jpeg", "audio/ogg")
    for key in runtime.redis.scan_iter("*"):
        assert b"ME0" not in (runtime.redis.dump(key) or b""), "media URLs are not kept"


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   ",
        "\x00\x01\x02 girl \x07 at station",
        "a" * 100_000,
        "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    ],
)
async def test_bad_input_gets_a_clear_answer(phone: Phone, runtime: Runtime, body: str) -> None:
    status, reply = await phone.text(body)
    assert status == 200
    assert reply.strip()
    if body.strip():
        (case,) = runtime.store.list_cases()
        assert case.ref in reply
    else:
        assert "write what you saw" in reply
        assert runtime.store.list_cases() == []


async def test_invalid_utf8_bytes_are_replaced_not_crashed(
    client: TestClient, runtime: Runtime
) -> None:
    raw = b"MessageSid=SMbad&From=%2B919800000001&Body=bachchi+%FF%FE+station"
    resp = await client.post(
        "/sms/twilio",
        data=raw,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"},
    )
    assert resp.status == 403, "a body Twilio did not sign is refused, clearly, without a crash"


async def test_missing_fields_get_a_clear_400(phone: Phone) -> None:
    params = {"Body": "hello"}
    resp = await phone.post(params)
    assert resp.status == 400
    assert "MessageSid" in await resp.text()


async def test_redis_full_answers_503_for_twilio_to_retry(phone: Phone, runtime: Runtime) -> None:
    used = int(runtime.redis.info("memory")["used_memory"])
    runtime.redis.config_set("maxmemory", used + 512)
    try:
        status, reply = await phone.text("a girl is locked in the lodge right now " + "x" * 3000)
    finally:
        runtime.redis.config_set("maxmemory", 0)
    assert status == 503
    assert "send it again" in reply


async def test_status_callbacks_keep_the_furthest_state(phone: Phone, runtime: Runtime) -> None:
    sid = "SM" + "f" * 32
    for state in ("sent", "delivered", "sent"):
        params = {"MessageSid": sid, "MessageStatus": state, "AccountSid": "AC" + "0" * 32}
        resp = await phone.post(params, path="/sms/twilio/status")
        assert resp.status == 200
    assert runtime.redis.hget(f"sajag:sms:status:{sid}", "status") == b"delivered"
    forged = await phone.post(
        {"MessageSid": sid, "MessageStatus": "failed"}, path="/sms/twilio/status", signature="x"
    )
    assert forged.status == 403


async def test_a_short_follow_up_keeps_the_conversations_language(phone: Phone) -> None:
    await phone.text("ek ladki ko abhi station pe train mein le ja rahe hain, 12 saal ki hai")
    _, reply = await phone.text("Patna junction")
    assert "jod diya" in reply, reply


async def test_advanced_opt_out_is_recorded_and_not_answered_twice(
    phone: Phone, runtime: Runtime
) -> None:
    await phone.text("a girl of 12 sells flowers at the Sealdah signal every night")
    reporter = runtime.privacy.pseudonym("sms", NUMBER)
    status, reply = await phone.text("Stop", OptOutType="STOP")
    assert (status, reply) == (200, ""), "Twilio already confirmed the opt-out"
    assert runtime.store.encrypted_address("sms", reporter) is None
    assert runtime.store.get_pref(reporter, "opted_out") == "1"
    status, reply = await phone.text("HELP", OptOutType="HELP")
    assert (status, reply) == (200, "")
    assert len(runtime.store.list_cases()) == 1, "opt-out words are not reports"


async def test_a_responders_number_sends_commands_not_reports(
    client: TestClient, runtime: Runtime
) -> None:
    text = (REPO / "examples" / "responders.toml").read_text()
    store_roster(runtime.redis, runtime.privacy, parse_roster(text), utcnow())
    reporter = Phone(client, runtime, "+919800000021")
    await reporter.text("a boy of 10 is kept at the brick kiln near Gaya station")
    (case,) = runtime.store.list_cases()
    asha = Phone(client, runtime, "+919811100001")  # asha's phone in the example roster
    status, reply = await asha.text(f"ack {case.ref.replace('-', '').lower()}")
    assert status == 200 and case.ref in reply
    view = runtime.store.view(case.ref)
    assert view is not None
    assert view.case.status is Status.ACKNOWLEDGED
    assert any(e.actor == "responder:asha" for e in view.audit)
    status, reply = await asha.text("a girl is crying at the bus stand")
    assert status == 200 and "ACK" in reply, "a responder gets the command help, not a case"
    assert len(runtime.store.list_cases()) == 1
