"""Escalation steps: who is alerted, when, and what comes next.

A step's ``after`` counts from the case's first alert. Past the last step, the last
step's people are alerted again every ``repeat_every`` until someone accepts. Each run
sends every step that is due (alerts are idempotent per case, responder, step and
channel), then commits its progress and schedules the next step in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from redis.client import Pipeline

from bot.jobs import safe_job_id
from bot.models import Assignment, AuditEntry, Case, Status
from bot.oncall import (
    EscalationState,
    NoChangeError,
    entry,
    open_load,
    update_case,
)
from bot.responders import (
    EVERYONE_ON_CALL,
    SUPERVISORS,
    Responder,
    Roster,
    everyone_on_call,
    on_call_for_rotation,
)
from bot.runtime import Runtime
from workers import context
from workers.alerts import deliver, live_escalation

ESCALATE = "workers.escalation.escalate"


# ------------------------------------------------------------------ who
def rank(
    roster: Roster, case: Case, ids: Iterable[str], load: dict[str, int], prefer: Iterable[str] = ()
) -> list[Responder]:
    """Best first: speaks the case language, covers its region, in the preferred rotation,
    fewest open cases; ties keep the file's order."""
    preferred = set(prefer)
    people = [r for i in dict.fromkeys(ids) if (r := roster.responder(i)) is not None]
    region = case.region or case.country
    return sorted(
        people,
        key=lambda r: (
            not r.speaks(case.language),
            not r.covers(region),
            r.id not in preferred,
            load.get(r.id, 0),
        ),
    )


def pick_responder(
    rt: Runtime, roster: Roster, case: Case, at: datetime, exclude: Iterable[str] = ()
) -> tuple[Responder | None, str]:
    """The responder to own the case, and why: on call first, then supervisors, then anyone."""
    excluded = set(exclude)
    first = roster.escalation.for_urgency(case.urgency).steps
    prefer = (
        on_call_for_rotation(roster, rotation, at)
        if first and (rotation := roster.rotation(first[0].notify)) is not None
        else []
    )
    pools = (
        ("on call", everyone_on_call(roster, at)),
        ("nobody on call: supervisor", [r.id for r in roster.supervisors()]),
        ("nobody on call and no supervisor", [r.id for r in roster.responders]),
    )
    for reason, pool in pools:
        candidates = [i for i in pool if i not in excluded]
        if candidates:
            load = open_load(rt.redis, candidates)
            best = rank(roster, case, candidates, load, prefer)[0]
            return best, reason
    return None, "everyone has passed"


def step_recipients(
    roster: Roster, case: Case, state: EscalationState, index: int, at: datetime
) -> list[str]:
    if state.policy is None:
        return []
    step = state.policy.step(index)
    passed = set(state.passed)
    if index == 0 and roster.rotation(step.notify) is not None and case.assignee:
        ids = [case.assignee]
    elif step.notify == SUPERVISORS:
        ids = [r.id for r in roster.supervisors()]
    elif step.notify == EVERYONE_ON_CALL:
        ids = everyone_on_call(roster, at)
    else:
        rotation = roster.rotation(step.notify)
        ids = on_call_for_rotation(roster, rotation, at) if rotation else []
    ids = [i for i in ids if i not in passed]
    if not ids:
        # Nobody left at this step: supervisors, so the alert always reaches someone.
        ids = [r.id for r in roster.supervisors() if r.id not in passed]
    return [r.id for r in rank(roster, case, ids, {})]


# ------------------------------------------------------------------ when
def escalation_job_id(ref: str, escalation_id: str, step: int, suffix: str = "") -> str:
    return safe_job_id("esc", ref, escalation_id, step, *([suffix] if suffix else []))


def due_at(state: EscalationState, index: int) -> datetime | None:
    if state.policy is None or state.started_at is None:
        return None
    offset = state.policy.due_offset(index)
    return None if offset is None else state.started_at + offset


def alert_step(
    rt: Runtime, roster: Roster, case: Case, state: EscalationState, index: int, at: datetime
) -> list[str]:
    """Send step ``index``; a person no channel reaches is replaced by a supervisor."""
    if state.policy is None:
        return []
    via = state.policy.step(index).via
    reached = []
    for responder_id in step_recipients(roster, case, state, index, at):
        responder = roster.responder(responder_id)
        if responder is None:
            continue
        if deliver(rt, case, responder, str(index), via, state.id) != "failed":
            reached.append(responder_id)
    if not reached:
        for supervisor in roster.supervisors():
            if deliver(rt, case, supervisor, f"{index}s", via, state.id) != "failed":
                reached.append(supervisor.id)
    return reached


