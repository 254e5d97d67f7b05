"""The JSON-lines contract: one object out per line in, errors as data."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.jsonl import assess_record

# Modest and reproducible: the whole triage suite must stay under a minute.
FAST = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def test_valid_line_gets_every_field() -> None:
    out = assess_record(json.dumps({"id": "r1", "text": "girl 13 on the train right now"}))
    assert set(out) == {"id", "urgency", "score", "categories", "language", "signals", "facts"}
    assert out["id"] == "r1"
    assert out["urgency"] == "critical"
    assert all(set(signal) == {"rule", "weight", "matched"} for signal in out["signals"])


def test_lang_is_honoured() -> None:
    out = assess_record(json.dumps({"id": 7, "text": "bachao", "lang": "hi-Latn"}))
    assert out["language"] == "hi-Latn"


@pytest.mark.parametrize(
    ("line", "record_id", "message"),
    [
        ("{not json", None, "not valid JSON"),
        ("[1, 2]", None, "not an object"),
        ('"text"', None, "not an object"),
        ('{"id": "a"}', "a", 'missing "text"'),
        ('{"id": "b", "text": 5}', "b", '"text" must be a string'),
        ('{"id": "c", "text": "hi", "lang": 3}', "c", '"lang" must be a string'),
    ],
)
def test_malformed_lines_become_errors(line: str, record_id: object, message: str) -> None:
    out = assess_record(line)
    assert message in out["error"]
    assert out.get("id") == record_id


@FAST
@given(st.text())
def test_never_raises_on_any_line(line: str) -> None:
    out = assess_record(line)
    assert "error" in out or "urgency" in out
