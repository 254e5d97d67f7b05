"""Benchmark the triage rules: throughput, start-up, and a learned baseline.

Run ``python -m bench.triage [--dev PATH]``; prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEV = REPO_ROOT.parent / "shared" / "triage" / "dev.jsonl"
STARTUP_CODE = "import triage.lexicon as l; l.load_lexicons(); l.load_rules()"
CATEGORIES = (
    "sexual_exploitation", "forced_labour", "begging", "child_marriage", "online_exploitation",
    "missing_child", "illegal_adoption", "organ_removal", "armed_recruitment",
    "criminal_activity", "debt_bondage", "unsafe_migration",
)  # fmt: skip
LEVELS = ("critical", "high", "medium", "low")


def emit(line: str = "") -> None:
    """Write one line of the report to stdout (the benchmark's only output)."""
    sys.stdout.write(line + "\n")


def load_records(path: Path) -> list[dict[str, Any]]:
    """Labelled records of a JSON-lines file."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def messages_per_second(work: Callable[[str], object], texts: Sequence[str], rounds: int) -> float:
    """Best of five timed passes over ``texts`` repeated ``rounds`` times."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            for text in texts:
                work(text)
        best = min(best, time.perf_counter() - start)
    return rounds * len(texts) / best


# Throughput of the same sources as plain Python, timed in a fresh interpreter
# (see triage.native.run_plain).
_PLAIN_PYTHON_RATE = """
import json, sys
import triage
from bench.triage import messages_per_second
assert not triage.COMPILED, triage.__path__
texts = json.loads(sys.stdin.read())
for text in texts:
    triage.assess(text)
print(messages_per_second(triage.assess, texts, int(sys.argv[1])))
"""


def plain_python_rate(texts: Sequence[str], rounds: int) -> float:
    """Messages per second of :func:`triage.assess` with no compiled module in use."""
    from triage.native import run_plain

    return float(run_plain(_PLAIN_PYTHON_RATE, json.dumps(texts), [str(rounds)], [REPO_ROOT]))


def first_sight_rate(
    work: Callable[[str], object], forget: Callable[[], None], texts: Sequence[str]
) -> float:
    """Best of three passes, each starting with empty memos: no chunk seen before."""
    best = float("inf")
    for _ in range(3):
        forget()
        start = time.perf_counter()
        for text in texts:
            work(text)
        best = min(best, time.perf_counter() - start)
    forget()
    return len(texts) / best


def nfkc_casefold(text: str) -> str:
    """The baseline: what any matcher does before looking at a word."""
    return unicodedata.normalize("NFKC", text).casefold()


def startup_ms(runs: int = 7) -> float:
    """Median wall time of a fresh interpreter importing triage and loading every lexicon."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", STARTUP_CODE], check=True, cwd=REPO_ROOT)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def interpreter_ms(runs: int = 7) -> float:
    """Median wall time of a bare interpreter, for scale."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def fold_metrics(
    gold: Sequence[str], predicted: Sequence[str], langs: Sequence[str],
    gold_cats: Sequence[set[str]], predicted_cats: Sequence[set[str]],
) -> dict[str, float]:  # fmt: skip
    """The quality-bar metrics on one fold."""
    from sklearn.metrics import f1_score

    criticals = [i for i, level in enumerate(gold) if level == "critical"]
    hit = [predicted[i] == "critical" for i in criticals]
    under = [predicted[i] in ("medium", "low") for i in criticals]
    by_lang: dict[str, list[bool]] = {}
    for i, ok in zip(criticals, hit, strict=True):
        by_lang.setdefault(langs[i], []).append(ok)
    tp = fp = fn = 0
    for level, expected, found in zip(gold, gold_cats, predicted_cats, strict=True):
        if level != "low":
            tp, fp, fn = (
                tp + len(expected & found),
                fp + len(found - expected),
                fn + len(expected - found),
            )
    return {
        "critical recall": sum(hit) / len(hit),
        "critical under-triaged": sum(under) / len(under),
        "macro-F1 (4 levels)": float(f1_score(gold, predicted, labels=LEVELS, average="macro")),
        "worst language critical recall": min(sum(v) / len(v) for v in by_lang.values()),
        "category micro-F1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0,
    }


