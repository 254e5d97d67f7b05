"""Assess a report: match lexicons, weigh signal families, decide the urgency.

The decision follows ``GUIDE.md``: time beats everything, negation and the
past lower urgency, a child's own cry for help is never below high, and when
two levels fit the higher one wins.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from itertools import chain, compress
from operator import itemgetter
from typing import Any, NamedTuple

from triage.detect import (
    UNDETERMINED,
    lexicons_for_script,
    likely_languages,
    ranked_scripts,
    script_of,
)
from triage.facts import TIME_RULES, Facts, child_words_apart_from_ages, read_facts
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


class Signal(NamedTuple):
    """A rule that fired, its weight and the words of the text that matched it."""

    rule: str
    weight: int
    matched: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"rule": self.rule, "weight": self.weight, "matched": list(self.matched)}


class Assessment(NamedTuple):
    """The verdict on one report (immutable)."""

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
    """One matched term: its token span (-1, -1 for emoji and patterns) and words.

    Hits are filed under each rule they fire (``ByRule``), so a hit holds no rules.
    """

    start: int
    end: int
    text: str


Rules = tuple[str, ...]
ByRule = dict[str, list[Hit]]
PhraseTables = tuple[tuple[int, Mapping[str, Rules]], ...]
PhraseStems = tuple[tuple[tuple[str, ...], Rules], ...]


class Opening(NamedTuple):
    """What may follow a word that opens phrases.

    ``tables``: by the second word, the phrase tables (longest first) holding a
    phrase that opens with both words; ``stem_seconds``: the second parts of the
    phrase stems that open with the word; ``stems``: those phrase stems, longest first.
    """

    tables: Mapping[str, PhraseTables]
    stem_seconds: tuple[str, ...]
    stems: PhraseStems


# What a word holds for the matcher: its rules (own and stems', each once), and what
# may follow it if phrases open with it. Words with neither are ``()``, false, so skipped.
WordInfo = tuple[Rules, Opening | None] | tuple[()]


@dataclass(frozen=True)
class Matcher:
    """The lexicons read for one message, merged into lookup tables.

    Phrases and phrase stems are indexed by their first word, then phrases by
    their second, stems by their first letters, so each word of a message costs a few
    hash look-ups.
    """

    words: Mapping[str, Rules]
    openings: Mapping[str, Opening]
    stem_heads: Mapping[str, tuple[int, ...]]
    stem_rules: Mapping[str, Rules]
    emoji: Mapping[str, Rules]
    lexicons: tuple[Lexicon, ...]
    word_cache: dict[str, WordInfo] = field(default_factory=dict, compare=False, repr=False)


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


def _index_openings(
    phrases: Mapping[int, Mapping[str, Rules]], phrase_stems: Mapping[str, Rules]
) -> dict[str, Opening]:
    """For each word that opens a phrase or a phrase stem ("আজ সন্ধ্যা*"), what may
    follow it."""
    tables: dict[str, dict[str, list[tuple[int, Mapping[str, Rules]]]]] = {}
    for size, table in sorted(phrases.items(), reverse=True):
        for first, second, *_ in {tuple(term.split(" ", 2)) for term in table}:
            tables.setdefault(first, {}).setdefault(second, []).append((size, table))
    stems: dict[str, list[tuple[tuple[str, ...], Rules]]] = {}
    for phrase, rules in phrase_stems.items():
        parts = tuple(phrase.split(" "))
        stems.setdefault(parts[0], []).append((parts, rules))
    return {
        first: Opening(
            {second: tuple(found) for second, found in tables.get(first, {}).items()},
            tuple({parts[1] for parts, _ in stems.get(first, ())}),
            tuple(sorted(stems.get(first, ()), key=lambda entry: -len(entry[0]))),
        )
        for first in tables.keys() | stems.keys()
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
    matcher = Matcher(
        words=_merge(lex.words for lex in chosen),
        openings=_index_openings(
            _merge_by_length(lex.phrases for lex in chosen),
            _merge(lex.phrase_stems for lex in chosen),
        ),
        stem_heads={
            head: tuple(sorted(lengths, reverse=True)) for head, lengths in stem_heads.items()
        },
        stem_rules=stem_rules,
        emoji=_merge(lex.emoji for lex in chosen),
        lexicons=chosen,
    )
    _BUILT_MATCHERS.append(matcher)
    return matcher


_BUILT_MATCHERS: list[Matcher] = []


# English is read in every message: reporters mix it into every language.
_ALWAYS = ("en",)


def _longest_phrase(
    tokens: Sequence[str], start: int, tables: PhraseTables, stems: PhraseStems
) -> tuple[int, Rules]:
    """The longest phrase (or phrase stem) at ``start``: its size and rules, each once.

    ``tables`` are the phrase tables holding a phrase that opens with the two
    words at ``start``, ``stems`` the phrase stems opening with the first, longest first.
    """
    count = len(tokens)
    for size, table in tables:
        if start + size <= count:
            rules = table.get(" ".join(tokens[start : start + size]))
            if rules is not None:
                best, found = size, [rules]
                break
    else:
        best, found = 0, []
    for parts, rules in stems:
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
    if len(found) == 1:
        return best, found[0]
    return best, tuple(dict.fromkeys(chain.from_iterable(found)))


# Words seen before are looked up once: the vocabulary of reports repeats.
_WORD_CACHE_LIMIT = 50_000


def _word_info(matcher: Matcher, token: str) -> WordInfo:
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
    opening = matcher.openings.get(token)
    rules = tuple(dict.fromkeys(chain.from_iterable(found)))
    info: WordInfo = (rules, opening) if rules or opening is not None else ()
    if len(matcher.word_cache) < _WORD_CACHE_LIMIT:
        matcher.word_cache[token] = info
    return info


def find_hits(matcher: Matcher, tokens: Sequence[str], shown: Sequence[str]) -> ByRule:
    """Lexicon terms in ``tokens``, leftmost-longest and not overlapping, by rule.

    The longest match at a place wins, so "abhi bhi" (still) hides "abhi"
    (now). ``shown`` holds the same words as the reporter wrote them. This
    runs for every word of every message: the words are looked up in the memo
    at C speed, and only those that hit a rule or may open a phrase are walked.
    """
    by_rule: ByRule = {}
    infos = _infos(matcher, tokens)
    count = len(tokens)
    covered = 0
    for start in compress(range(count), infos):
        if start < covered:
            continue
        rules, opening = infos[start]  # type: ignore[misc]
        if opening is not None and start + 1 < count:
            by_second, stem_seconds, stems = opening
            after = tokens[start + 1]
            tables = by_second.get(after)
            # str.startswith takes a tuple: one C call tests every phrase stem's second part.
            if tables is not None or after.startswith(stem_seconds):
                size, phrase_rules = _longest_phrase(tokens, start, tables or (), stems)
                if size:
                    covered = start + size
                    hit = _new_tuple(Hit, (start, covered, " ".join(shown[start:covered])))
                    _file(by_rule, phrase_rules, hit)
                    continue
        if rules:
            _file(by_rule, rules, _new_tuple(Hit, (start, start + 1, shown[start])))
    return by_rule


def _infos(matcher: Matcher, tokens: Sequence[str]) -> list[WordInfo]:
    """What each word holds for the matcher, from the memo at C speed, filled in when new."""
    infos = list(map(matcher.word_cache.get, tokens))
    if None in infos:
        return [
            _word_info(matcher, token) if info is None else info
            for token, info in zip(tokens, infos, strict=True)
        ]
    return infos  # type: ignore[return-value]


def _file(by_rule: ByRule, rules: Rules, hit: Hit) -> None:
    """Add ``hit`` under each of ``rules``."""
    for rule in rules:
        hits = by_rule.get(rule)
        if hits is None:
            by_rule[rule] = [hit]
        else:
            hits.append(hit)


def add_hit(by_rule: ByRule, rules: Rules, text: str) -> None:
    """Record a hit with no token span (an emoji, a pattern) under each of ``rules``."""
    _file(by_rule, rules, Hit(-1, -1, text))


# Building a NamedTuple through tuple.__new__ skips its Python-level constructor.
_new_tuple = tuple.__new__


def pattern_hits(lexicons: Iterable[Lexicon], text: str, by_rule: ByRule) -> None:
    """Add the matches of the lexicons' free-form patterns in normalised ``text``."""
    for lex in lexicons:
        if lex.patterns is None:
            continue
        for match in lex.patterns.finditer(text):
            group = match.lastgroup
            if group is not None:
                add_hit(by_rule, (lex.pattern_rules[int(group[1:])],), match.group())


