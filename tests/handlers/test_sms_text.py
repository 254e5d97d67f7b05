"""SMS economy and keywords: pure rules, every catalog string in every language."""

from __future__ import annotations

import string

import pytest
from babel.messages.pofile import read_po

from bot import sms
from bot.emergency import emergency_numbers, known_countries
from bot.i18n import LOCALES_DIR

# Worst cases for the placeholders: the longest values a reply can carry.
LONGEST_NUMBERS = max(
    (emergency_numbers(country, "IN").as_text() for country in known_countries()), key=len
)
WORST = {
    "ref": "K7Q-4TD",
    "numbers": LONGEST_NUMBERS,
    "status": "",
    "name": max(sms.LANGUAGE_NAMES.values(), key=len),
}


def catalog(locale: str) -> list[tuple[str, str]]:
    path = LOCALES_DIR / sms.locale_dir(locale) / "LC_MESSAGES" / "sms.po"
    with path.open("rb") as fh:
        cat = read_po(fh)
    return [(m.id, m.string or m.id) for m in cat if m.id and isinstance(m.id, str)]


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("[" * 80, "GSM-7", 1),  # extension characters cost two septets
        ("€" * 81, "GSM-7", 2),
        ("क" * 70, "UCS-2", 1),
        ("क" * 71, "UCS-2", 2),
        ("क" * 134, "UCS-2", 2),
        ("क" * 135, "UCS-2", 3),
        ("🙏" * 35, "UCS-2", 1),  # outside the BMP: two UTF-16 units each
        ("🙏" * 36, "UCS-2", 2),
        ("", "GSM-7", 0),
    ],
)
def test_segment_counting(text: str, encoding: str, segments: int) -> None:
    result = sms.count_segments(text)
    assert (result.encoding, result.count) == (encoding, segments)


@pytest.mark.parametrize("locale", sms.SMS_LOCALES)
def test_every_catalog_string_fits_two_segments_in_every_language(locale: str) -> None:
    entries = catalog(locale)
    assert len(entries) >= 20
    for msgid, msgstr in entries:
        fields = {f for _, f, _, _ in string.Formatter().parse(msgstr) if f}
        assert fields == {f for _, f, _, _ in string.Formatter().parse(msgid) if f}, (locale, msgid)
        status_words = [
            sms.status_word(sms.gettext_for(locale), s) for s in ("triaged", "acknowledged")
        ]
        values = {**WORST, "status": max(status_words, key=len)}
        filled = msgstr.format(**values)
        assert sms.fits(filled), (locale, msgid, sms.count_segments(filled))


@pytest.mark.parametrize("locale", ["hi-Latn", "bn-Latn", "ne-Latn", "ur-Latn", "en"])
def test_romanized_catalogs_are_gsm7_only(locale: str) -> None:
    for msgid, msgstr in catalog(locale):
        assert sms.is_gsm7(msgstr), (locale, msgid)


def test_longest_composed_replies_fit() -> None:
    for locale in sms.SMS_LOCALES:
        _ = sms.gettext_for(locale)
        parts = [
            _("Added to case {ref}. Thank you.").format(ref="K7Q-4TD"),
            _("If a child is in danger now, call {numbers}.").format(numbers=LONGEST_NUMBERS),
            _("We do not open photos or audio. Please describe what you saw."),
            _("When was this? Is the child there now?"),
        ]
        reply = sms.join_within(parts)
        assert sms.fits(reply), locale
        assert "K7Q-4TD" in reply and LONGEST_NUMBERS in reply, (
            "the reference and emergency number come first"
        )
    menu = sms.join_within([sms.gettext_for("hi")("Reply LANG and a number:"), sms.language_menu()])
    assert sms.fits(menu) and "हिन्दी" in menu


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", sms.Command("stop")),
        ("  stop. ", sms.Command("stop")),
        ("Unsubscribe", sms.Command("stop")),
        ("बंद", sms.Command("stop")),
        ("HELP", sms.Command("help")),
        ("मदद", sms.Command("help")),
        ("সাহায্য", sms.Command("help")),
        ("status k7q4td", sms.Command("status", "k7q4td")),
        ("STATUS K7Q-4TD", sms.Command("status", "k7q-4td")),
        ("भाषा 2", sms.Command("lang", "2")),
        ("LANG", sms.Command("lang")),
        ("delete", sms.Command("delete")),
        ("START", sms.Command("start")),
    ],
)
def test_keywords_in_many_languages(body: str, expected: sms.Command) -> None:
    assert sms.parse_keyword(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "please help, they are taking a girl to the station",
        "stop them, a boy is locked in the kiln",
        "yes",
        "",
        "status of the girl is bad",
    ],
)
def test_reports_that_contain_keyword_words_are_not_commands(body: str) -> None:
    command = sms.parse_keyword(body)
    assert command is None or (command.keyword == "status" and command.argument)


@pytest.mark.parametrize(
    ("argument", "code"),
    [
        ("1", "en"),
        ("2", "hi"),
        ("3", "hi-Latn"),
        ("hi", "hi"),
        ("বাংলা", "bn"),
        ("ur-latn", "ur-Latn"),
        ("99", None),
        ("klingon", None),
    ],
)
def test_language_choice(argument: str, code: str | None) -> None:
    assert sms.parse_language_choice(argument) == code


def test_reply_locale_prefers_the_choice_then_the_script_written() -> None:
    assert sms.reply_locale("hi-Latn") == "hi-Latn"
    assert sms.reply_locale("hi-Latn", preferred="bn") == "bn"
    assert sms.reply_locale("mr") == "hi"
    assert sms.reply_locale("und") == "en"
    assert sms.reply_locale(None) == "en"