def run_due_steps(rt: Runtime, ref: str, escalation_id: str) -> str:
    """Send every due step of the current escalation, then schedule the next one."""
    live = live_escalation(rt, ref, escalation_id)
    if live is None:
        return "stale"
    case, state, roster = live
    now = context.now(rt)
    index = state.next_step
    sent: list[str] = []
    while (due := due_at(state, index)) is not None and due <= now:
        reached = alert_step(rt, roster, case, state, index, now)
        sent.append(f"step {index}: {', '.join(reached) or 'nobody reachable'}")
        index += 1
    commit_progress(rt, ref, escalation_id, index, sent)
    return "; ".join(sent) or "nothing due"


def commit_progress(rt: Runtime, ref: str, escalation_id: str, index: int, sent: list[str]) -> None:
    store = rt.store

    def change(
        case: Case, state: EscalationState | None
    ) -> tuple[Case, EscalationState | None, list[AuditEntry], list[Assignment]]:
        if state is None or state.id != escalation_id or not state.active:
            raise NoChangeError
        if state.next_step > index or (state.next_step == index and state.next_job):
            raise NoChangeError
        due = due_at(state, index)
        update: dict[str, object] = {"next_step": index, "next_due": due, "next_job": None}
        if due is None:
            update["phase"] = "finished"
        else:
            update["next_job"] = escalation_job_id(ref, escalation_id, index)
        audit = [entry(store, "routing", "escalated", line) for line in sent]
        if due is None and state.phase == "active":
            audit.append(entry(store, "routing", "escalation_finished", "last step sent"))
        return case, state.model_copy(update=update), audit, []

    def schedule_next(pipe: Pipeline, _case: Case, state: EscalationState | None) -> None:
        if state is not None and state.next_due is not None and state.next_job:
            context.schedule(
                rt,
                state.next_due,
                ESCALATE,
                ref,
                escalation_id,
                job_id=state.next_job,
                pipeline=pipe,
            )

    update_case(store, ref, change, schedule_next)


# ------------------------------------------------------------------ Can't take
def hand_over_case(rt: Runtime, ref: str, escalation_id: str, handover: int) -> str:
    """After a "Can't take": the next in line owns the case and is alerted now."""
    live = live_escalation(rt, ref, escalation_id)
    if live is None:
        return "stale"
    case, state, roster = live
    if state.handovers != handover:
        return "superseded"
    now = context.now(rt)
    responder, reason = pick_responder(rt, roster, case, now, exclude=state.passed)
    if responder is None:
        responder = next(iter(roster.supervisors()), None)
        reason = "everyone has passed: supervisor"
    if responder is None:
        rt.store.append_audit(ref, "routing", "handover_failed", "everyone has passed")
        return "nobody left"
    case = assign(rt, ref, escalation_id, responder.id, f"hand-over {handover}: {reason}")
    via = state.policy.step(0).via if state.policy else ("telegram", "sms")
    deliver(rt, case, responder, f"h{handover}", via, escalation_id)
    run_due_steps(rt, ref, escalation_id)
    return f"handed over to {responder.id}"


def assign(rt: Runtime, ref: str, escalation_id: str, responder_id: str, reason: str) -> Case:
    store = rt.store

    def change(
        case: Case, state: EscalationState | None
    ) -> tuple[Case, EscalationState | None, list[AuditEntry], list[Assignment]]:
        if state is None or state.id != escalation_id or case.assignee == responder_id:
            raise NoChangeError
        now = store.clock()
        record = Assignment(responder=responder_id, at=now, step=state.next_step, reason=reason)
        audit = [entry(store, "routing", "assigned", f"{responder_id} ({reason})")]
        update = {"assignee": responder_id, "status": Status.ASSIGNED}
        return case.model_copy(update=update), state, audit, [record]

    case, _ = update_case(store, ref, change)
    return case


def escalate(ref: str, escalation_id: str) -> str:
    """RQ job: the next step of an escalation (does nothing if it is no longer current)."""
    return run_due_steps(context.runtime(), ref, escalation_id)


def hand_over(ref: str, escalation_id: str, handover: int) -> str:
    """RQ job: "Can't take" moves the case to the next in line at once."""
    return hand_over_case(context.runtime(), ref, escalation_id, handover)
