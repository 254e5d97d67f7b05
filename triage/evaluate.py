"""Measure the rules against labelled records (the GUIDE's quality bars).

Pure: ``evaluate`` takes parsed records, ``format_table`` and
``report_to_json`` render the result; the CLI reads the file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from triage.engine import Urgency, assess

LEVELS: tuple[str, ...] = tuple(level.value for level in Urgency)
_UNDER_TRIAGE = frozenset({Urgency.MEDIUM.value, Urgency.LOW.value})


@dataclass(frozen=True)
class Bar:
    """A quality bar: metric name, threshold and direction."""

    metric: str
    threshold: float
    at_least: bool

    def passes(self, value: float) -> bool:
        """Whether ``value`` meets the bar."""
        return value >= self.threshold if self.at_least else value <= self.threshold


BARS: tuple[Bar, ...] = (
    Bar("critical_recall", 0.95, at_least=True),
    Bar("critical_under_triage", 0.02, at_least=False),
    Bar("macro_f1", 0.80, at_least=True),
    Bar("min_language_critical_recall", 0.90, at_least=True),
    Bar("category_micro_f1", 0.75, at_least=True),
    Bar("explained_share", 1.0, at_least=True),
)


@dataclass(frozen=True)
class LevelScores:
    """Precision, recall and F1 of one urgency level."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class EvalReport:
    """Every metric of the quality bars, plus the confusion matrix."""

    records: int
    critical_recall: float
    critical_under_triage: float
    levels: Mapping[str, LevelScores]
    macro_f1: float
    language_critical_recall: Mapping[str, float]
    category_micro_f1: float
    explained_share: float
    confusion: Mapping[str, Mapping[str, int]]

    @property
    def min_language_critical_recall(self) -> float:
        """The weakest language's critical recall (1.0 without criticals)."""
        return min(self.language_critical_recall.values(), default=1.0)

    def value(self, metric: str) -> float:
        """A metric by its bar name."""
        return float(getattr(self, metric))


def _ratio(numerator: int, denominator: int, empty: float = 0.0) -> float:
    return numerator / denominator if denominator else empty


def _f1(precision: float, recall: float) -> float:
    total = precision + recall
    return 2 * precision * recall / total if total else 0.0


def _level_scores(confusion: Mapping[tuple[str, str], int]) -> dict[str, LevelScores]:
    scores = {}
    for level in LEVELS:
        hits = confusion.get((level, level), 0)
        predicted = sum(confusion.get((gold, level), 0) for gold in LEVELS)
        actual = sum(confusion.get((level, pred), 0) for pred in LEVELS)
        precision, recall = _ratio(hits, predicted), _ratio(hits, actual)
        scores[level] = LevelScores(precision, recall, _f1(precision, recall), actual)
    return scores


def evaluate(records: Iterable[Mapping[str, Any]]) -> EvalReport:
    """Assess labelled records (``text``, ``urgency``, ``categories``, ``lang``) and score."""
    confusion: Counter[tuple[str, str]] = Counter()
    critical_by_language: Counter[str] = Counter()
    critical_hits_by_language: Counter[str] = Counter()
    true_pos = false_pos = false_neg = 0
    non_low_verdicts = explained = count = 0
    for record in records:
        count += 1
        gold = str(record["urgency"])
        result = assess(str(record["text"]), None)
        predicted = result.urgency.value
        confusion[(gold, predicted)] += 1
        if gold == Urgency.CRITICAL.value:
            language = str(record.get("lang", "und"))
            critical_by_language[language] += 1
            critical_hits_by_language[language] += predicted == gold
        if gold != Urgency.LOW.value:
            expected, found = set(record.get("categories", ())), set(result.categories)
            true_pos += len(expected & found)
            false_pos += len(found - expected)
            false_neg += len(expected - found)
        if predicted != Urgency.LOW.value:
            non_low_verdicts += 1
            explained += any(signal.matched for signal in result.signals)
    levels = _level_scores(confusion)
    criticals = sum(critical_by_language.values())
    under = sum(confusion[(Urgency.CRITICAL.value, level)] for level in _UNDER_TRIAGE)
    return EvalReport(
        records=count,
        critical_recall=levels[Urgency.CRITICAL.value].recall,
        critical_under_triage=_ratio(under, criticals),
        levels=levels,
        macro_f1=sum(score.f1 for score in levels.values()) / len(levels),
        language_critical_recall={
            language: critical_hits_by_language[language] / total
            for language, total in sorted(critical_by_language.items())
        },
        category_micro_f1=_ratio(2 * true_pos, 2 * true_pos + false_pos + false_neg),
        explained_share=_ratio(explained, non_low_verdicts, empty=1.0),
        confusion={gold: {pred: confusion[(gold, pred)] for pred in LEVELS} for gold in LEVELS},
    )


def passes_all(report: EvalReport) -> bool:
    """Whether every quality bar is met."""
    return all(bar.passes(report.value(bar.metric)) for bar in BARS)


def format_table(report: EvalReport) -> str:
    """Markdown tables: the bars with pass/fail, per-level scores, per-language recall."""
    lines = [
        f"Triage evaluation on {report.records} records",
        "",
        "| metric | value | bar | result |",
        "|---|---:|---:|---|",
    ]
    for bar in BARS:
        value = report.value(bar.metric)
        sign = ">=" if bar.at_least else "<="
        verdict = "pass" if bar.passes(value) else "FAIL"
        lines.append(f"| {bar.metric} | {value:.3f} | {sign} {bar.threshold:.2f} | {verdict} |")
    lines += ["", "| level | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for level, score in report.levels.items():
        lines.append(
            f"| {level} | {score.precision:.3f} | {score.recall:.3f} | {score.f1:.3f} "
            f"| {score.support} |"
        )
    lines += ["", "| language | critical recall |", "|---|---:|"]
    lines += [
        f"| {lang} | {value:.3f} |" for lang, value in report.language_critical_recall.items()
    ]
    lines += ["", "| gold \\ predicted | " + " | ".join(LEVELS) + " |", "|---|" + "---:|" * 4]
    for gold, row in report.confusion.items():
        lines.append(f"| {gold} | " + " | ".join(str(row[pred]) for pred in LEVELS) + " |")
    return "\n".join(lines)


def report_to_json(report: EvalReport) -> dict[str, Any]:
    """JSON-ready form of the report, with each bar's verdict."""
    return {
        "records": report.records,
        "critical_recall": report.critical_recall,
        "critical_under_triage": report.critical_under_triage,
        "macro_f1": report.macro_f1,
        "min_language_critical_recall": report.min_language_critical_recall,
        "language_critical_recall": dict(report.language_critical_recall),
        "category_micro_f1": report.category_micro_f1,
        "explained_share": report.explained_share,
        "levels": {
            level: {
                "precision": score.precision,
                "recall": score.recall,
                "f1": score.f1,
                "support": score.support,
            }
            for level, score in report.levels.items()
        },
        "confusion": {gold: dict(row) for gold, row in report.confusion.items()},
        "bars": {
            bar.metric: {
                "threshold": bar.threshold,
                "at_least": bar.at_least,
                "passed": bar.passes(report.value(bar.metric)),
            }
            for bar in BARS
        },
        "passed": passes_all(report),
    }