def compare_with_baseline(records: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """5-fold stratified CV: char n-gram TF-IDF + logistic regression against the rules."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MultiLabelBinarizer

    from triage import assess

    texts = [r["text"] for r in records]
    levels = [r["urgency"] for r in records]
    langs = [r["lang"] for r in records]
    cats = [set(r["categories"]) for r in records]
    binarizer = MultiLabelBinarizer(classes=CATEGORIES)
    cat_matrix = binarizer.fit_transform(cats)
    rules = [assess(text) for text in texts]
    results: dict[str, dict[str, list[float]]] = {"rules": {}, "tf-idf + LR": {}}
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    for train, test in folds.split(texts, levels):

        def vectorizer() -> TfidfVectorizer:
            return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)

        level_model = make_pipeline(vectorizer(), LogisticRegression(max_iter=2000, C=10))
        level_model.fit([texts[i] for i in train], [levels[i] for i in train])
        cat_model = make_pipeline(
            vectorizer(), OneVsRestClassifier(LogisticRegression(max_iter=2000, C=10))
        )
        cat_model.fit([texts[i] for i in train], cat_matrix[train])
        test_texts = [texts[i] for i in test]
        learned_levels = list(level_model.predict(test_texts))
        learned_cats = [
            set(row) for row in binarizer.inverse_transform(cat_model.predict(test_texts))
        ]
        gold = [levels[i] for i in test]
        fold_langs = [langs[i] for i in test]
        gold_cats = [cats[i] for i in test]
        scores = {
            "rules": fold_metrics(
                gold, [rules[i].urgency.value for i in test], fold_langs, gold_cats,
                [set(rules[i].categories) for i in test],
            ),
            "tf-idf + LR": fold_metrics(gold, learned_levels, fold_langs, gold_cats, learned_cats),
        }  # fmt: skip
        for system, metrics in scores.items():
            for metric, value in metrics.items():
                results[system].setdefault(metric, []).append(value)
    return results


def _mean_sd(values: Sequence[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.pstdev(values):.3f}"


def main(argv: Sequence[str] | None = None) -> None:
    """Run every benchmark and print markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="labelled dev.jsonl")
    parser.add_argument("--rounds", type=int, default=5, help="passes over dev.jsonl")
    args = parser.parse_args(argv)
    records = load_records(args.dev)
    texts = [record["text"] for record in records]

    from triage import COMPILED, assess
    from triage.engine import clear_memos

    for text in texts:
        assess(text)
    rules_rate = messages_per_second(assess, texts, args.rounds)
    cold_rate = first_sight_rate(assess, clear_memos, texts)
    baseline_rate = messages_per_second(nfkc_casefold, texts, args.rounds)
    plain_rate = plain_python_rate(texts, args.rounds)
    build = "compiled with mypyc" if COMPILED else "plain Python: no fresh mypyc build"
    emit(f"## Throughput ({len(texts)} dev messages x {args.rounds}, one core, best of 5)\n")
    emit("| pipeline | messages/s | target |")
    emit("|---|---:|---:|")
    emit(f"| baseline: NFKC + casefold | {baseline_rate:,.0f} | |")
    emit(f"| triage.assess ({build}) | {rules_rate:,.0f} | >= 20,000 |")
    emit(f"| triage.assess, every chunk and word unseen (memos cleared) | {cold_rate:,.0f} | |")
    emit(f"| triage.assess, the same sources as plain Python | {plain_rate:,.0f} | |")

    emit("\n## Start-up (fresh interpreter, median of 7)\n")
    emit("| step | ms | target |")
    emit("|---|---:|---:|")
    emit(f"| bare `python -c pass` | {interpreter_ms():.0f} | |")
    emit(f"| import triage + load all lexicons | {startup_ms():.0f} | < 300 |")

    results = compare_with_baseline(records)
    emit("\n## Rules vs char n-gram TF-IDF + logistic regression (5-fold stratified CV)\n")
    emit("| metric | rules | tf-idf + LR |")
    emit("|---|---:|---:|")
    for metric in results["rules"]:
        cells = [_mean_sd(results[system][metric]) for system in ("rules", "tf-idf + LR")]
        emit(f"| {metric} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
