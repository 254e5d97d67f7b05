"""Assess a report: match lexicons, weigh signal families, decide the urgency.

The decision follows ``GUIDE.md``: time beats everything, negation and the
past lower urgency, a child's own cry for help is never below high, and when
two levels fit the higher one wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any, NamedTuple

from triage.detect import UNDETERMINED, likely_languages, scripts_in
from triage.facts import Facts, clock_times, extract_facts
from triage.lexicon import (
    COMMON,
    NUMBER,
    Lexicon,
    load_lexicons,
    load_rules,
    mask_numbers,
    split_words,
)
from triage.normalize import fold_variants, readable_form


class Urgency(StrEnum):
    """How fast a responder must act (GUIDE.md, "Urgency: four levels")."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Signal:
    """A rule that fired, its weight and the words of the text that matched it."""

    rule: str
    weight: int
    matched: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"rule": self.rule, "weight": self.weight, "matched": list(self.matched)}


@dataclass(frozen=True)
class Assessment:
    """The verdict on one report."""

    urgency: Urgency
    score: int
    categories: tuple[str, ...]
    language: str
    signals: tuple[Signal, ...]
    facts: Facts

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, keys as in the JSON lines contract."""
        return {
            "urgency": self.urgency.value,
            "score": self.score,
            "categories": list(self.categories),
            "language": self.language,
            "signals": [signal.to_dict() for signal in self.signals],
            "facts": self.facts.to_dict(),
        }


class Hit(NamedTuple):
    """One matched term: its token span (-1, -1 for emoji and patterns), rules and words."""

    start: int
    end: int
    rules: tuple[str, ...]
    text: str


Rules = tuple[str, ...]
PhraseTables = tuple[tuple[int, Mapping[str, Rules]], ...]
PhraseStems = tuple[tuple[tuple[str, ...], Rules], ...]


@dataclass(frozen=True)
class Matcher:
    """The lexicons read for one message, merged into lookup tables.

    Phrases and phrase stems are indexed by their first word, stems by their
    first letters, so each word of a message costs a few hash look-ups.
    """

    words: Mapping[str, Rules]
    phrases_by_head: Mapping[str, PhraseTables]
    phrase_stems_by_head: Mapping[str, PhraseStems]
    phrase_openings: frozenset[str]
    phrase_stem_heads: frozenset[str]
    stem_heads: Mapping[str, tuple[int, ...]]
    stem_rules: Mapping[str, Rules]
    emoji: Mapping[str, Rules]
    lexicons: tuple[Lexicon, ...]
    word_cache: dict[str, list[Rules]] = field(default_factory=dict, compare=False, repr=False)


def _merge(tables: Iterable[Mapping[str, Rules]]) -> dict[str, Rules]:
    merged: dict[str, Rules] = {}
    for table in tables:
        for term, rules in table.items():
            merged[term] = tuple(dict.fromkeys(merged.get(term, ()) + rules))
    return merged


def _merge_by_length(
    tables: Iterable[Mapping[int, Mapping[str, Rules]]],
) -> dict[int, dict[str, Rules]]:
    grouped: dict[int, list[Mapping[str, Rules]]] = {}
    for table in tables:
        for length, terms in table.items():
            grouped.setdefault(length, []).append(terms)
    return {length: _merge(grouped[length]) for length in sorted(grouped, reverse=True)}


def _index_phrases(phrases: Mapping[int, Mapping[str, Rules]]) -> dict[str, PhraseTables]:
    """For each first word, the phrase tables (longest first) holding a phrase it starts."""
    index: dict[str, list[tuple[int, Mapping[str, Rules]]]] = {}
    for size, table in sorted(phrases.items(), reverse=True):
        for head in {term.split(" ", 1)[0] for term in table}:
            index.setdefault(head, []).append((size, table))
    return {head: tuple(tables) for head, tables in index.items()}


def _index_phrase_stems(table: Mapping[str, Rules]) -> dict[str, PhraseStems]:
    """Phrases ending in a stem ("আজ সন্ধ্যা*"), keyed by their first word, longest first."""
    index: dict[str, list[tuple[tuple[str, ...], Rules]]] = {}
    for phrase, rules in table.items():
        parts = tuple(phrase.split(" "))
        index.setdefault(parts[0], []).append((parts, rules))
    return {
        first: tuple(sorted(entries, key=lambda entry: -len(entry[0])))
        for first, entries in index.items()
    }


# Stems are found by their first letters, then checked at each stem length.
_HEAD = 2


@cache
def matcher_for(languages: tuple[str, ...]) -> Matcher:
    """Merged tables of the given lexicons plus the language-neutral one."""
    available = load_lexicons()
    chosen = tuple(
        available[tag] for tag in dict.fromkeys((COMMON, *languages)) if tag in available
    )
    stems = _merge_by_length(lex.stems for lex in chosen)
    stem_rules = {stem: rules for table in stems.values() for stem, rules in table.items()}
    stem_heads: dict[str, set[int]] = {}
    for stem in stem_rules:
        stem_heads.setdefault(stem[:_HEAD], set()).add(len(stem))
    phrases_by_head = _index_phrases(_merge_by_length(lex.phrases for lex in chosen))
    phrase_stems_by_head = _index_phrase_stems(_merge(lex.phrase_stems for lex in chosen))
    return Matcher(
        words=_merge(lex.words for lex in chosen),
        phrases_by_head=phrases_by_head,
        phrase_stems_by_head=phrase_stems_by_head,
        phrase_openings=frozenset(
            " ".join(term.split(" ", 2)[:2])
            for tables in phrases_by_head.values()
            for _, table in tables
            for term in table
        ),
        phrase_stem_heads=frozenset(phrase_stems_by_head),
        stem_heads={
            head: tuple(sorted(lengths, reverse=True)) for head, lengths in stem_heads.items()
        },
        stem_rules=stem_rules,
        emoji=_merge(lex.emoji for lex in chosen),
        lexicons=chosen,
    )


# English is read in every message: reporters mix it into every language.
_ALWAYS = ("en",)


def _longest_phrase(matcher: Matcher, tokens: Sequence[str], start: int) -> tuple[int, list[Rules]]:
    """The longest phrase (or phrase stem) starting at ``start``: its size and rules."""
    head, count = tokens[start], len(tokens)
    for size, table in matcher.phrases_by_head.get(head, ()):
        if start + size <= count:
            rules = table.get(" ".join(tokens[start : start + size]))
            if rules is not None:
                best, found = size, [rules]
                break
    else:
        best, found = 0, []
    for parts, rules in matcher.phrase_stems_by_head.get(head, ()):
        size = len(parts)
        if size < best:
            break
        end = start + size
        if (
            end <= count
            and tuple(tokens[start + 1 : end - 1]) == parts[1:-1]
            and tokens[end - 1].startswith(parts[-1])
        ):
            if size > best:
                best, found = size, []
            found.append(rules)
    return best, found


# Words seen before are looked up once: the vocabulary of reports repeats.
_WORD_CACHE_LIMIT = 50_000


def _word_rules(matcher: Matcher, token: str) -> list[Rules]:
    """Rules of the word itself and of every stem it starts with (memoised)."""
    found = []
    rules = matcher.words.get(token)
    if rules is not None:
        found.append(rules)
    for length in matcher.stem_heads.get(token[:_HEAD], ()):
        if length <= len(token):
            rules = matcher.stem_rules.get(token[:length])
            if rules is not None:
                found.append(rules)
    if len(matcher.word_cache) < _WORD_CACHE_LIMIT:
        matcher.word_cache[token] = found
    return found


def find_hits(
    matcher: Matcher, tokens: Sequence[str], shown: Sequence[str], text: str
) -> list[Hit]:
    """Lexicon terms in ``tokens``, leftmost-longest and not overlapping.

    The longest match at a place wins, so "abhi bhi" (still) hides "abhi"
    (now). ``shown`` holds the same words as the reporter wrote them. This
    loop runs for every word of every message, hence the local names.
    """
    hits: list[Hit] = []
    openings, stem_heads = matcher.phrase_openings, matcher.phrase_stem_heads
    known = matcher.word_cache
    start, count = 0, len(tokens)
    while start < count:
        token = tokens[start]
        opening = f"{token} {tokens[start + 1]}" if start + 1 < count else token
        if opening in openings or token in stem_heads:
            size, found = _longest_phrase(matcher, tokens, start)
        else:
            size, found = 0, []
        if not size:
            cached = known.get(token)
            found = _word_rules(matcher, token) if cached is None else cached
            size = 1 if found else 0
        if size:
            words = " ".join(shown[start : start + size])
            hits.extend([Hit(start, start + size, rules, words) for rules in found])
            start += size
        else:
            start += 1
    if not text.isascii():
        for char in matcher.emoji.keys() & set(text):
            hits.append(Hit(-1, -1, matcher.emoji[char], char))
    return hits


def pattern_hits(lexicons: Iterable[Lexicon], text: str) -> list[Hit]:
    """Matches of the lexicons' free-form patterns in normalised text."""
    hits = []
    for lex in lexicons:
        if lex.patterns is None:
            continue
        for match in lex.patterns.finditer(text):
            group = match.lastgroup
            if group is not None:
                hits.append(Hit(-1, -1, (lex.pattern_rules[int(group[1:])],), match.group()))
    return hits


