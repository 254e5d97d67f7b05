"""Multilingual rule-based triage of child-trafficking reports.

Text in, verdict out: no I/O beyond reading the package's own files (lexicons,
and the digest of a compiled build, see :mod:`triage.native`).
"""

from triage.native import prefer_compiled

# Before the first import of a module that may be compiled, hence the late imports.
COMPILED = prefer_compiled(__path__)

from triage.detect import detect_language  # noqa: E402
from triage.engine import Assessment, Signal, Urgency, assess, assess_conversation  # noqa: E402
from triage.facts import Facts  # noqa: E402
from triage.normalize import normalize  # noqa: E402

__all__ = [
    "COMPILED",
    "Assessment",
    "Facts",
    "Signal",
    "Urgency",
    "assess",
    "assess_conversation",
    "detect_language",
    "normalize",
]
