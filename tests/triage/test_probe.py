"""Held-out probe: reports written for this test, not derived from dev.jsonl.

``probe.jsonl`` (63 reports in en, hi, hi-Latn, bn, bn-Latn, ur-Latn, ne, ta)
was labelled from GUIDE.md before the rules were run on it; labels are never
changed to match the rules. It guards against rules that only fit dev.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from triage import assess
from triage.evaluate import evaluate

PROBE = Path(__file__).with_name("probe.jsonl")
# Further probes, one file per group of languages (``probe_<group>.jsonl``), written
# the same way: labelled from GUIDE.md before the rules ran, never relabelled.
LANGUAGE_PROBES = sorted(PROBE.parent.glob("probe_*.jsonl"))
LEVELS = {"critical", "high", "medium", "low"}


def _records(path: Path = PROBE) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def test_probe_meets_its_bars() -> None:
    report = evaluate(_records())
    assert report.records >= 60
    assert report.critical_recall >= 0.9
    assert report.macro_f1 >= 0.7


@pytest.mark.parametrize("path", LANGUAGE_PROBES, ids=[p.stem for p in LANGUAGE_PROBES])
def test_language_probe_meets_its_bars(path: Path) -> None:
    records = _records(path)
    ids = [record["id"] for record in records]
    assert len(ids) == len(set(ids)), "probe ids are unique"
    assert all(record["urgency"] in LEVELS and record.get("lang") for record in records)
    report = evaluate(records)
    assert report.critical_recall >= 0.9
    assert report.critical_under_triage <= 0.05
    assert report.macro_f1 >= 0.7


def test_lead_probe_cases() -> None:
    """The lead's probes (issue 4): adult self-report, rumour, child sold, months of crime."""
    adult = "my employer keeps my passport and I haven't been paid for 6 months, I'm 32"
    assert assess(adult).urgency == "medium"
    rumour = "Is it true that gangs steal kidneys from children at the mall? saw it on whatsapp"
    assert assess(rumour).urgency == "low"
    sold = assess(
        "please save me, my uncle sold me to a man, i am in a room in a hotel "
        "and cant go out, i am 14"
    )
    assert sold.urgency == "critical"
    assert 14 in sold.facts.ages
    crime = assess(
        "A 15 year old boy in our street has been forced to carry packets of drugs for a gang "
        "for months"
    )
    assert crime.urgency == "high"
    assert "criminal_activity" in crime.categories
    dhaba = assess(
        "mere padosi ka beta 10 saal ka hai, dhaba pe raat bhar bartan dhota hai, school nahi jata"
    )
    assert dhaba.urgency == "high"
    assert "sexual_exploitation" not in dhaba.categories
