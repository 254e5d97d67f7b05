"""Facts a responder needs first: the child's age, places, transport, times."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

_MAX_AGE = 99
_ADULT = 18
# "8 to 11 years", "12 se 14 saal": short words may join the numbers of a range.
_MAX_CONNECTOR_LENGTH = 3
TIME_RULES = ("time_now", "time_today", "time_present", "time_soon", "time_clock")


class HitLike(Protocol):
    """What facts need of a lexicon hit (``triage.engine.Hit``)."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...

    @property
    def text(self) -> str: ...


class Facts(NamedTuple):
    """Concrete details read from a report (immutable)."""

    ages: tuple[int, ...] = ()
    places: tuple[str, ...] = ()
    transport: tuple[str, ...] = ()
    times: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ages": list(self.ages),
            "places": list(self.places),
            "transport": list(self.transport),
            "times": list(self.times),
        }


def numbers_before(words: Sequence[str], index: int) -> list[int]:
    """Numbers of a range ending just before ``words[index]`` ("8 to 11 years")."""
    numbers: list[int] = []
    position = index - 1
    while position >= 0:
        word = words[position]
        if word.isdigit():
            numbers.append(int(word))
        elif not (numbers and len(word) <= _MAX_CONNECTOR_LENGTH):
            break
        position -= 1
    return numbers


def numbers_after(words: Sequence[str], index: int) -> list[int]:
    """Numbers of a range starting just after ``words[index]`` ("aged 8-10")."""
    numbers: list[int] = []
    position = index + 1
    while position < len(words):
        word = words[position]
        if word.isdigit():
            numbers.append(int(word))
        elif not (numbers and len(word) <= _MAX_CONNECTOR_LENGTH):
            break
        position += 1
    return numbers


def _ages(by_rule: Mapping[str, Sequence[HitLike]], words: Sequence[str]) -> list[int]:
    ages: list[int] = []
    for hit in by_rule.get("age_unit", ()):
        ages.extend(numbers_before(words, hit.start))
    # "around 20 (Rohingya) kids" is a count, not an age: an adult number just before a
    # child word ("අවුරුදු 14ක කෙල්ලෙක්", a 14-year girl, keeps its age).
    child_words = {hit.start for hit in by_rule.get("minor", ()) if hit.end == hit.start + 1}
    for hit in by_rule.get("age_prefix", ()):
        numbers = numbers_after(words, hit.end - 1)
        after = hit.end + len(numbers)  # the word after the number(s)
        if child_words.isdisjoint((after, after + 1)):
            ages.extend(numbers)
        else:  # an adult "age" of children is a count; a child's age stays an age
            ages.extend(number for number in numbers if number < _ADULT)
    # "age" patterns ("(15)") and self-reports with a number ("i am 14",
    # "mai 15 saal ki") carry the age in their own words.
    for rule in ("age", "self_report"):
        for hit in by_rule.get(rule, ()):
            ages.extend(map(int, _digit_runs(hit.text)))
    return [age for age in ages if age <= _MAX_AGE]


# Runs of decimal digits (normalised text holds ASCII digits only).
_digit_runs = re.compile(r"[0-9]+").findall


def child_words_apart_from_ages(
    by_rule: Mapping[str, Sequence[HitLike]], words: Sequence[str]
) -> bool:
    """Whether a word for a child stands apart from every age in the report.

    "a 22 year old girl", "my brother is 27 years", "a girl aged 22": the age
    says who the girl or brother is. "a 40 year old man is taking a little
    girl", "took the girl, he is 40 years": the age is the man's, and the girl
    is a child whatever his age (GUIDE: unknown ages are children).
    """
    units = by_rule.get("age_unit", ())
    described = {hit.end for hit in units} | {hit.end + 1 for hit in units}
    described_before = {hit.start for hit in by_rule.get("age_prefix", ())}
    for hit in units:
        described_before.update(_ends_before_age(words, hit.start))
    return any(
        hit.start not in described and hit.end not in described_before
        for hit in by_rule.get("minor", ())
    )


def _ends_before_age(words: Sequence[str], unit: int) -> set[int]:
    """Where a word that an age unit's number describes may end: just before the
    number(s), or before one linking word ("brother is 27 years")."""
    position = unit - 1
    while position >= 0 and words[position].isdigit():
        position -= 1
    if position == unit - 1:
        return set()
    return {position + 1, position}


def _without_verbs(times: list[str], by_rule: Mapping[str, Sequence[HitLike]]) -> list[str]:
    """Times less the verbs that say "now" by their tense ("is taking", "le ja raha"):
    they are listed under an event rule as well, and a responder wants times."""
    present = {hit.text for hit in by_rule["time_present"]}
    verbs = {
        hit.text
        for rule, hits in by_rule.items()
        if rule not in TIME_RULES
        for hit in hits
        if hit.text in present
    }
    return [text for text in times if text not in verbs]


def clock_times(by_rule: Mapping[str, Sequence[HitLike]], words: Sequence[str]) -> list[str]:
    """Clock hours read from a number before a clock word ("9 baje", "৯টায়")."""
    times = []
    for hit in by_rule.get("clock_unit", ()):
        numbers = numbers_before(words, hit.start)
        if numbers:
            times.append(f"{numbers[-1]} {hit.text}")
    return times


def _texts(by_rule: Mapping[str, Sequence[HitLike]], rules: Iterable[str]) -> list[str]:
    return [hit.text for rule in rules for hit in by_rule.get(rule, ())]


def read_facts(
    by_rule: Mapping[str, Sequence[HitLike]], words: Sequence[str]
) -> tuple[Facts, list[str]]:
    """Ages, places, transport and time expressions from the hits of each rule, and the
    clock times among those times.

    ``words`` are the message's words, numbers included, at the hits' positions
    (needed only for age and clock units).
    """
    clock = clock_times(by_rule, words) if "clock_unit" in by_rule else []
    times = _texts(by_rule, TIME_RULES) + clock
    if "time_present" in by_rule:
        times = _without_verbs(times, by_rule)
    ages = _ages(by_rule, words) if not _AGE_RULES.isdisjoint(by_rule) else ()
    places = by_rule.get("place")
    transit = by_rule.get("transit")
    facts = tuple.__new__(
        Facts,
        (
            tuple(sorted(set(ages))) if ages else (),
            tuple(dict.fromkeys([hit.text for hit in places])) if places else (),
            tuple(dict.fromkeys([hit.text for hit in transit])) if transit else (),
            tuple(dict.fromkeys(times)) if times else (),
        ),
    )
    return facts, clock


_AGE_RULES = frozenset({"age_unit", "age_prefix", "age", "self_report"})
