"""Records that cross module boundaries: reports, cases, messages, assignments, audit."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import regex
from pydantic import BaseModel, ConfigDict, Field

UrgencyLevel = Literal["critical", "high", "medium", "low"]
URGENCY_RANK: dict[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def higher_urgency(a: str, b: str) -> str:
    """The more urgent of two levels: urgency may rise on new messages, never silently fall."""
    return a if URGENCY_RANK[a] <= URGENCY_RANK[b] else b


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"


class Status(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED_NO_ACTION = "closed_no_action"


OPEN_STATUSES = frozenset({Status.NEW, Status.TRIAGED, Status.ASSIGNED, Status.ACKNOWLEDGED})

ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.TRIAGED, Status.CLOSED_NO_ACTION}),
    Status.TRIAGED: frozenset({Status.ASSIGNED, Status.RESOLVED, Status.CLOSED_NO_ACTION}),
    # assigned -> assigned is a hand-over to the next responder ("Can't take").
    Status.ASSIGNED: frozenset(
        {
            Status.ASSIGNED,
            Status.TRIAGED,
            Status.ACKNOWLEDGED,
            Status.RESOLVED,
            Status.CLOSED_NO_ACTION,
        }
    ),
    Status.ACKNOWLEDGED: frozenset({Status.ASSIGNED, Status.RESOLVED, Status.CLOSED_NO_ACTION}),
    Status.RESOLVED: frozenset(),
    Status.CLOSED_NO_ACTION: frozenset(),
}


class IllegalTransitionError(ValueError):
    def __init__(self, ref: str, current: Status, wanted: Status) -> None:
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[current])) or "none (the case is closed)"
        super().__init__(
            f"case {ref} is {current.value}; it cannot become {wanted.value}. "
            f"Allowed next: {allowed}"
        )
        self.ref, self.current, self.wanted = ref, current, wanted


# References avoid letters and digits people confuse when reading or typing them:
# 0/O, 1/I/L, 2/Z, 5/S, 8/B, 6/G.
REF_ALPHABET = "ACDEFHJKMNPQRTUVWXY34679"
_REF_INPUT = regex.compile(r"^\s*([A-Za-z0-9]{3})[-\s]?([A-Za-z0-9]{3})\s*$")


def new_ref() -> str:
    chars = [secrets.choice(REF_ALPHABET) for _ in range(6)]
    return "".join(chars[:3]) + "-" + "".join(chars[3:])


def parse_ref(text: str) -> str | None:
    """``K7Q-4TD``, ``k7q4td`` or ``K7Q 4TD`` → ``K7Q-4TD``; None if it cannot be a reference."""
    match = _REF_INPUT.match(text)
    if not match:
        return None
    ref = (match.group(1) + match.group(2)).upper()
    if any(ch not in REF_ALPHABET for ch in ref):
        return None
    return ref[:3] + "-" + ref[3:]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Report(BaseModel):
    """One inbound message from a reporter, already pseudonymised."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    reporter: str = Field(description="HMAC pseudonym of the reporter's address")
    text: str
    channel_message_id: str
    received_at: datetime
    language: str | None = None
    country: str | None = None
    media_count: int = 0
    media_types: tuple[str, ...] = ()


class Message(BaseModel):
    id: str
    channel: Channel
    text: str
    received_at: datetime
    language: str | None = None
    media_count: int = 0
    media_types: tuple[str, ...] = ()
    erased: bool = False


class Signal(BaseModel):
    rule: str
    weight: int
    matched: tuple[str, ...]


class Assignment(BaseModel):
    responder: str
    at: datetime
    step: int = 0
    reason: str = ""
    outcome: Literal["pending", "acknowledged", "passed", "resolved", "superseded"] = "pending"


class AuditEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    detail: str = ""


class Case(BaseModel):
    ref: str
    status: Status = Status.NEW
    urgency: UrgencyLevel = "low"
    score: int = 0
    categories: tuple[str, ...] = ()
    signals: tuple[Signal, ...] = ()
    facts: dict[str, Any] = Field(default_factory=dict)
    channel: Channel
    language: str | None = None
    reporter: str
    country: str | None = None
    region: str | None = None
    created_at: datetime
    updated_at: datetime
    assignee: str | None = None
    first_alert_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    message_count: int = 0
    media_count: int = 0
    version: int = 0
    erased: bool = False

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def priority(self) -> float:
        """Lower is more urgent: urgency first, then age (older first)."""
        return URGENCY_RANK[self.urgency] * 1e10 + self.created_at.timestamp()


class CaseView(BaseModel):
    """A case with its lists, as shown by ``sajag cases show`` and to responders."""

    case: Case
    messages: list[Message]
    assignments: list[Assignment]
    audit: list[AuditEntry]

    def to_public_dict(self) -> dict[str, Any]:
        c = self.case
        return {
            "ref": c.ref,
            "status": c.status.value,
            "urgency": c.urgency,
            "score": c.score,
            "categories": list(c.categories),
            "signals": [s.model_dump(mode="json") for s in c.signals],
            "facts": c.facts,
            "channel": c.channel.value,
            "language": c.language,
            "country": c.country,
            "region": c.region,
            "created_at": c.created_at.isoformat(),
            "updated_at": c.updated_at.isoformat(),
            "assignee": c.assignee,
            "media_count": c.media_count,
            "messages": [m.model_dump(mode="json") for m in self.messages],
            "assignments": [a.model_dump(mode="json") for a in self.assignments],
            "audit": [e.model_dump(mode="json") for e in self.audit],
        }
