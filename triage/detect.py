"""Language and script detection from Unicode ranges and lexicon marker words.

No model and no network: the script is read from code-point ranges, then the
lexicons of that script vote with their marker words (frequent function words
such as "hai", "nahi", "het", "আমি"). Good enough to pick a reply language.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from math import fsum

from triage.lexicon import COMMON, Lexicon, load_lexicons, tokenize
from triage.normalize import normalize

UNDETERMINED = "und"

# ISO 15924 codes for the scripts our lexicons use, with their letter ranges.
_SCRIPT_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "Latn": ((0x61, 0x7A), (0xDF, 0x24F)),
    "Deva": ((0x900, 0x97F), (0xA8E0, 0xA8FF)),
    "Beng": ((0x980, 0x9FF),),
    "Arab": ((0x600, 0x6FF), (0x750, 0x77F), (0x8A0, 0x8FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "Taml": ((0xB80, 0xBFF),),
    "Telu": ((0xC00, 0xC7F),),
    "Sinh": ((0xD80, 0xDFF),),
    "Thaa": ((0x780, 0x7BF),),
    "Gujr": ((0xA80, 0xAFF),),
    "Guru": ((0xA00, 0xA7F),),
    "Knda": ((0xC80, 0xCFF),),
    "Mlym": ((0xD00, 0xD7F),),
    "Orya": ((0xB00, 0xB7F),),
    "Mymr": ((0x1000, 0x109F),),
    "Thai": ((0xE00, 0xE7F),),
    "Cyrl": ((0x400, 0x4FF),),
    "Hani": ((0x4E00, 0x9FFF),),
}
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_SCRIPT_OF = {
    chr(code_point): script
    for script, ranges in _SCRIPT_RANGES.items()
    for low, high in ranges
    for code_point in range(low, high + 1)
}
# A message is read with every script that holds at least this share of its
# letters, so "मेरे area में" gets both Devanagari and Latin lexicons.
_MIN_SCRIPT_SHARE = 0.15


def script_counts(normalized: str) -> dict[str, int]:
    """Words per script in already normalised (casefolded) text, by each word's first letter."""
    if normalized.isascii():
        return {"Latn": 1} if not _ASCII_LETTERS.isdisjoint(normalized) else {}
    return dict(Counter(filter(None, map(_SCRIPT_OF.get, [w[0] for w in normalized.split()]))))


def script_of(word: str) -> str | None:
    """ISO 15924 script of a (casefolded) word's first character, if a lexicon script."""
    return _SCRIPT_OF.get(word[0])


def scripts_in(normalized: str) -> tuple[str, ...]:
    """Scripts of a message, the dominant first; minor scripts under 15 % dropped."""
    return ranked_scripts(script_counts(normalized))


def ranked_scripts(counts: Mapping[str, int]) -> tuple[str, ...]:
    """Scripts by their word counts, the dominant first; those under 15 % dropped."""
    if not counts:
        return ()
    if len(counts) == 1:
        return tuple(counts)
    total = sum(counts.values())
    ranked = sorted(counts, key=lambda script: -counts[script])
    return tuple(s for s in ranked if counts[s] >= _MIN_SCRIPT_SHARE * total or s == ranked[0])


@cache
def lexicons_for_script(script: str) -> tuple[Lexicon, ...]:
    """Lexicons written in ``script``, the script's default language first."""
    lexicons = load_lexicons()
    return tuple(
        sorted(
            (lex for tag, lex in lexicons.items() if tag != COMMON and lex.script == script),
            key=lambda lex: -lex.priority,
        )
    )


@cache
def _marker_weights(script: str) -> tuple[tuple[str, Mapping[str, float]], ...]:
    """Each language's markers weighted 1/k when k languages of the script share them.

    "hai" is Hindi and Urdu alike and counts half for each; "aik" (Urdu) or
    "आहे" (Marathi) count fully and tell the languages apart.
    """
    candidates = lexicons_for_script(script)
    sharing = Counter(marker for lex in candidates for marker in lex.markers)
    return tuple(
        (lex.language, {marker: 1 / sharing[marker] for marker in lex.markers})
        for lex in candidates
    )


@cache
def _all_markers(script: str) -> frozenset[str]:
    return frozenset(marker for _, weights in _marker_weights(script) for marker in weights)


def likely_languages(script: str, tokens: Iterable[str]) -> tuple[str, ...]:
    """Languages of ``script`` the text may be in, the most likely first (memoised)."""
    return _rank_languages(script, _all_markers(script).intersection(tokens))


@lru_cache(maxsize=4096)
def _rank_languages(script: str, found: frozenset[str]) -> tuple[str, ...]:
    """Languages of ``script`` the text may be in, the most likely first.

    Each lexicon votes with the marker words found (summed exactly, so a tie
    does not depend on the hash order of the set). Languages with at least a
    third of the winner's votes stay in, so Urdu and Hindi written alike are
    both read; with no votes at all every language of the script is read (the
    script's default language first).
    """
    votes = [
        (fsum(weights[marker] for marker in found.intersection(weights)), language)
        for language, weights in _marker_weights(script)
    ]
    if not votes:
        return ()
    best = max(vote for vote, _ in votes)
    if best == 0:
        return tuple(language for _, language in votes)
    ranked = sorted(votes, key=lambda item: -item[0])
    return tuple(language for vote, language in ranked if vote >= best / 3)


def language_from_markers(script: str, tokens: Iterable[str]) -> str:
    """The lexicon of ``script`` whose marker words occur most in ``tokens``."""
    likely = likely_languages(script, tokens)
    return likely[0] if likely else UNDETERMINED


def detect_from_normalized(normalized: str, tokens: Iterable[str]) -> str:
    """Language tag of normalised text and its tokens; ``"und"`` without letters."""
    scripts = scripts_in(normalized)
    if not scripts:
        return UNDETERMINED
    return language_from_markers(scripts[0], tokens)


def detect_language(text: str) -> str:
    """ISO 639 code of ``text`` with ``-Latn`` for romanized South Asian languages.

    ``"und"`` when the text has no letters, or letters of a script without a
    lexicon.
    """
    normalized = normalize(text)
    return detect_from_normalized(normalized, tokenize(normalized))
