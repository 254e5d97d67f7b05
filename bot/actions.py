"""What a responder can do with a case, by SMS reply code or Telegram button.

``ACK K7Q-4TD`` (Accept) stops the escalation; ``PASS K7Q4TD`` (Can't take) hands the
case to the next in line at once; ``DONE k7q4td`` (Resolved) closes it; ``NOTE REF text``
adds a note. Every attempt on an existing case, refused or not, lands in its audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import regex
from redis.client import Pipeline

from bot import metrics
from bot.i18n import translations
from bot.jobs import enqueue, safe_job_id
from bot.models import Assignment, AuditEntry, Case, Status, parse_ref
from bot.oncall import EscalationState, NoChangeError, entry, new_escalation_id, update_case
from bot.responders import Responder, load_roster
from bot.runtime import Runtime

Action = Literal["ack", "pass", "done", "note"]
ACTIONS: tuple[str, ...] = get_args(Action)
HAND_OVER = "workers.escalation.hand_over"
CALLBACK_PREFIX = "sj"

_CODES: dict[str, Action] = {"ACK": "ack", "PASS": "pass", "DONE": "done", "NOTE": "note"}
_TEXT = regex.compile(
    r"^\s*(?P<code>ACK|PASS|DONE|NOTE)\s+(?P<ref>[A-Z0-9]{3}[-\s]?[A-Z0-9]{3})\b\s*(?P<rest>.*)$",
    regex.IGNORECASE | regex.DOTALL,
)
MAX_NOTE_CHARS = 2000


class RefusedError(Exception):
    """The action does not apply to the case as it is; ``code`` says why (see refusal_text)."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code, self.params = code, params

    def text(self, gettext: Callable[[str], str]) -> str:
        return refusal_text(gettext, self.code).format(**self.params)


def urgency_label(_: Callable[[str], str], urgency: str) -> str:
    labels = {"critical": _("CRITICAL"), "high": _("HIGH"), "medium": _("MEDIUM"), "low": _("LOW")}
    return labels[urgency]


def refusal_text(_: Callable[[str], str], code: str) -> str:
    texts = {
        "empty_note": _("the note is empty; write NOTE <ref> and your text"),
        "closed": _("the case is {status}"),
        "taken": _("{who} has already accepted it"),
        "handover_owner": _("{who} accepted it; only they can pass it on"),
        "not_alerted": _("the case is not being alerted (it waits for the daily digest)"),
        "resolve_owner": _("{who} accepted it; they or a supervisor can resolve it"),
    }
    return texts[code]


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    action: Action
    ref: str
    reply: str
    case: Case | None = None


def callback_data(action: Action, ref: str) -> str:
    """``sj:ack:K7Q-4TD``: well under Telegram's 64-byte limit."""
    return f"{CALLBACK_PREFIX}:{action}:{ref}"


def parse_callback(data: str) -> tuple[Action, str] | None:
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != CALLBACK_PREFIX or parts[1] not in ("ack", "pass", "done"):
        return None
    ref = parse_ref(parts[2])
    if ref is None:
        return None
    action: Action = _CODES[parts[1].upper()]
    return action, ref


def actor(responder: Responder) -> str:
    return f"responder:{responder.id}"


def handle_responder_text(runtime: Runtime, responder: Responder, text: str) -> str:
    """A responder's SMS: a reply code, or help on the codes. Returns the reply text."""
    _ = translations("alerts", responder.language).gettext
    match = _TEXT.match(text)
    ref = parse_ref(match.group("ref")) if match else None
    if match is None or ref is None:
        return _(
            "Reply ACK <ref> to accept a case, PASS <ref> if you can't take it, "
            "DONE <ref> when it is resolved, NOTE <ref> <text> to add a note."
        )
    action = _CODES[match.group("code").upper()]
    note = match.group("rest").strip() or None
    return perform(runtime, responder, action, ref, note=note).reply


def perform(
    runtime: Runtime, responder: Responder, action: Action, ref: str, note: str | None = None
) -> ActionResult:
    _ = translations("alerts", responder.language).gettext
    roster = load_roster(runtime.redis)
    if roster is None or roster.responder(responder.id) is None:
        return ActionResult(False, action, ref, _("You are not a registered responder."))
    if runtime.store.get(ref) is None:
        return ActionResult(False, action, ref, _("No case {ref}.").format(ref=ref))
    try:
        case = _apply(runtime, responder, action, ref, note)
    except RefusedError as exc:
        english = exc.text(lambda text: text)
        runtime.store.append_audit(ref, actor(responder), f"refused:{action}", english)
        reason = exc.text(_)
        return ActionResult(
            False, action, ref, _("That did not work: {reason}.").format(reason=reason)
        )
    return ActionResult(True, action, ref, _done_reply(responder, action, ref), case)


def _apply(
    runtime: Runtime, responder: Responder, action: Action, ref: str, note: str | None
) -> Case:
    if action == "note":
        if not note:
            raise RefusedError("empty_note")
        runtime.store.append_audit(ref, actor(responder), "note", note[:MAX_NOTE_CHARS])
        return runtime.store.require(ref)
    if action == "ack":
        return _accept(runtime, responder, ref)
    if action == "pass":
        return _pass(runtime, responder, ref)
    return _resolve(runtime, responder, ref)