@dataclass(frozen=True)
class Evidence:
    """What the rules found in one report, ready for the decision."""

    fired: Mapping[str, int]
    matched: Mapping[str, tuple[str, ...]]
    categories: tuple[str, ...]
    facts: Facts

    def has(self, *rules: str) -> bool:
        """Whether any of ``rules`` fired."""
        return not self.fired.keys().isdisjoint(rules)

    def total(self, rules: Iterable[str]) -> int:
        """Sum of the absolute weights of those ``rules`` that fired."""
        return sum(abs(self.fired[rule]) for rule in self.fired.keys() & set(rules))

    def insistence(self, rules: Iterable[str]) -> int:
        """Like :meth:`total`, a rule matched by two different words counting twice."""
        present = self.fired.keys() & set(rules)
        return sum(abs(self.fired[rule]) * min(2, len(self.matched[rule])) for rule in present)


@cache
def _scoring() -> tuple[dict[str, int], dict[str, str]]:
    """Weights of the rules that score, and the category of each category rule."""
    rules = load_rules().values()
    weights = {rule.name: rule.weight for rule in rules if rule.scores}
    categories = {rule.name: rule.category for rule in rules if rule.category is not None}
    return weights, categories


def gather_evidence(hits: Iterable[Hit], words: Sequence[str]) -> Evidence:
    """Group hits by rule, read the facts, derive the age signals."""
    by_rule: dict[str, list[Hit]] = {}
    for hit in hits:
        for rule in hit.rules:
            by_rule.setdefault(rule, []).append(hit)
    matched = {
        rule: list(dict.fromkeys(hit.text for hit in found)) for rule, found in by_rule.items()
    }
    facts = extract_facts(by_rule, words)
    minor_ages = tuple(str(age) for age in facts.ages if age < ADULT_AGE)
    adult_ages = tuple(str(age) for age in facts.ages if age >= ADULT_AGE)
    if minor_ages:
        matched.setdefault("minor_age", []).extend(minor_ages)
    elif adult_ages:
        matched.setdefault("adult_age", []).extend(adult_ages)
    clock = clock_times(by_rule, words)
    if clock:
        matched.setdefault("time_clock", []).extend(clock)
    weights, category_of = _scoring()
    fired = {rule: weights[rule] for rule in matched.keys() & weights.keys()}
    categories = tuple(sorted({category_of[rule] for rule in fired.keys() & category_of.keys()}))
    return Evidence(
        fired=fired,
        matched={rule: tuple(words_) for rule, words_ in matched.items() if rule in fired},
        categories=categories,
        facts=facts,
    )