class Evidence(NamedTuple):
    """What the rules found in one report, ready for the decision."""

    fired: Mapping[str, int]
    matched: Mapping[str, tuple[str, ...]]
    categories: tuple[str, ...]
    facts: Facts
    # The summed weight of the rules that raise urgency.
    support: int = 0
    # A word for a child that no adult age describes ("a 40 year old man is taking a
    # little girl"): the report is not about adults only.
    child_apart: bool = False

    def total(self, rules: Iterable[str]) -> int:
        """Sum of the absolute weights of those ``rules`` that fired."""
        fired = self.fired
        return sum([abs(fired[rule]) for rule in fired.keys() & rules])

    def insistence(self, rules: Iterable[str]) -> int:
        """Like :meth:`total`, a rule matched by two different words counting twice."""
        fired, matched = self.fired, self.matched
        present = fired.keys() & rules
        if not present:
            return 0
        return sum([abs(fired[rule]) * min(2, len(matched[rule])) for rule in present])


@cache
def _scoring() -> tuple[dict[str, int], dict[str, str]]:
    """Weights of the rules that score, and the category of each category rule."""
    rules = load_rules().values()
    weights = {rule.name: rule.weight for rule in rules if rule.scores}
    categories = {rule.name: rule.category for rule in rules if rule.category is not None}
    return weights, categories


