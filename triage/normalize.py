"""One normalisation for report text and lexicon terms alike.

Matching is only as good as the agreement between how a reporter typed a word
and how a lexicon author wrote it, so both pass through :func:`normalize`.
"""

from __future__ import annotations

import unicodedata

import regex

# Zero-width and bidi controls: invisible, yet they split words for a matcher.
# ZWJ/ZWNJ only steer glyph shaping in Indic and Arabic scripts, so dropping
# them on both sides of the match loses nothing.
_INVISIBLE = (
    "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064"
    "\u2066\u2067\u2068\u2069\ufeff"
)
# Nukta and its cousins: reporters type क़/क, ড়/ড interchangeably.
_NUKTAS = "\u093c\u09bc\u0a3c\u0abc\u0b3c\u0cbc"


# Arabic-script letters typed from Arabic keyboards in Urdu, Persian and Pashto
# text: Arabic yeh and kaf become the Persian forms; short-vowel marks go.
_ARABIC_FOLDS = {"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9"}
_ARABIC_MARKS = "".join(map(chr, range(0x064B, 0x0660))) + "\u0670"


# Every script people text in lives below U+20000; past it lie only ideographs
# and private use. Scanning one string with the `regex` module is ~10x faster
# at import than asking unicodedata about each code point.
CODE_POINTS = "".join(map(chr, range(0x20000)))


def _build_translation() -> dict[int, str | None]:
    table: dict[int, str | None] = dict.fromkeys(map(ord, _INVISIBLE + _NUKTAS + _ARABIC_MARKS))
    table.update({ord(source): target for source, target in _ARABIC_FOLDS.items()})
    for char in regex.findall(r"[\p{Nd}--[\x00-\x7f]]", CODE_POINTS, flags=regex.V1):
        digit = unicodedata.digit(char, None)
        if digit is not None:
            table[ord(char)] = str(digit)
    return table


_TRANSLATION = _build_translation()
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_LETTER_SET = frozenset(_LETTERS)
# Three or more of one letter ("plzzzz", "helppp") say the same as one. Only
# Latin letters: that is where people stretch words, and a substring test per
# letter is far cheaper than a backreference scan of every message.
_RUNS = {letter: regex.compile(letter + "{3,}") for letter in _LETTERS}
_DOUBLE_VOWELS = {vowel: regex.compile(vowel + "{2,}") for vowel in "aiu"}
# Romanized South Asian spellings vary by writer, not by meaning: abhi/abi/abhee,
# ladki/larki, qarza/karza, wala/vala, phir/fir. English and Dutch words are
# folded too, harmlessly, because terms go through the same function. The order
# matters: a step must not create what an earlier step removes.
_LETTER_FOLDS = str.maketrans("qwz", "kvj")
_PAIR_FOLDS = (
    ("hh", "h"),
    ("bh", "b"),
    ("dh", "d"),
    ("gh", "g"),
    ("jh", "j"),
    ("kh", "k"),
    ("th", "t"),
    ("ph", "f"),
    ("rk", "dk"),
    ("ee", "i"),
    ("oo", "u"),
)


def _squeeze_latin(text: str, letters: frozenset[str]) -> str:
    for letter in letters:
        if letter * 3 in text:
            text = _RUNS[letter].sub(letter, text)
    return text


def _fold_roman(text: str) -> str:
    text = text.translate(_LETTER_FOLDS)
    for pair, single in _PAIR_FOLDS:
        if pair in text:
            text = text.replace(pair, single)
    for vowel, run in _DOUBLE_VOWELS.items():
        if vowel * 2 in text:
            text = run.sub(vowel, text)
    return text


def readable_form(text: str) -> str:
    """The first half of :func:`normalize`: still readable, as signals quote it.

    NFKC, casefold, NFKC again (casefold can un-normalise ~640 code points),
    invisible controls, nuktas and Arabic short vowels removed, native digits
    made ASCII, runs of whitespace made one space.
    """
    if text.isascii():
        return " ".join(text.lower().split())
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(text.translate(_TRANSLATION).split())


def fold_variants(readable: str) -> str:
    """The second half of :func:`normalize`: spelling variants folded.

    Works inside words only, so words keep their positions.
    """
    letters = _LETTER_SET.intersection(readable)
    if not letters:
        return readable
    text = _fold_roman(_squeeze_latin(readable, letters))
    text = _squeeze_latin(text, _LETTER_SET.intersection(text))
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def normalize(text: str) -> str:
    """Return the matching form of ``text``; idempotent.

    :func:`readable_form`, then letters repeated three times or more squeezed
    ("plzzzz") and romanized spelling variants folded (abhi/abi/abhee).
    """
    return fold_variants(readable_form(text))
