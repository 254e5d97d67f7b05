"""normalize: one matching form for text and terms, idempotent."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.normalize import fold_variants, normalize, readable_form

# Modest and reproducible: the whole triage suite must stay under a minute.
FAST = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize(
    ("variants", "why"),
    [
        (["abhi", "abi", "abhee", "ABHI"], "romanized spelling and case"),
        (["ladki", "larki", "LADKI"], "ड़ written d or r"),
        (["karza", "qarza"], "q/k"),
        (["wala", "vala"], "w/v"),
        (["plz", "plzzzz", "PLZZZ"], "repeated letters"),
        (["लड़की", "लडकी"], "Devanagari nukta"),
        (["মেয়ে", "মেয়ে"], "Bengali nukta, composed or not"),
        (["کیا", "كيا"], "Arabic and Urdu yeh/kaf"),
        (["bach\u200bcha", "bachcha"], "zero-width space"),
        (["\u202ehelp", "help"], "bidi control"),
    ],
)
def test_variants_share_one_form(variants: list[str], why: str) -> None:
    assert len({normalize(v) for v in variants}) == 1, why


@pytest.mark.parametrize(
    ("text", "expected"),
    [("১২ বছর", "12 বছর"), ("१४ साल", "14 साल"), ("۱۴ سال", "14 سال"), ("٣", "3")],
)
def test_native_digits_become_ascii(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_whitespace_is_collapsed_and_emoji_kept() -> None:
    assert normalize("  help \n\n me 😭 ") == "help me 😭"


def test_folding_keeps_word_positions() -> None:
    readable = readable_form("Abhee  LARKI ko le ja rahe hain plzzz")
    assert len(fold_variants(readable).split()) == len(readable.split())


@FAST
@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@FAST
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_normalize_never_raises(text: str) -> None:
    assert isinstance(normalize(text), str)
