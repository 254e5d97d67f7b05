"""Pseudonyms, encrypted addresses, and no number or id in clear anywhere."""

from __future__ import annotations

import logging

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from bot.models import Channel
from bot.privacy import Privacy, load_or_create_secret, redact
from bot.runtime import Runtime

PHONE = "+919812345678"
TELEGRAM_ID = "7012345678"


def test_pseudonyms_are_stable_and_keyed() -> None:
    a, b = Privacy("key-one"), Privacy("key-two")
    assert a.pseudonym("sms", PHONE) == a.pseudonym("sms", PHONE)
    assert a.pseudonym("sms", PHONE) != b.pseudonym("sms", PHONE)
    assert a.pseudonym("sms", PHONE) != a.pseudonym("telegram", PHONE)
    assert PHONE.strip("+") not in a.pseudonym("sms", PHONE)


def test_one_person_one_pseudonym_whatever_the_spelling() -> None:
    p = Privacy("k")
    assert p.pseudonym("sms", "+91 98123-45678") == p.pseudonym("sms", PHONE)
    assert p.pseudonym("whatsapp", "whatsapp:" + PHONE) == p.pseudonym("whatsapp", PHONE)


@given(st.text(min_size=1, max_size=40))
def test_encryption_round_trips_and_hides_the_address(address: str) -> None:
    p = Privacy("k")
    token = p.encrypt(address)
    assert p.decrypt(token) == address
    assert Privacy("other").decrypt(token) is None


def test_secret_is_generated_once_and_kept(tmp_path) -> None:
    first, created = load_or_create_secret(None, tmp_path)
    again, created_again = load_or_create_secret(None, tmp_path)
    assert created and not created_again
    assert first == again and len(first) >= 48
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("from +919812345678 got", "9812345678"),
        ("whatsapp:+14155550100 said", "4155550100"),
        ("chat 7012345678 joined", "7012345678"),
        ("call 98123 45678 now", "98123 45678"),
    ],
)
def test_redact_removes_numbers_and_ids(text: str, leak: str) -> None:
    assert leak not in redact(text)


def test_no_raw_address_in_any_redis_key_or_value(
    runtime: Runtime, redis_client: redis.Redis
) -> None:
    runtime.intake.submit(
        channel=Channel.SMS, address=PHONE, text="a child works at the kiln", message_id="SMp1"
    )
    runtime.intake.submit(
        channel=Channel.TELEGRAM,
        address=TELEGRAM_ID,
        text="help me they locked me",
        message_id="1:1",
    )
    needles = [PHONE.encode(), PHONE[1:].encode(), TELEGRAM_ID.encode()]
    for key in redis_client.scan_iter("*"):
        assert not any(n in key for n in needles), key
        dump = redis_client.dump(key) or b""
        assert not any(n in dump for n in needles), key


def test_logs_never_show_a_number(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sajag.test").info("message from %s in chat %s", PHONE, TELEGRAM_ID)
    runtime.intake.submit(channel=Channel.SMS, address=PHONE, text="kiln boy", message_id="SMp2")
    assert caplog.records
    text = caplog.text
    assert "9812345678" not in text
    assert TELEGRAM_ID not in text
