"""Load the rules and per-language lexicons (TOML data) into lookup tables.

A lexicon file names, for each rule of ``_rules.toml``, the words and short
phrases that fire it. Terms are normalised here, with the same function as
report text, so authors write words the way people spell them.

Matching is by token sets rather than one regex alternation scanned over the
text: on this workload a ``regex`` trie costs ~25 µs per message and language,
hash lookups of the message's words, word n-grams and word prefixes a few µs
(``bench/triage.py`` measures the whole pipeline). ``regex`` still compiles
each lexicon's free-form ``patterns`` into one expression.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import regex

from triage.normalize import CODE_POINTS, normalize

NUMBER = "#"
"""A number in a term (``"in # minutes"``) stands for any number in the text."""

STEM_MARK = "*"
"""A term ending in ``*`` matches any word starting with it (``"ladki*"``)."""

COMMON = "_common"
RULES_FILE = "_rules.toml"

# Tokens are split at punctuation and symbols (emoji are looked up separately);
# the engine's patterns (ages, clock times) read the text before this step.
_PUNCTUATION_TO_SPACE = dict.fromkeys(map(ord, regex.findall(r"[\p{P}\p{S}]", CODE_POINTS)), " ")
_ASCII_PUNCTUATION_TO_SPACE = bytes(
    ord(" ") if code_point in _PUNCTUATION_TO_SPACE else code_point for code_point in range(256)
)
_DIGIT = regex.compile(r"[0-9]")
_DIGIT_EDGE = regex.compile(r"(?<=\d)(?=\D)|(?<=\D)(?=\d)")

_FACT_ROLES = frozenset({"age", "age_unit", "age_prefix", "clock_unit", "place"})


class LexiconError(ValueError):
    """A lexicon or rules file is malformed; the message names file, rule and fix."""


@dataclass(frozen=True)
class Rule:
    """One signal: its name, weight (negative dampens) and optional category."""

    name: str
    weight: int
    category: str | None = None
    about: str = ""

    @property
    def scores(self) -> bool:
        """Whether hits of this rule count as signals (facts-only rules do not)."""
        return self.name not in _FACT_ROLES


Table = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Lexicon:
    """One language's terms, indexed for matching."""

    language: str
    name: str
    script: str
    markers: frozenset[str]
    priority: int
    words: Table
    phrases: Mapping[int, Table]
    stems: Mapping[int, Table]
    phrase_stems: Table
    emoji: Table = field(default_factory=lambda: MappingProxyType({}))
    patterns: regex.Pattern[str] | None = None
    pattern_rules: tuple[str, ...] = ()


def split_words(text: str) -> list[str]:
    """Split normalised text into words at spaces, punctuation and digit edges.

    "14yo" and "৯টায়" (9 o'clock, digits already ASCII) become a number and a
    word, so one lexicon term serves every number.
    """
    if text.isascii():
        tokens = text.encode().translate(_ASCII_PUNCTUATION_TO_SPACE).decode().split()
    else:
        tokens = text.translate(_PUNCTUATION_TO_SPACE).split()
    if _DIGIT.search(text) is None:
        return tokens
    result: list[str] = []
    for token in tokens:
        if token[0].isdigit() or token[-1].isdigit():
            result.extend(part for part in _DIGIT_EDGE.split(token) if part)
        else:
            result.append(token)
    return result


def mask_numbers(words: list[str]) -> list[str]:
    """Replace every number by ``#``, the lexicons' placeholder for any number."""
    if not any(map(str.isdigit, words)):
        return words
    return [NUMBER if word.isdigit() else word for word in words]


def tokenize(text: str) -> list[str]:
    """Words of normalised text as lexicon terms see them: numbers are ``#``."""
    return mask_numbers(split_words(text))


def normalize_term(term: str) -> str:
    """Normalise a lexicon term the way report text is tokenised."""
    stem = term.endswith(STEM_MARK)
    body = term.removesuffix(STEM_MARK).replace(NUMBER, " 0 ")
    words = " ".join(tokenize(normalize(body)))
    return words + STEM_MARK if stem else words


def _read_toml(name: str) -> dict[str, Any]:
    return _parse_toml(name, _lexicon_source(name))