ADULT_AGE = 18

# Families of rules (names of _rules.toml) as the decision reads them.
# A clock time means now only for something scheduled: a departure, a handover,
# a wedding, an operation. "Works till 2 am" is routine, not now.
SCHEDULED_EVENTS = (
    "movement",
    "handover",
    "cat.child_marriage",
    "cat.illegal_adoption",
    "cat.organ_removal",
)
# "Today" or "now" also makes a beating or an abuse in progress critical, and a
# child seen at a station or border now.
HAPPENING_EVENTS = (*SCHEDULED_EVENTS, "transit", "violence", "cat.sexual_exploitation")
STILL_THERE = ("ongoing", "confinement", "violence", "missing")
MOVING = ("movement", "transit")
ACUTE = ("harm", "locked", "abduction")
ONGOING_HARM = ("confinement", "exploitation", "violence", "ongoing", "missing", "time_soon")
CHILD = ("minor", "minor_age", "self_report")
CONCRETE = (
    *ACUTE,
    "confinement",
    "exploitation",
    "violence",
    "missing",
    "handover",
    "self_report",
)
DISMISSIVE = (
    "negation",
    "awareness",
    "question",
    "greeting",
    "test",
    "spam",
    "abuse",
    "thanks",
    "joke",
    "rumour",
)
ADULT = ("adult", "adult_age")


