"""Multilingual rule-based triage of child-trafficking reports.

Text in, verdict out: no I/O beyond reading the package's own lexicon files.
"""

from triage.detect import detect_language
from triage.engine import Assessment, Signal, Urgency, assess, assess_conversation
from triage.facts import Facts
from triage.normalize import normalize

__all__ = [
    "Assessment",
    "Facts",
    "Signal",
    "Urgency",
    "assess",
    "assess_conversation",
    "detect_language",
    "normalize",
]