_FACT_RULES = frozenset(
    {"age", "age_unit", "age_prefix", "clock_unit", "place", "transit", "self_report", *TIME_RULES}
)
_NO_FACTS = Facts()
# Rules whose facts are read from the numbers around them.
_NUMBER_RULES = frozenset({"age_unit", "age_prefix", "clock_unit"})


def gather_evidence(by_rule: ByRule, words: Callable[[], Sequence[str]]) -> Evidence:
    """Read the facts and derive the age and clock signals from the hits of each rule.

    ``words`` gives the message's folded words (numbers included), built only
    when an age or a clock time needs the numbers around a hit.
    """
    weights, category_of = _scoring()
    matched = {
        rule: (found[0][2],) if len(found) == 1 else tuple(dict.fromkeys([h[2] for h in found]))
        for rule, found in by_rule.items()
        if rule in weights
    }
    child_apart = False
    if _FACT_RULES.isdisjoint(by_rule):
        facts = _NO_FACTS
    else:
        numbered = words() if not _NUMBER_RULES.isdisjoint(by_rule) else ()
        facts, clock = read_facts(by_rule, numbered)
        if facts.ages:
            ages = tuple(str(age) for age in facts.ages if age < ADULT_AGE)
            rule = "minor_age" if ages else "adult_age"
            matched[rule] = matched.get(rule, ()) + (ages or tuple(map(str, facts.ages)))
            # Only ages read from around a number need the words ("brother is 27 years").
            child_apart = not ages and child_words_apart_from_ages(by_rule, numbered)
        if clock:
            matched["time_clock"] = matched.get("time_clock", ()) + tuple(clock)
    fired = {rule: weights[rule] for rule in matched}
    categories = fired.keys() & category_of.keys()
    return _new_tuple(
        Evidence,
        (
            fired,
            matched,
            tuple(sorted({category_of[rule] for rule in categories})) if categories else (),
            facts,
            sum([weight for weight in fired.values() if weight > 0]),
            child_apart,
        ),
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


_CHILD = frozenset(CHILD)
_CONCRETE = frozenset(CONCRETE)
_MOVING = frozenset(MOVING)
_DISMISSIVE = frozenset(DISMISSIVE)
# An adult word ("wife", "they are adults") means adults only unless a child is also
# named or writes: "the owner's wife locks the little girl in" is about the girl.
_ADULT_OR_CHILD_SPEAKS = frozenset(("self_report", "minor"))
_ACUTE = frozenset(ACUTE)
_SERIOUS = frozenset((*ACUTE, "confinement", "exploitation", "violence"))
_SCHEDULED = frozenset(SCHEDULED_EVENTS)
_HAPPENING = frozenset(HAPPENING_EVENTS)
_NOT_NOW = frozenset(("time_past", "ongoing", "hearsay", "plan"))
_ONGOING_HARM = frozenset(ONGOING_HARM)
# What makes a rumour a report: a known child, a time, a place or a first-hand account.
_ANCHORS = frozenset(
    ("minor_age", "self_report", "time_now", "time_today", "time_clock", "missing", "ongoing")
)
_SELF_ACUTE = frozenset(("handover", "abduction", "violence", "movement"))
_STILL_THERE = frozenset(STILL_THERE)
_ALARM = frozenset(("distress", "plea", "time_now"))
_HELD = frozenset(("confinement", "exploitation", "violence", "missing"))
_FIRST_HAND = frozenset(
    ("self_report", "minor_age", "time_now", "missing", "harm", "locked", "ongoing", "confinement")
)
# A question about a film or the news ("saw a series last night (kal raat) where
# girls are taken in a truck, does this really happen?"): the time dates the
# watching, not a case, so it takes more than a time to make the story first-hand.
_FIRST_HAND_BESIDE_NEWS = _FIRST_HAND - {"time_now"}
_ASKING = frozenset(("question", "rumour"))
_SITUATED = frozenset(("cat.forced_labour", "cat.begging", "cat.sexual_exploitation"))
# What makes a child's work a story, a plan or a lure rather than a place to go to.
_DOUBT = frozenset(
    {
        *("time_past", "plan", "hearsay", "rumour", "time_soon", "question", "movement"),
        *("cat.online_exploitation", "cat.unsafe_migration"),
    }
)
_PLAN_OR_HEARSAY = frozenset(("plan", "hearsay"))
# What makes a question about a child being moved or sold a report of one.
_SITUATED_NOW = frozenset(("minor_age", "transit", "plea", "self_report", "distress"))


def _is_a_report(e: Evidence, child: bool) -> bool:
    """Whether a concrete case is reported at all (GUIDE's low is "no concrete case")."""
    fired = e.fired.keys()
    concrete = (
        bool(e.categories)
        or not fired.isdisjoint(_CONCRETE)
        # A child on the move, or a child heard crying or in fear.
        or (child and (not fired.isdisjoint(_MOVING) or "distress" in fired))
        # Somebody is being taken away and the reporter is alarmed: a report
        # even when no word says "child" (GUIDE: unknown ages are children).
        or ("movement" in fired and not fired.isdisjoint(_ALARM))
    )
    if not concrete:
        return False
    # "... how do I report this?" after a concrete child's case is a report: one
    # question phrase alone does not dismiss a child named with a form of
    # exploitation (two or more, "if I see ... do I have to give my name", do).
    asked_only = (
        fired & _DISMISSIVE == {"question"}
        and len(e.matched["question"]) == 1
        and child
        and bool(e.categories)
    )
    if not asked_only and e.insistence(_DISMISSIVE) >= e.support:
        return False
    # News, a film, a school project: low unless the reporter also tells of a
    # child of their own knowledge (an age, a self-report, now, missing).
    first_hand = _FIRST_HAND if fired.isdisjoint(_ASKING) else _FIRST_HAND_BESIDE_NEWS
    if "awareness" in fired and fired.isdisjoint(first_hand):
        return False
    # A question about the line or the law, about nobody in particular: low.
    return not ("question" in fired and not child and fired.isdisjoint(_ANCHORS | _SERIOUS))


def decide_urgency(evidence: Evidence) -> Urgency:
    """The GUIDE's levels as a decision over signal families.

    ``fired.isdisjoint(FAMILY)`` is "no rule of the family fired".
    """
    e = evidence
    fired = e.fired.keys()
    child = not fired.isdisjoint(_CHILD)
    if not _is_a_report(e, child):
        return Urgency.LOW
    # Adults only (GUIDE): an adult age and no child's age, even when the adult
    # writes about themself ("I'm 32"), unless a child is named apart from the
    # adults' ages ("a 40 year old man is taking a little girl"); an adult word
    # when no child is named or writes.
    if "minor_age" not in fired and (
        ("adult_age" in fired and not e.child_apart)
        or ("adult" in fired and fired.isdisjoint(_ADULT_OR_CHILD_SPEAKS))
    ):
        return Urgency.MEDIUM if not fired.isdisjoint(_SERIOUS) else Urgency.LOW
    # A forwarded rumour ("saw it on whatsapp ... is it true") with no concrete
    # child, time or place is low (GUIDE). Two rumour words, so that one local
    # "rumour about the children's home" still reads as hearsay.
    if len(e.matched.get("rumour", ())) >= 2 and fired.isdisjoint(_ANCHORS) and not e.facts.places:
        return Urgency.LOW
    # "Now" in a story told in the past ("weeks ago ... now he is gone"), in a
    # habit ("now he carries bags every week"), in hearsay or a plan ("no proof
    # yet", "nothing fixed yet": abhi, ekhon also mean "yet") is not now. Nor is
    # "being sold" in a question that names no child's age, place or plea ("what
    # should I do if I see a child being sold?").
    loose_now = "time_today" in fired or (
        "time_present" in fired
        and fired.isdisjoint(_NOT_NOW)
        and ("question" not in fired or not fired.isdisjoint(_SITUATED_NOW) or bool(e.facts.places))
    )
    now = (
        "time_now" in fired
        or (loose_now and not fired.isdisjoint(_HAPPENING))
        or ("time_clock" in fired and not fired.isdisjoint(_SCHEDULED))
    )
    past_only = "time_past" in fired and not now
    # A child on the move through a station or border, and a reporter who
    # begs for speed, or a child in fear on the way (not a habit, a story or
    # hearsay): under-triage is the costly error, so read it as now.
    urgent_transit = (
        "movement" in fired
        and "transit" in fired
        and ("plea" in fired or (child and "distress" in fired and fired.isdisjoint(_NOT_NOW)))
    )
    # A plan or "soon" settles a report as not-now, unless "tonight" is said too
    # ("not the day after tomorrow, tonight"); a plan for today is now ("they plan
    # to marry her off today after the night prayer").
    settled = ("plan" in fired and "time_today" not in fired) or (
        "time_soon" in fired and "time_now" not in fired
    )
    if not past_only and (
        not fired.isdisjoint(_ACUTE) or ((now or urgent_transit) and not settled)
    ):
        return Urgency.CRITICAL
    if "self_report" in fired:
        # A child writing about being sold, held, beaten or taken: critical (GUIDE).
        if not past_only and child and not fired.isdisjoint(_SELF_ACUTE):
            return Urgency.CRITICAL
        return Urgency.HIGH
    # "Next week" with known people is high (GUIDE): it outweighs hearsay and plans.
    doubt = abs(e.fired.get("time_past", 0)) + (
        0 if "time_soon" in fired else e.total(_PLAN_OR_HEARSAY)
    )
    still_there = "ongoing" in fired or doubt <= e.total(_STILL_THERE)
    # Online grooming is medium however often it happens (GUIDE), unless the
    # child is also held, beaten or exploited.
    grooming_only = e.categories == ("online_exploitation",) and fired.isdisjoint(_HELD)
    if (
        still_there
        and not grooming_only
        and not fired.isdisjoint(_ONGOING_HARM)
        and (child or e.categories)
    ):
        return Urgency.HIGH
    # A child put to work, to beg or to sex work, told as it is now: ongoing
    # at a findable place (GUIDE's high), unless past, planned or hearsay.
    if child and not fired.isdisjoint(_SITUATED) and fired.isdisjoint(_DOUBT):
        return Urgency.HIGH
    return Urgency.MEDIUM


@cache
def _signal_order() -> dict[str, tuple[int, str]]:
    """Sort key of each rule's signal: heaviest first, then by name."""
    return {rule.name: (-abs(rule.weight), rule.name) for rule in load_rules().values()}


_LEVEL_FLOOR = {Urgency.LOW: 0, Urgency.MEDIUM: 25, Urgency.HIGH: 50, Urgency.CRITICAL: 75}


def score_for(urgency: Urgency, evidence: Evidence) -> int:
    """0-100: the level's band, placed within it by the weight of the evidence."""
    return _LEVEL_FLOOR[urgency] + min(24, evidence.support // 8)


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


class Piece(NamedTuple):
    """One whitespace-separated chunk of a report, analysed once and memoised.

    ``readable`` is its :func:`~triage.normalize.readable_form`; ``shown``,
    ``words`` and ``tokens`` its words as typed (casefolded), folded, and with
    numbers masked; ``scripts`` the script of each word's first letter;
    ``letters`` whether it holds an ASCII letter; ``emoji`` the emoji the
    language-neutral lexicon knows, in order.
    """

    readable: str
    shown: tuple[str, ...]
    words: tuple[str, ...]
    tokens: tuple[str, ...]
    scripts: tuple[str, ...]
    letters: bool
    emoji: tuple[str, ...]


# Reports reuse a small vocabulary: each distinct chunk is normalised, split,
# folded and masked once. Bounded, so a flood of unique strings cannot grow it.
_PIECES: dict[str, Piece] = {}
_PIECES_LIMIT = 200_000


@cache
def _known_emoji() -> frozenset[str]:
    return frozenset(load_lexicons()[COMMON].emoji)


def _piece(raw: str) -> Piece:
    readable = readable_form(raw)
    shown = tuple(split_words(readable))
    words = tuple(fold_words(shown))
    emoji = _known_emoji()
    piece = Piece(
        readable,
        shown,
        words,
        tuple(mask_numbers(list(words))),
        tuple(script for script in map(script_of, readable.split()) if script is not None),
        not _ASCII_LETTERS.isdisjoint(readable),
        () if readable.isascii() else tuple(dict.fromkeys(c for c in readable if c in emoji)),
    )
    if len(_PIECES) < _PIECES_LIMIT:
        _PIECES[raw] = piece
    return piece


def clear_memos() -> None:
    """Forget every memoised chunk and word (benchmarks measure first sight with it)."""
    _PIECES.clear()
    _FOLDED_WORDS.clear()
    for matcher in _BUILT_MATCHERS:
        matcher.word_cache.clear()


def pieces_of(text: str) -> list[Piece]:
    """The memoised pieces of ``text``, in order."""
    chunks = text.split()
    pieces = list(map(_PIECES.get, chunks))
    if not all(pieces):
        return [piece or _piece(raw) for raw, piece in zip(chunks, pieces, strict=True)]
    return pieces  # type: ignore[return-value]


def _readable(pieces: Sequence[Piece]) -> str:
    return " ".join(filter(None, map(_READABLE, pieces)))


def _words(pieces: Sequence[Piece]) -> list[str]:
    return list(chain.from_iterable(map(_WORDS, pieces)))


def _scripts(text: str, pieces: Sequence[Piece]) -> tuple[str, ...]:
    if text.isascii():
        return ("Latn",) if any(map(_LETTERS, pieces)) else ()
    scripts = list(chain.from_iterable(map(_SCRIPTS, pieces)))
    if scripts.count(scripts[0] if scripts else "") == len(scripts):
        return tuple(scripts[:1])  # one script, the common case
    return ranked_scripts(Counter(scripts))


_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
# Fields of a Piece by position: itemgetter indexes a tuple at C speed, where
# attrgetter goes through the class's property descriptors.
_READABLE, _SHOWN, _WORDS, _TOKENS, _SCRIPTS, _LETTERS, _EMOJI = map(
    itemgetter, range(len(Piece._fields))
)


# A report mostly in a script no lexicon reads (Gujarati, Russian...) cannot show a
# concrete case, but a plea, fear, a clock time or a child's age in it must reach a
# human who can read it: medium, never dismissed as low.
_UNREAD_ALARM = frozenset(("plea", "distress", "time_clock", "minor_age", "self_report"))


def assess(text: str, lang: str | None = None) -> Assessment:
    """Assess one report. Total: any ``str`` gets a verdict, never an exception."""
    pieces = pieces_of(text)
    tokens = list(chain.from_iterable(map(_TOKENS, pieces)))
    scripts = _scripts(text, pieces)
    if len(scripts) == 1:
        likely = likely_languages(scripts[0], tokens)
    else:
        likely = tuple(tag for script in scripts for tag in likely_languages(script, tokens))
    language = lang or (likely[0] if likely else UNDETERMINED)
    matcher = matcher_for((language, *likely, *_ALWAYS))
    by_rule = find_hits(matcher, tokens, list(chain.from_iterable(map(_SHOWN, pieces))))
    if not text.isascii() and any(map(_EMOJI, pieces)):
        for char in dict.fromkeys(chain.from_iterable(map(_EMOJI, pieces))):
            add_hit(by_rule, matcher.emoji[char], char)
    if NUMBER in tokens:
        pattern_hits(matcher.lexicons, _readable(pieces), by_rule)
    evidence = gather_evidence(by_rule, lambda: _words(pieces))
    fired, matched = evidence.fired, evidence.matched
    urgency = decide_urgency(evidence)
    if (
        urgency is Urgency.LOW
        and not _UNREAD_ALARM.isdisjoint(fired)
        and not (scripts and lexicons_for_script(scripts[0]))
    ):
        urgency = Urgency.MEDIUM
    signals = tuple(
        [
            _new_tuple(Signal, (rule, fired[rule], matched[rule]))
            for rule in sorted(fired, key=_signal_order().__getitem__)
        ]
    )
    categories = () if urgency is Urgency.LOW else evidence.categories
    return _new_tuple(
        Assessment,
        (urgency, score_for(urgency, evidence), categories, language, signals, evidence.facts),
    )


def assess_conversation(messages: Sequence[str], lang: str | None = None) -> Assessment:
    """Assess several messages of one reporter as one report."""
    return assess("\n".join(messages), lang)