def _parse_toml(name: str, source: bytes) -> dict[str, Any]:
    try:
        return tomllib.loads(source.decode("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise LexiconError(f"triage/lexicons/{name}: {error}; fix the TOML syntax") from error


@cache
def load_rules() -> Mapping[str, Rule]:
    """Rules shared by every language, from ``_rules.toml``."""
    data = _read_toml(RULES_FILE).get("rules", {})
    rules = {}
    for name, spec in data.items():
        weight = spec.get("weight")
        if not isinstance(weight, int):
            raise LexiconError(
                f"triage/lexicons/{RULES_FILE}: rule {name!r} needs an integer weight, "
                f'e.g. [rules.{name}] weight = 10 about = "..."'
            )
        rules[name] = Rule(name, weight, spec.get("category"), spec.get("about", ""))
    return MappingProxyType(rules)


def _add(table: dict[str, list[str]], term: str, rule: str) -> None:
    rules = table.setdefault(term, [])
    if rule not in rules:
        rules.append(rule)


def _freeze(table: dict[str, list[str]]) -> Table:
    return MappingProxyType({term: tuple(rules) for term, rules in table.items()})


Index = dict[str, list[str]]


def _normalized(
    entries: list[str], rule: str, normalized: Mapping[str, list[str]] | None
) -> list[str]:
    done = normalized.get(rule) if normalized is not None else None
    if done is None or len(done) != len(entries):
        return [normalize_term(entry) for entry in entries]
    return done


def _index_terms(
    file: str,
    terms: Mapping[str, Any],
    rules: Mapping[str, Rule],
    normalized: Mapping[str, list[str]] | None = None,
) -> tuple[Index, dict[int, Index], dict[int, Index], Index]:
    """Sort terms into words, phrases by length, stems by length, phrase stems.

    ``normalized`` holds each rule's terms already passed through
    :func:`normalize_term` (from the start-up cache), in the same order.
    """
    words: dict[str, list[str]] = {}
    phrases: dict[int, dict[str, list[str]]] = {}
    stems: dict[int, dict[str, list[str]]] = {}
    phrase_stems: dict[str, list[str]] = {}
    for rule, entries in terms.items():
        if rule not in rules:
            raise LexiconError(
                f"triage/lexicons/{file}: unknown rule {rule!r} under [terms]; "
                f"use one of the names in {RULES_FILE} or add it there"
            )
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise LexiconError(
                f'triage/lexicons/{file}: [terms] {rule} must be a list of strings, e.g. ["word"]'
            )
        for entry, term in zip(entries, _normalized(entries, rule, normalized), strict=True):
            if term.endswith(STEM_MARK):
                stem = term.removesuffix(STEM_MARK)
                if not stem:
                    raise LexiconError(
                        f"triage/lexicons/{file}: {entry!r} in {rule} is empty; "
                        f"a stem needs letters before '*', e.g. 'ladki*'"
                    )
                if " " in stem:
                    _add(phrase_stems, stem, rule)
                else:
                    _add(stems.setdefault(len(stem), {}), stem, rule)
            elif " " in term:
                _add(phrases.setdefault(term.count(" ") + 1, {}), term, rule)
            elif term:
                _add(words, term, rule)
            else:
                raise LexiconError(
                    f"triage/lexicons/{file}: {entry!r} in {rule} is empty after normalisation"
                )
    return words, phrases, stems, phrase_stems


def _compile_patterns(
    file: str, patterns: Mapping[str, Any], rules: Mapping[str, Rule]
) -> tuple[regex.Pattern[str] | None, tuple[str, ...]]:
    if not patterns:
        return None, ()
    groups: list[str] = []
    names: list[str] = []
    for rule, entries in patterns.items():
        if rule not in rules:
            raise LexiconError(
                f"triage/lexicons/{file}: unknown rule {rule!r} under [patterns]; "
                f"use a name from {RULES_FILE}"
            )
        for entry in entries:
            try:
                regex.compile(entry)
            except regex.error as error:
                raise LexiconError(
                    f"triage/lexicons/{file}: pattern {entry!r} in {rule} does not compile "
                    f"({error}); patterns use the `regex` module's syntax"
                ) from error
            groups.append(f"(?P<p{len(names)}>{entry})")
            names.append(rule)
    return regex.compile("|".join(groups)), tuple(names)


def _emoji_table(file: str, data: Mapping[str, Any], rules: Mapping[str, Rule]) -> Table:
    table: dict[str, list[str]] = {}
    for rule, entries in data.items():
        if rule not in rules:
            raise LexiconError(f"triage/lexicons/{file}: unknown rule {rule!r} under [emoji]")
        for entry in entries:
            for char in entry:
                _add(table, char, rule)
    return _freeze(table)


def parse_lexicon(
    file: str,
    data: Mapping[str, Any],
    rules: Mapping[str, Rule],
    normalized: Mapping[str, Any] | None = None,
) -> Lexicon:
    """Build a :class:`Lexicon` from a parsed TOML document.

    ``normalized`` (``{"terms": {rule: [...]}, "markers": [...]}``) skips the
    normalisation of terms already normalised by an earlier start.
    """
    meta = data.get("meta")
    if not isinstance(meta, dict) or not {"language", "name", "script"} <= meta.keys():
        raise LexiconError(
            f"triage/lexicons/{file}: needs a [meta] table with language, name and script, "
            f'e.g. [meta] language = "hi-Latn" name = "Hindi (romanized)" script = "Latn"'
        )
    done = normalized or {}
    words, phrases, stems, phrase_stems = _index_terms(
        file, data.get("terms", {}), rules, done.get("terms")
    )
    pattern, pattern_rules = _compile_patterns(file, data.get("patterns", {}), rules)
    markers = frozenset(done.get("markers") or (normalize_term(m) for m in meta.get("markers", [])))
    return Lexicon(
        language=meta["language"],
        name=meta["name"],
        script=meta["script"],
        markers=markers,
        priority=int(meta.get("priority", 0)),
        words=_freeze(words),
        phrases=MappingProxyType({n: _freeze(t) for n, t in sorted(phrases.items(), reverse=True)}),
        stems=MappingProxyType({n: _freeze(t) for n, t in sorted(stems.items(), reverse=True)}),
        phrase_stems=_freeze(phrase_stems),
        emoji=_emoji_table(file, data.get("emoji", {}), rules),
        patterns=pattern,
        pattern_rules=pattern_rules,
    )


def lexicon_files() -> tuple[str, ...]:
    """Names of the lexicon files shipped in ``triage/lexicons``."""
    folder = resources.files("triage").joinpath("lexicons")
    return tuple(
        sorted(
            entry.name
            for entry in folder.iterdir()
            if entry.name.endswith(".toml") and entry.name != RULES_FILE
        )
    )


@cache
def load_lexicons() -> Mapping[str, Lexicon]:
    """Every lexicon keyed by language tag; ``_common`` holds language-neutral terms."""
    rules = load_rules()
    files = lexicon_files()
    sources = {file: _lexicon_source(file) for file in files}
    cache_name = f"lexicons-{_digest(sources)}.json"
    prepared = _read_cache(cache_name)
    if prepared is None or set(prepared) != set(files):
        prepared = {file: _prepare(file, sources[file]) for file in files}
        _write_cache(cache_name, prepared)
    lexicons = {}
    for file in files:
        data, normalized = prepared[file]
        lexicon = parse_lexicon(file, data, rules, normalized)
        if lexicon.language in lexicons:
            raise LexiconError(
                f"triage/lexicons/{file}: language {lexicon.language!r} is already defined; "
                f"one file per language tag"
            )
        lexicons[lexicon.language] = lexicon
    if COMMON not in lexicons:
        raise LexiconError(f"triage/lexicons: {COMMON}.toml is missing; restore it from git")
    return MappingProxyType(lexicons)


# Start-up cache. Parsing TOML and normalising ~20,000 terms costs ~250 ms; the
# result depends only on the lexicon files and on this module's and
# triage/normalize.py's code, so it is kept (like a .pyc) under a name made of a
# digest of all of them, in triage/lexicons/__pycache__ or the user's cache.
_CACHE_FORMAT = 1
_CODE = (Path(__file__), Path(__file__).with_name("normalize.py"))


def _lexicon_source(file: str) -> bytes:
    return resources.files("triage").joinpath("lexicons", file).read_bytes()


def _digest(sources: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256(f"{_CACHE_FORMAT} {sys.version}".encode())
    for path in _CODE:
        digest.update(path.read_bytes())
    for file, source in sorted(sources.items()):
        digest.update(file.encode() + b"\0" + source + b"\0")
    return digest.hexdigest()[:24]


def _prepare(file: str, source: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """A file's TOML document and its terms and markers, normalised."""
    data = _parse_toml(file, source)
    terms = data.get("terms", {})
    normalized: dict[str, Any] = {
        "terms": {
            rule: [normalize_term(e) for e in entries]
            for rule, entries in terms.items()
            if isinstance(entries, list) and all(isinstance(e, str) for e in entries)
        }
        if isinstance(terms, dict)
        else {},
    }
    meta = data.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("markers"), list):
        normalized["markers"] = [normalize_term(str(m)) for m in meta["markers"]]
    return data, normalized


def _cache_dirs() -> list[Path]:
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return [Path(__file__).with_name("lexicons") / "__pycache__", Path(home) / "sajag"]


def _read_cache(name: str) -> dict[str, Any] | None:
    for folder in _cache_dirs():
        try:
            loaded = json.loads((folder / name).read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(loaded, dict):
            return {file: tuple(entry) for file, entry in loaded.items()}
    return None


def _write_cache(name: str, prepared: Mapping[str, Any]) -> None:
    """Best effort: a read-only install simply normalises at every start."""
    try:
        blob = json.dumps({file: list(entry) for file, entry in prepared.items()}).encode()
    except (TypeError, ValueError):
        return  # a TOML value JSON cannot hold (a date): no cache
    for folder in _cache_dirs():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for stale in folder.glob("lexicons-*.json"):
                stale.unlink(missing_ok=True)
            temporary = folder / f"{name}.{os.getpid()}.tmp"
            temporary.write_bytes(blob)
            temporary.replace(folder / name)
            return
        except OSError:
            continue
