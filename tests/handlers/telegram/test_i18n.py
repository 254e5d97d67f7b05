"""The telegram catalogs: complete, in step with the code, plurals intact; a Hindi plural."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR
from tests.handlers.telegram.conftest import Reporter
from tests.support.telegram_standin import BotAPIStandIn

REQUIRED = ("en", "hi", "bn", "ne", "ur", "ta", "si")
SOURCES = ("handlers/telegram/reporter.py", "handlers/telegram/__init__.py")
# aiogram's lazy ``__`` on top of Babel's defaults, as `make locales` extracts.
KEYWORDS = {**DEFAULT_KEYWORDS, "__": None}


def load(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def source_ids() -> set[str | tuple[str, ...]]:
    root = LOCALES_DIR.parent
    return {
        message
        for source in SOURCES
        for _, message, _, _ in extract_from_file("python", str(root / source), KEYWORDS)
    }


def test_the_template_matches_the_code() -> None:
    template = load(LOCALES_DIR / "telegram.pot")
    assert {m.id for m in template if m.id} == source_ids()


@pytest.mark.parametrize("locale", REQUIRED)
def test_catalog_is_complete_and_marked_for_review(locale: str) -> None:
    catalog = load(LOCALES_DIR / locale / "LC_MESSAGES" / "telegram.po")
    assert "NEEDS NATIVE REVIEW" in catalog.header_comment
    assert {m.id for m in catalog if m.id} == source_ids()
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert len(forms) == catalog.num_plurals if len(ids) > 1 else len(forms) == 1
        for form in forms:
            assert form, (locale, message.id)
            assert placeholders(form) == placeholders(ids[-1]), (locale, message.id)


async def test_hindi_plural_for_two_media(reporter: Reporter, standin: BotAPIStandIn) -> None:
    (welcome,) = await reporter.say("/start")
    await reporter.press(welcome.buttons()["हिन्दी"], welcome.message_id)
    photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]
    await reporter.post(reporter.message_update(photo=photo))
    assert "केस" in standin.of("sendMessage")[-2].text  # created; the first question follows
    voice = {"file_id": "v1", "file_unique_id": "u2", "duration": 4}
    await reporter.post(reporter.message_update(voice=voice))
    reply = standin.of("sendMessage")[-1].text
    assert "अब 2 फ़ोटो, वॉइस नोट या फ़ाइलें हैं" in reply
