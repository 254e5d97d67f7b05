"""Lexicon files: every one loads, terms are normalised, nothing duplicated."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import regex

from triage.lexicon import (
    COMMON,
    RULES_FILE,
    STEM_MARK,
    LexiconError,
    lexicon_files,
    load_lexicons,
    load_rules,
    normalize_term,
    parse_lexicon,
)

LANGUAGES = {
    "en", "hi", "hi-Latn", "bn", "bn-Latn", "ne", "ne-Latn", "ur", "ur-Latn",
    "ta", "si", "te", "mr", "ps", "fa", "dv", "nl",
}  # fmt: skip


def _raw_text(file: str) -> str:
    return resources.files("triage").joinpath("lexicons", file).read_text(encoding="utf-8")


def _raw(file: str) -> dict[str, Any]:
    return tomllib.loads(_raw_text(file))


def test_every_required_language_has_a_lexicon() -> None:
    assert LANGUAGES | {COMMON} == set(load_lexicons())


@pytest.mark.parametrize("file", lexicon_files())
def test_lexicon_has_the_common_shape(file: str) -> None:
    data = _raw(file)
    assert set(data) <= {"meta", "terms", "patterns", "emoji"}
    assert {"language", "name", "script"} <= set(data["meta"])
    assert file == f"{data['meta']['language']}.toml"


@pytest.mark.parametrize("file", lexicon_files())
def test_terms_use_known_rules_and_have_no_duplicates(file: str) -> None:
    rules = load_rules()
    for rule, terms in _raw(file).get("terms", {}).items():
        assert rule in rules, f"{file}: unknown rule {rule}"
        normalized = [normalize_term(term) for term in terms]
        duplicates = {t for t in normalized if normalized.count(t) > 1}
        assert not duplicates, f"{file} [{rule}] duplicates after normalisation: {duplicates}"


@pytest.mark.parametrize("file", lexicon_files())
def test_loaded_terms_are_normalised(file: str) -> None:
    lexicon = load_lexicons()[_raw(file)["meta"]["language"]]
    terms = [*lexicon.words, *lexicon.phrase_stems]
    terms += [t for table in lexicon.phrases.values() for t in table]
    terms += [t for table in lexicon.stems.values() for t in table]
    for term in terms:
        assert normalize_term(term) == term
        assert not term.endswith(STEM_MARK)


@pytest.mark.parametrize("file", lexicon_files())
def test_patterns_compile(file: str) -> None:
    for entries in _raw(file).get("patterns", {}).values():
        for pattern in entries:
            regex.compile(pattern)


def test_every_language_covers_the_core_signal_families() -> None:
    core = {"time_now", "transit", "movement", "minor", "self_report", "plea", "negation"}
    for language in LANGUAGES:
        terms = _raw(f"{language}.toml")["terms"]
        assert core <= set(terms), f"{language} lacks {core - set(terms)}"
        assert any(rule.startswith("cat.") for rule in terms)


def test_rules_have_weights_and_categories_are_the_guides() -> None:
    categories = {rule.category for rule in load_rules().values() if rule.category}
    assert len(categories) == 12
    assert RULES_FILE.endswith(".toml")


def test_unknown_rule_is_a_load_error_that_names_the_fix() -> None:
    data = {"meta": {"language": "xx", "name": "X", "script": "Latn"}, "terms": {"nope": ["a"]}}
    with pytest.raises(LexiconError, match="unknown rule 'nope'"):
        parse_lexicon("xx.toml", data, load_rules())


def test_bad_pattern_is_a_load_error() -> None:
    data = {
        "meta": {"language": "xx", "name": "X", "script": "Latn"},
        "patterns": {"age": ["(unclosed"]},
    }
    with pytest.raises(LexiconError, match="does not compile"):
        parse_lexicon("xx.toml", data, load_rules())


def test_missing_meta_is_a_load_error_with_an_example() -> None:
    with pytest.raises(LexiconError, match=r"\[meta\]"):
        parse_lexicon("xx.toml", {"terms": {}}, load_rules())


@pytest.mark.parametrize("file", [f for f in lexicon_files() if not f.startswith("_")])
def test_every_term_written_alone_fires_its_rule(file: str) -> None:
    """Each term of a language, typed on its own (a stem as its stem, ``#`` as 12), is
    read in that language as its rule: nothing is lost to normalisation, splitting or
    a clash between phrase tables."""
    from triage import assess

    data = _raw(file)
    language = data["meta"]["language"]
    scoring = {rule.name for rule in load_rules().values() if rule.scores}
    missed = []
    for rule, terms in data.get("terms", {}).items():
        if rule not in scoring:
            continue  # facts-only rules (age units, places) never show as signals
        for term in terms:
            text = term.removesuffix(STEM_MARK).replace("#", "12")
            fired = {signal.rule for signal in assess(text, lang=language).signals}
            if rule not in fired:
                missed.append((rule, term, sorted(fired)))
    assert not missed, f"{file}: terms that do not fire their rule: {missed[:10]}"


def test_start_up_cache_gives_the_same_lexicons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The normalised-terms cache (written at the first start, read at the next) changes
    nothing; a corrupt cache is ignored and rewritten."""
    from triage import lexicon

    rules = load_rules()
    fresh = {
        file: parse_lexicon(file, tomllib.loads(_raw_text(file)), rules) for file in lexicon_files()
    }
    monkeypatch.setattr(lexicon, "_cache_dirs", lambda: [tmp_path])
    try:
        lexicon.load_lexicons.cache_clear()
        first = lexicon.load_lexicons()
        (written,) = tmp_path.glob("lexicons-*.json")
        lexicon.load_lexicons.cache_clear()
        second = lexicon.load_lexicons()
        written.write_text("{not json")
        lexicon.load_lexicons.cache_clear()
        third = lexicon.load_lexicons()
    finally:
        lexicon.load_lexicons.cache_clear()
    for loaded in (first, second, third):
        assert {lex.language: lex for lex in fresh.values()} == dict(loaded)
    assert written.read_text().startswith("{")