def decide_urgency(evidence: Evidence) -> Urgency:
    """The GUIDE's levels as a decision over signal families."""
    e = evidence
    child = e.has(*CHILD)
    heard_now = e.has("distress") and e.has("time_now")
    concrete = bool(e.categories) or e.has(*CONCRETE) or (child and (e.has(*MOVING) or heard_now))
    support = sum(weight for weight in e.fired.values() if weight > 0)
    if not concrete or e.insistence(DISMISSIVE) >= support:
        return Urgency.LOW
    if e.has(*ADULT) and not e.has("minor_age", "self_report"):
        serious = e.has(*ACUTE, "confinement", "exploitation", "violence")
        return Urgency.MEDIUM if serious else Urgency.LOW
    scheduled = e.has(*SCHEDULED_EVENTS)
    # "Now" in a story told in the past ("weeks ago ... now he is gone"), in a
    # habit ("now he carries bags every week"), in hearsay or a plan ("no proof
    # yet", "nothing fixed yet": abhi, ekhon also mean "yet") is not now.
    loose_now = e.has("time_today") or (
        e.has("time_present") and not e.has("time_past", "ongoing", "hearsay", "plan")
    )
    now = (
        e.has("time_now")
        or (loose_now and e.has(*HAPPENING_EVENTS))
        or (e.has("time_clock") and scheduled)
    )
    past_only = e.has("time_past") and not now
    # A child on the move through a station or border, and a reporter who
    # begs for speed: under-triage is the costly error, so read it as now.
    urgent_transit = e.has("movement") and e.has("transit") and e.has("plea")
    settled = e.has("plan", "time_soon")
    if not past_only and (e.has(*ACUTE) or ((now or urgent_transit) and not settled)):
        return Urgency.CRITICAL
    if e.has("self_report"):
        return Urgency.HIGH
    # "Next week" with known people is high (GUIDE): it outweighs hearsay and plans.
    doubt = e.total(("time_past",)) + (0 if e.has("time_soon") else e.total(("plan", "hearsay")))
    still_there = e.has("ongoing") or doubt <= e.total(STILL_THERE)
    if still_there and e.has(*ONGOING_HARM) and (child or e.categories):
        return Urgency.HIGH
    return Urgency.MEDIUM


_LEVEL_FLOOR = {Urgency.LOW: 0, Urgency.MEDIUM: 25, Urgency.HIGH: 50, Urgency.CRITICAL: 75}


def score_for(urgency: Urgency, evidence: Evidence) -> int:
    """0-100: the level's band, placed within it by the weight of the evidence."""
    support = sum(weight for weight in evidence.fired.values() if weight > 0)
    return _LEVEL_FLOOR[urgency] + min(24, support // 8)


# Folding is done word by word, each distinct word once: the vocabulary of
# reports repeats, and folds never cross a word boundary, so the result equals
# folding the whole text.
_FOLDED_WORDS: dict[str, str] = {}
_FOLDED_WORDS_LIMIT = 100_000


def fold_words(words: Sequence[str]) -> list[str]:
    """:func:`~triage.normalize.fold_variants` of each word, memoised."""
    folded, known = [], _FOLDED_WORDS
    for word in words:
        form = known.get(word)
        if form is None:
            form = fold_variants(word)
            if len(known) < _FOLDED_WORDS_LIMIT:
                known[word] = form
        folded.append(form)
    return folded


def assess(text: str, lang: str | None = None) -> Assessment:
    """Assess one report. Total: any ``str`` gets a verdict, never an exception."""
    readable = readable_form(text)
    shown = split_words(readable)
    words = fold_words(shown)
    tokens = mask_numbers(words)
    scripts = scripts_in(readable)
    likely = tuple(tag for script in scripts for tag in likely_languages(script, tokens))
    language = lang or (likely[0] if likely else UNDETERMINED)
    matcher = matcher_for((language, *likely, *_ALWAYS))
    hits = find_hits(matcher, tokens, shown, readable)
    if NUMBER in tokens:
        hits.extend(pattern_hits(matcher.lexicons, readable))
    evidence = gather_evidence(hits, words)
    urgency = decide_urgency(evidence)
    signals = tuple(
        Signal(rule, weight, evidence.matched[rule])
        for rule, weight in sorted(
            evidence.fired.items(), key=lambda item: (-abs(item[1]), item[0])
        )
    )
    categories = () if urgency is Urgency.LOW else evidence.categories
    return Assessment(
        urgency=urgency,
        score=score_for(urgency, evidence),
        categories=categories,
        language=language,
        signals=signals,
        facts=evidence.facts,
    )


def assess_conversation(messages: Sequence[str], lang: str | None = None) -> Assessment:
    """Assess several messages of one reporter as one report."""
    return assess("\n".join(messages), lang)