def _refuse_closed(case: Case) -> None:
    if not case.is_open:
        raise RefusedError("closed", status=case.status.value)


def _stopped(state: EscalationState | None) -> EscalationState | None:
    if state is None or not state.active:
        return state
    return state.model_copy(update={"phase": "stopped", "next_due": None, "next_job": None})


def _accept(runtime: Runtime, responder: Responder, ref: str) -> Case:
    store = runtime.store

    def change(
        case: Case, state: EscalationState | None
    ) -> tuple[Case, EscalationState | None, list[AuditEntry], list[Assignment]]:
        _refuse_closed(case)
        if case.status == Status.ACKNOWLEDGED:
            if case.assignee == responder.id:
                raise NoChangeError
            raise RefusedError("taken", who=case.assignee)
        now = store.clock()
        audit = []
        if case.status == Status.TRIAGED:
            audit.append(entry(store, actor(responder), "status:assigned", "took it unalerted"))
        audit.append(entry(store, actor(responder), "status:acknowledged", "accepted"))
        update = {"status": Status.ACKNOWLEDGED, "assignee": responder.id, "acknowledged_at": now}
        step = state.next_step if state else 0
        record = Assignment(responder=responder.id, at=now, step=step, outcome="acknowledged")
        return case.model_copy(update=update), _stopped(state), audit, [record]

    def observe(pipe: Pipeline, case: Case, _state: EscalationState | None) -> None:
        seconds = (store.clock() - case.created_at).total_seconds()
        metrics.observe(pipe, "time_to_acknowledge_seconds", max(0.0, seconds))

    case, _ = update_case(store, ref, change, observe)
    return case


def _pass(runtime: Runtime, responder: Responder, ref: str) -> Case:
    store = runtime.store

    def change(
        case: Case, state: EscalationState | None
    ) -> tuple[Case, EscalationState | None, list[AuditEntry], list[Assignment]]:
        _refuse_closed(case)
        if case.status == Status.ACKNOWLEDGED and case.assignee != responder.id:
            raise RefusedError("handover_owner", who=case.assignee)
        if state is None or state.phase not in ("active", "stopped"):
            raise RefusedError("not_alerted")
        if responder.id in state.passed and case.assignee != responder.id:
            raise NoChangeError
        now = store.clock()
        passed = tuple(dict.fromkeys((*state.passed, responder.id)))
        restart = not state.active
        new_state = state.model_copy(
            update={
                "passed": passed,
                "handovers": state.handovers + 1,
                # A case handed back after Accept escalates afresh from now.
                **(
                    {
                        "id": new_escalation_id(),
                        "phase": "active",
                        "started_at": now,
                        "next_step": 1,
                        "next_due": None,
                        "next_job": None,
                    }
                    if restart
                    else {}
                ),
            }
        )
        update: dict[str, object] = {}
        if case.assignee == responder.id:
            update["assignee"] = None
        if case.status == Status.ACKNOWLEDGED:
            update["status"] = Status.ASSIGNED
        audit = [entry(store, actor(responder), "passed", "can't take it; next in line alerted")]
        record = Assignment(responder=responder.id, at=now, step=state.next_step, outcome="passed")
        return case.model_copy(update=update), new_state, audit, [record]

    def queue_hand_over(pipe: Pipeline, case: Case, state: EscalationState | None) -> None:
        if state is None:
            return
        job_id = safe_job_id("handover", case.ref, state.id, state.handovers)
        enqueue(
            store.redis,
            HAND_OVER,
            case.ref,
            state.id,
            state.handovers,
            job_id=job_id,
            pipeline=pipe,
        )

    case, _ = update_case(store, ref, change, queue_hand_over)
    return case


def _resolve(runtime: Runtime, responder: Responder, ref: str) -> Case:
    store = runtime.store

    def change(
        case: Case, state: EscalationState | None
    ) -> tuple[Case, EscalationState | None, list[AuditEntry], list[Assignment]]:
        _refuse_closed(case)
        taken_by_other = case.status == Status.ACKNOWLEDGED and case.assignee != responder.id
        if taken_by_other and not responder.supervisor:
            raise RefusedError("resolve_owner", who=case.assignee)
        now = store.clock()
        update = {
            "status": Status.RESOLVED,
            "resolved_at": now,
            "assignee": case.assignee or responder.id,
        }
        audit = [entry(store, actor(responder), "status:resolved", "resolved")]
        record = Assignment(responder=responder.id, at=now, outcome="resolved")
        return case.model_copy(update=update), _stopped(state), audit, [record]

    case, _ = update_case(store, ref, change)
    return case


def _done_reply(responder: Responder, action: Action, ref: str) -> str:
    _ = translations("alerts", responder.language).gettext
    replies = {
        "ack": _("Case {ref} is yours. Escalation stopped. Reply DONE {ref} when it is resolved."),
        "pass": _("Case {ref}: passed on. The next responder in line is being alerted."),
        "done": _("Case {ref} is resolved. Thank you."),
        "note": _("Note added to case {ref}."),
    }
    return replies[action].format(ref=ref)
