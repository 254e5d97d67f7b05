"""A case's escalation state, shared by the routing workers and responder actions.

Each routing of a case starts an escalation with a fresh id and a frozen copy of its
policy. Jobs carry the id they were made for: a job whose id is not the case's current
one, or whose escalation was stopped (Accept, Resolved), does nothing. The state is only
written inside ``CaseStore.update`` transactions (WATCH on the case key), so an Accept and
an escalation step can never both win.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import redis
from pydantic import BaseModel
from redis.client import Pipeline

from bot import keys
from bot.models import OPEN_STATUSES, Assignment, AuditEntry, Case, Status
from bot.responders import Policy
from bot.store import CaseStore

ESCALATION = "sajag:case:{ref}:escalation"  # string: EscalationState JSON
RESPONDER_OPEN = "sajag:responder:{responder}:open"  # set: refs assigned to them, still open

EscalationPhase = Literal["active", "stopped", "finished", "queued", "waiting"]


def escalation_key(ref: str) -> str:
    return ESCALATION.format(ref=ref)


def responder_open_key(responder: str) -> str:
    return RESPONDER_OPEN.format(responder=responder)


def new_escalation_id() -> str:
    return secrets.token_hex(4)


class EscalationState(BaseModel):
    id: str
    urgency: str
    phase: EscalationPhase
    policy: Policy | None = None
    started_at: datetime | None = None  # the first alert; steps' `after` count from here
    next_step: int = 0
    next_due: datetime | None = None
    next_job: str | None = None
    passed: tuple[str, ...] = ()
    handovers: int = 0

    @property
    def active(self) -> bool:
        return self.phase == "active"


class NoChangeError(Exception):
    """Raised by a change function: nothing to write (a duplicate or stale job)."""


def load_escalation(client: redis.Redis, ref: str) -> EscalationState | None:
    raw = client.get(escalation_key(ref))
    return EscalationState.model_validate_json(raw) if raw else None


def open_load(client: redis.Redis, responder_ids: Iterable[str]) -> dict[str, int]:
    """How many open cases each responder holds (for "fewest open cases")."""
    ids = list(responder_ids)
    with client.pipeline(transaction=False) as pipe:
        for responder in ids:
            pipe.scard(responder_open_key(responder))
        counts = pipe.execute()
    return {r: int(c) for r, c in zip(ids, counts, strict=True)}


def assigned_refs(client: redis.Redis, responder: str) -> list[str]:
    raw = client.smembers(responder_open_key(responder))
    return sorted(r.decode() if isinstance(r, bytes) else str(r) for r in raw)


def _track_load(pipe: Pipeline, before: Case, after: Case) -> None:
    still_open = after.status in OPEN_STATUSES
    if before.assignee and (before.assignee != after.assignee or not still_open):
        pipe.srem(responder_open_key(before.assignee), after.ref)
    if after.assignee and still_open:
        pipe.sadd(responder_open_key(after.assignee), after.ref)


@dataclass
class _Captured:
    before: Case | None = None
    state: EscalationState | None = None
    assignments: list[Assignment] = field(default_factory=list)


Change = Callable[
    [Case, EscalationState | None],
    tuple[Case, EscalationState | None, list[AuditEntry], list[Assignment]],
]
Extra = Callable[[Pipeline, Case, EscalationState | None], None]


def update_case(
    store: CaseStore, ref: str, change: Change, extra: Extra | None = None
) -> tuple[Case, EscalationState | None]:
    """Change a case and its escalation state in one transaction.

    ``change`` may raise ``NoChangeError`` (returned as the current case and state) or any
    other error to refuse. ``extra`` adds writes to the same MULTI (e.g. an RQ enqueue).
    """
    captured = _Captured()

    def mutate(case: Case) -> tuple[Case, list[AuditEntry]]:
        state = load_escalation(store.redis, ref)
        after, captured.state, audit, captured.assignments = change(case, state)
        captured.before = case
        return after, audit

    def on_commit(pipe: Pipeline, case: Case) -> None:
        if captured.state is not None:
            pipe.set(escalation_key(ref), captured.state.model_dump_json())
        if captured.before is not None:
            _track_load(pipe, captured.before, case)
        for assignment in captured.assignments:
            pipe.rpush(keys.case_assignments(ref), assignment.model_dump_json())
        if extra is not None:
            extra(pipe, case, captured.state)

    try:
        case = store.update(ref, mutate, on_commit=on_commit)
    except NoChangeError:
        return store.require(ref), load_escalation(store.redis, ref)
    return case, captured.state


def entry(store: CaseStore, actor: str, action: str, detail: str = "") -> AuditEntry:
    return AuditEntry(at=store.clock(), actor=actor, action=action, detail=detail)


def needs_alerting(case: Case) -> bool:
    """Open and not yet taken by anyone: escalation must go on."""
    return case.status in (Status.TRIAGED, Status.ASSIGNED)
