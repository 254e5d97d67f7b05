"""Bad input gets a clear outcome and loses nothing."""

from __future__ import annotations

from bot.intake import TRUNCATION_MARK, clean_text, decode_body
from bot.models import Channel
from bot.runtime import Runtime


def test_control_characters_are_dropped_but_newlines_kept() -> None:
    text, cut = clean_text("girl\x00 at\x07 station\nnow\x1b[31m", 100)
    assert text == "girl at station\nnow[31m"
    assert not cut


def test_long_text_is_capped_and_marked() -> None:
    text, cut = clean_text("a" * 100_000, 4000)
    assert cut
    assert len(text) == 4000
    assert text.endswith(TRUNCATION_MARK)


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert decode_body(b"bachchi \xff\xfe station") == "bachchi \ufffd\ufffd station"


def test_hundred_kilobyte_report_is_stored_capped(runtime: Runtime) -> None:
    body = "a 12 year old girl is locked in the lodge right now. " * 2000
    intake = runtime.intake.submit(
        channel=Channel.SMS, address="+919800000099", text=body, message_id="SMbig"
    )
    (message,) = runtime.store.messages(intake.case.ref)
    assert len(message.text) == runtime.settings.max_text_chars
    assert intake.case.urgency == "critical"


def test_empty_and_binary_text_still_make_a_case_with_a_verdict(runtime: Runtime) -> None:
    empty = runtime.intake.submit(
        channel=Channel.SMS, address="+919800000098", text="", message_id="SMe"
    )
    binary = runtime.intake.submit(
        channel=Channel.SMS,
        address="+919800000097",
        text=decode_body(bytes(range(256))),
        message_id="SMb",
    )
    assert empty.case.urgency == "low"
    assert binary.case.urgency in ("low", "medium", "high", "critical")
    assert runtime.store.messages(binary.case.ref)[0].text
