"""evaluate: the quality bars, measured on dev.jsonl by script, not by hand."""

from __future__ import annotations

from typing import Any

import pytest

from triage.evaluate import BARS, evaluate, format_table, passes_all, report_to_json


def test_dev_set_meets_every_quality_bar(dev_records: list[dict[str, Any]]) -> None:
    report = evaluate(dev_records)
    failing = [bar.metric for bar in BARS if not bar.passes(report.value(bar.metric))]
    assert not failing, format_table(report)
    assert passes_all(report)


def test_every_language_critical_recall_is_reported(dev_records: list[dict[str, Any]]) -> None:
    report = evaluate(dev_records)
    assert set(report.language_critical_recall) == {r["lang"] for r in dev_records}
    assert all(value >= 0.90 for value in report.language_critical_recall.values())


def test_metrics_on_a_tiny_labelled_set() -> None:
    records = [
        {"text": "a man is taking a 12 year old girl on the train right now", "urgency": "critical",
         "categories": [], "lang": "en"},
        {"text": "hello", "urgency": "low", "categories": [], "lang": "en"},
        {"text": "hello", "urgency": "critical", "categories": [], "lang": "nl"},
    ]  # fmt: skip
    report = evaluate(records)
    assert report.records == 3
    assert report.critical_recall == pytest.approx(0.5)
    assert report.critical_under_triage == pytest.approx(0.5)
    assert report.language_critical_recall == {"en": 1.0, "nl": 0.0}
    assert report.confusion["critical"]["low"] == 1
    assert not passes_all(report)


def test_table_and_json_agree(dev_records: list[dict[str, Any]]) -> None:
    report = evaluate(dev_records[:40])
    table = format_table(report)
    data = report_to_json(report)
    assert "| critical_recall |" in table
    assert set(data["bars"]) == {bar.metric for bar in BARS}
    assert data["records"] == 40


def test_empty_input_does_not_divide_by_zero() -> None:
    report = evaluate([])
    assert report.records == 0
    assert report.explained_share == 1.0
