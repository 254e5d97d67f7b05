"""The JSON-lines contract of ``sajag triage``: one input line, one output object.

Pure: the CLI reads stdin and writes stdout; this module maps a line to a dict.
"""

from __future__ import annotations

import json
from typing import Any

from triage.engine import assess

_EXAMPLE = '{"id": "r1", "text": "..."} (optional "lang")'


def _error(message: str, record_id: Any = None) -> dict[str, Any]:
    result: dict[str, Any] = {"error": message}
    if record_id is not None:
        result = {"id": record_id, **result}
    return result


def assess_record(line: str) -> dict[str, Any]:
    """Assess one JSON line; a malformed line yields ``{"id"?, "error"}``, never raises."""
    try:
        record = json.loads(line)
    except ValueError as error:
        return _error(f"line is not valid JSON ({error}); expected {_EXAMPLE}")
    if not isinstance(record, dict):
        return _error(f"line is a JSON {type(record).__name__}, not an object; expected {_EXAMPLE}")
    record_id = record.get("id")
    text = record.get("text")
    if text is None:
        return _error(f'missing "text"; expected {_EXAMPLE}', record_id)
    if not isinstance(text, str):
        return _error(f'"text" must be a string, got {type(text).__name__}', record_id)
    lang = record.get("lang")
    if lang is not None and not isinstance(lang, str):
        return _error(f'"lang" must be a string such as "hi-Latn", got {lang!r}', record_id)
    return {"id": record_id, **assess(text, lang or None).to_dict()}
