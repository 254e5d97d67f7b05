"""Routing: give each triaged case an owner on call and start its escalation; and the
reconciler that makes sure every open case that needs a next step has a live job for it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from bot.jobs import ROUTE_CASE, enqueue, get_queue, route_job_id, safe_job_id
from bot.models import Assignment, AuditEntry, Case, Status
from bot.oncall import (
    EscalationState,
    NoChangeError,
    entry,
    load_escalation,
    needs_alerting,
    new_escalation_id,
    update_case,
)
from bot.responders import Roster, load_roster
from bot.runtime import Runtime
from workers import context
from workers.escalation import ESCALATE, escalation_job_id, pick_responder, run_due_steps

log = logging.getLogger(__name__)

# A job still "started" after this long belongs to a dead worker: our jobs take seconds.
STALE_STARTED = timedelta(seconds=90)
# A scheduled step this late means no scheduler is running: enqueue it directly.
OVERDUE = timedelta(minutes=2)
RECONCILE_LIMIT = 10_000
ROUTING_GRACE = timedelta(seconds=30)


# ------------------------------------------------------------------ route
def route(rt: Runtime, ref: str) -> str:
    """Assign the case and send whatever escalation steps are due. Safe to run any number
    of times: a case already being escalated at its urgency just gets its due steps."""
    case = rt.store.get(ref)
    if case is None:
        return "no such case"
    if not needs_alerting(case):
        return f"nothing to do: {case.status.value}"
    roster = load_roster(rt.redis)
    if roster is None:
        return _wait_for_responders(rt, ref)
    if not roster.escalation.for_urgency(case.urgency).steps:
        return _queue_without_alert(rt, roster, ref)
    case, state = _start_escalation(rt, roster, ref)
    if state is None or not state.active:
        return "nothing to do"
    return run_due_steps(rt, ref, state.id)


def _wait_for_responders(rt: Runtime, ref: str) -> str:
    store = rt.store

    def change(
        case: Case, state: EscalationState | None
    ) -> tuple[Case, EscalationState | None, list[AuditEntry], list[Assignment]]:
        if state is not None and state.phase == "waiting" and state.urgency == case.urgency:
            raise NoChangeError
        new = EscalationState(id=new_escalation_id(), urgency=case.urgency, phase="waiting")
        audit = entry(
            store,
            "routing",
            "not_routed",
            "no responders imported: run 'sajag responders import FILE'; "
            "the reconciler routes this case within a minute of the import",
        )
        return case, new, [audit], []

    update_case(store, ref, change)
    log.warning("case %s not routed: no responders imported", ref)
    return "waiting for responders"


def _queue_without_alert(rt: Runtime, roster: Roster, ref: str) -> str:
    store = rt.store
    digest = roster.escalation.medium.digest

    def change(
        case: Case, state: EscalationState | None
    ) -> tuple[Case, EscalationState | None, list[AuditEntry], list[Assignment]]:
        if state is not None and state.urgency == case.urgency and state.phase != "waiting":
            raise NoChangeError
        if case.urgency == "medium" and digest is not None:
            detail = f"medium: no alert; in the daily digest at {digest:%H:%M}"
        else:
            detail = f"{case.urgency}: no alert; kept in the open queue"
        new = EscalationState(id=new_escalation_id(), urgency=case.urgency, phase="queued")
        return case, new, [entry(store, "routing", "queued", detail)], []

    update_case(store, ref, change)
    return "queued"


def _start_escalation(rt: Runtime, roster: Roster, ref: str) -> tuple[Case, EscalationState | None]:
    store = rt.store
    policy_for = roster.escalation.for_urgency

    def change(
        case: Case, state: EscalationState | None
    ) -> tuple[Case, EscalationState | None, list[AuditEntry], list[Assignment]]:
        if not needs_alerting(case):
            raise NoChangeError
        if state is not None and state.active and state.urgency == case.urgency:
            raise NoChangeError
        now = store.clock()
        keep = state is not None and state.phase in ("active", "finished")
        passed = state.passed if state is not None else ()
        new = EscalationState(
            id=new_escalation_id(),
            urgency=case.urgency,
            phase="active",
            policy=policy_for(case.urgency),
            # Raised urgency: steps still count from the first alert, already sent ones dedupe.
            started_at=state.started_at if keep and state and state.started_at else now,
            passed=passed,
            handovers=state.handovers if state else 0,
        )
        audit = [
            entry(store, "routing", "escalation_started", f"{case.urgency}, escalation {new.id}")
        ]
        if case.assignee and case.assignee not in passed:
            return case, new, audit, []
        owner, reason = pick_responder(rt, roster, case, now, exclude=passed)
        if owner is None:
            return case, new, audit, []
        if not owner.speaks(case.language):
            reason += f"; language mismatch: nobody on call speaks {case.language}"
        audit.append(entry(store, "routing", "assigned", f"{owner.id} ({reason})"))
        record = Assignment(responder=owner.id, at=now, step=0, reason=reason)
        update = {"assignee": owner.id, "status": Status.ASSIGNED}
        return case.model_copy(update=update), new, audit, [record]

    return update_case(store, ref, change)


def route_case(ref: str) -> str:
    """RQ job (enqueued by intake with id ``route_<ref>_<version>``)."""
    return route(context.runtime(), ref)


# ------------------------------------------------------------------ reconcile
def job_is_live(rt: Runtime, job_id: str | None, now: datetime) -> bool:
    """Queued (really in the queue), scheduled (really in the registry), or started
    recently enough that its worker may still be alive."""
    if not job_id:
        return False
    queue = get_queue(rt.redis)
    job = Job.fetch_many([job_id], connection=rt.redis, serializer=queue.serializer)[0]
    if job is None:
        return False
    status = job.get_status(refresh=False)
    if status == JobStatus.QUEUED:
        return rt.redis.lpos(queue.key, job_id) is not None
    if status == JobStatus.SCHEDULED:
        registry = ScheduledJobRegistry(queue=queue)  # type: ignore[no-untyped-call]
        return rt.redis.zscore(registry.key, job_id) is not None
    if status == JobStatus.STARTED:
        started = job.started_at
        if started is None:
            return False
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        return now - started < STALE_STARTED
    return status == JobStatus.DEFERRED


def reconcile(rt: Runtime) -> dict[str, int]:
    """Re-create the next step of every open case that has none; returns counts."""
    counts = {"checked": 0, "rerouted": 0, "rescheduled": 0}
    if load_roster(rt.redis) is None:
        return counts
    now = context.now(rt)
    slot = int(now.timestamp() // 60)
    for case in rt.store.list_cases(limit=RECONCILE_LIMIT, open_only=True):
        counts["checked"] += 1
        if not needs_alerting(case):
            continue
        state = load_escalation(rt.redis, case.ref)
        if _needs_routing(case, state):
            if not job_is_live(rt, route_job_id(case.ref, case.version), now):
                _reroute(rt, case, slot)
                counts["rerouted"] += 1
        elif state is not None and state.active and _step_lost(rt, state, now):
            _reschedule(rt, case.ref, state, slot)
            counts["rescheduled"] += 1
    return counts


def _needs_routing(case: Case, state: EscalationState | None) -> bool:
    if state is None or state.phase == "waiting":
        return True
    return state.urgency != case.urgency and state.phase != "stopped"


def _step_lost(rt: Runtime, state: EscalationState, now: datetime) -> bool:
    if state.next_due is None:
        # Started but no step committed yet: give the routing job a moment to finish.
        return (
            state.next_job is None
            and state.started_at is not None
            and state.started_at < now - ROUTING_GRACE
        )
    if state.next_due < now - OVERDUE:
        return True
    return not job_is_live(rt, state.next_job, now)


def _reroute(rt: Runtime, case: Case, slot: int) -> None:
    job_id = safe_job_id("reroute", case.ref, case.version, slot)
    enqueue(rt.redis, ROUTE_CASE, case.ref, job_id=job_id)
    rt.store.append_audit(case.ref, "reconciler", "rerouted", "no live routing job")


def _reschedule(rt: Runtime, ref: str, state: EscalationState, slot: int) -> None:
    store = rt.store
    job_id = escalation_job_id(ref, state.id, state.next_step, f"r{slot}")

    def change(
        case: Case, current: EscalationState | None
    ) -> tuple[Case, EscalationState | None, list[AuditEntry], list[Assignment]]:
        if current is None or current.id != state.id or current.next_job == job_id:
            raise NoChangeError
        audit = entry(
            store, "reconciler", "rescheduled", f"step {current.next_step}: its job was lost"
        )
        return case, current.model_copy(update={"next_job": job_id}), [audit], []

    def queue_step(pipe: object, _case: Case, current: EscalationState | None) -> None:
        if current is None or current.next_job != job_id:
            return
        due = current.next_due or store.clock()
        if due <= store.clock():
            enqueue(rt.redis, ESCALATE, ref, state.id, job_id=job_id, pipeline=pipe)  # type: ignore[arg-type]
        else:
            context.schedule(rt, due, ESCALATE, ref, state.id, job_id=job_id, pipeline=pipe)

    update_case(store, ref, change, queue_step)


def reconcile_open_cases() -> dict[str, int]:
    """RQ job, every 60 s (bot.jobs.PERIODIC)."""
    return reconcile(context.runtime())
