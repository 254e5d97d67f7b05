"""SMS text rules: segment counting, keywords in every supported language, reply language.

Pure functions: no Redis, no network. ``handlers/twilio.py`` does the I/O.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from bot.i18n import translations

# GSM 03.38 basic character set, and the extension table (each costs two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
MAX_SEGMENTS = 2


@dataclass(frozen=True)
class Segments:
    encoding: Literal["GSM-7", "UCS-2"]
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    count: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def count_segments(text: str) -> Segments:
    """How many SMS segments ``text`` costs: GSM-7 160/153 septets, else UCS-2 70/67 units."""
    if is_gsm7(text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, multi = 160, 153
        encoding: Literal["GSM-7", "UCS-2"] = "GSM-7"
    else:
        # Characters outside the BMP (most emoji) take two UTF-16 code units.
        units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
        single, multi = 70, 67
        encoding = "UCS-2"
    if units <= single:
        return Segments(encoding, units, 1 if units else 0)
    return Segments(encoding, units, -(-units // multi))


def fits(text: str, segments: int = MAX_SEGMENTS) -> bool:
    return count_segments(text).count <= segments


def join_within(parts: list[str], segments: int = MAX_SEGMENTS) -> str:
    """Join reply parts in priority order, dropping trailing parts that do not fit."""
    kept: list[str] = []
    for part in parts:
        candidate = " ".join([*kept, part])
        if fits(candidate, segments) or not kept:
            kept.append(part)
    return " ".join(kept)


# ------------------------------------------------------------------ languages

# Reply catalogs for SMS; Latin-script variants are GSM-7 only (cheaper, readable
# on phones without Indic fonts).
SMS_LOCALES: tuple[str, ...] = (
    "en",
    "hi",
    "hi-Latn",
    "bn",
    "bn-Latn",
    "ne",
    "ne-Latn",
    "ur",
    "ur-Latn",
    "ta",
    "si",
)
# Languages triage recognises but we have no SMS catalog for: the closest one readers know.
NEAREST: Mapping[str, str] = {"mr": "hi", "mr-Latn": "hi-Latn", "ps": "ur", "te": "en"}
LANGUAGE_NAMES: Mapping[str, str] = {
    "en": "English",
    "hi": "हिन्दी",
    "hi-Latn": "Hindi-Rom",
    "bn": "বাংলা",
    "bn-Latn": "Bangla-Rom",
    "ne": "नेपाली",
    "ne-Latn": "Nepali-Rom",
    "ur": "اردو",
    "ur-Latn": "Urdu-Rom",
    "ta": "தமிழ்",
    "si": "සිංහල",
}


def reply_locale(detected: str | None, preferred: str | None = None) -> str:
    """The catalog to answer in: the reporter's choice, else the language they wrote in."""
    for code in (preferred, detected):
        if not code:
            continue
        if code in SMS_LOCALES:
            return code
        if code in NEAREST:
            return NEAREST[code]
    return "en"


def locale_dir(locale: str) -> str:
    return locale.replace("-", "_")


def gettext_for(locale: str) -> Callable[[str], str]:
    return translations("sms", locale).gettext


# ------------------------------------------------------------------ keywords

Keyword = Literal["stop", "start", "help", "lang", "status", "delete"]

# Twilio's own opt-out and help words must keep working; each also in our languages.
# Not YES (a Twilio START word): reporters answer our questions with "yes".
_KEYWORDS: Mapping[Keyword, frozenset[str]] = {
    "stop": frozenset(
        {
            "stop",
            "stopall",
            "unsubscribe",
            "cancel",
            "end",
            "quit",
            "optout",
            "revoke",
            "बंद",
            "बन्द",
            "रोको",
            "band",
            "bondho",
            "বন্ধ",
            "roko",
            "روکو",
            "بند",
            "நிறுத்து",
            "නවත්වන්න",
        }
    ),
    "start": frozenset(
        {"start", "unstop", "शुरू", "shuru", "শুরু", "shuru koro", "شروع", "தொடங்கு", "අරඹන්න"}
    ),
    "help": frozenset(
        {"help", "info", "madad", "मदद", "সাহায্য", "sahajjo", "मद्दत", "maddat", "مدد", "உதவி", "උදව්"}
    ),
    "lang": frozenset(
        {
            "lang",
            "language",
            "भाषा",
            "bhasha",
            "ভাষা",
            "bhasa",
            "زبان",
            "zuban",
            "zaban",
            "மொழி",
            "භාෂාව",
        }
    ),
    "status": frozenset(
        {"status", "स्थिति", "sthiti", "অবস্থা", "obostha", "حالت", "halat", "நிலை", "තත්ත්වය"}
    ),
    "delete": frozenset(
        {"delete", "erase", "मिटाओ", "mitao", "মুছুন", "muchun", "مٹاؤ", "அழி", "මකන්න"}
    ),
}


@dataclass(frozen=True)
class Command:
    keyword: Keyword
    argument: str = ""


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().strip()
    return text.strip(" .!?।॥,;:\"'()[]")


def parse_keyword(body: str) -> Command | None:
    """A message that is only a keyword (optionally with an argument) is a command.

    "STOP" is a command; "please stop them, they are taking a girl" is a report.
    Only STATUS and LANG take an argument; everything else must stand alone.
    """
    folded = _fold(body)
    if not folded or len(folded) > 40:
        return None
    for keyword, words in _KEYWORDS.items():
        if folded in words:
            return Command(keyword)
    head, _, rest = folded.partition(" ")
    rest = rest.strip()
    if rest and head in _KEYWORDS["status"]:
        return Command("status", rest)
    if rest and head in _KEYWORDS["lang"]:
        return Command("lang", rest)
    return None


def parse_language_choice(argument: str) -> str | None:
    """``2``, ``hi``, ``hi-latn``, ``हिन्दी`` → a catalog code, or None."""
    value = _fold(argument)
    if value.isdigit():
        index = int(value) - 1
        return SMS_LOCALES[index] if 0 <= index < len(SMS_LOCALES) else None
    for code, name in LANGUAGE_NAMES.items():
        if value in (code.casefold(), _fold(name), code.split("-")[0] if code == "en" else ""):
            return code
    return value if value in SMS_LOCALES else None


def language_menu() -> str:
    return " ".join(f"{i} {LANGUAGE_NAMES[code]}" for i, code in enumerate(SMS_LOCALES, 1))


# ------------------------------------------------------------------ replies


def follow_up_question(_: Callable[[str], str], facts: Mapping[str, object]) -> str:
    """One short question for the first fact the report lacks (where, how old, when)."""
    if not facts.get("places"):
        return _("Where is the child now (town, district)?")
    if not facts.get("ages"):
        return _("How old is the child?")
    if not facts.get("times"):
        return _("When was this? Is the child there now?")
    return _("A responder will look at it soon. Send more details here.")


def status_word(_: Callable[[str], str], status: str) -> str:
    words = {
        "new": _("received"),
        "triaged": _("received, waiting for a responder"),
        "assigned": _("with a responder"),
        "acknowledged": _("a responder is working on it"),
        "resolved": _("closed"),
        "closed_no_action": _("closed"),
    }
    return words.get(status, status)
