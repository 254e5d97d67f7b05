"""Alerts to responders: written in their language, sent once per (case, responder, step,
channel), retried on transient errors (never before the provider's ``retry_after``).

An alert carries what a responder needs to act: reference, urgency, categories, why
(the triage signals and the words that matched), the text, and the age/place/time
triage extracted. Never the reporter's address or pseudonym; a reporter's own number
typed into a message is masked too.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

import regex

from bot import metrics
from bot.actions import callback_data, urgency_label
from bot.i18n import translations
from bot.jobs import safe_job_id
from bot.models import Assignment, AuditEntry, Case, Channel, Message
from bot.oncall import EscalationState, NoChangeError, load_escalation, needs_alerting, update_case
from bot.outbound import Button, Outgoing, PermanentSendError, TransientSendError
from bot.responders import Responder, Roster, Via, contact, load_roster
from bot.runtime import Runtime
from workers import context

log = logging.getLogger(__name__)

SEND_ALERT = "workers.alerts.send_alert"
MAX_SEND_ATTEMPTS = 6
BACKOFF_SECONDS = (5, 15, 60, 180, 600, 1800)
SMS_TEXT_CHARS = 480
TELEGRAM_TEXT_CHARS = 3000
# Fault injection for the SIGKILL tests: a pause before each send, in a real worker.
DELAY_ENV = "SAJAG_TEST_ALERT_DELAY_SECONDS"

_NUMBER_LIKE = regex.compile(r"\+?\d[\d \-().]{4,}\d")
DeliveryOutcome = Literal["sent", "pending", "failed"]


def alert_key(ref: str, responder: str, step: str, channel: str) -> str:
    return safe_job_id("alert", ref, responder, step, channel)


def mask_address(text: str, address: str | None) -> str:
    """Remove the reporter's own number (or chat id) wherever they typed it."""
    digits = "".join(ch for ch in address or "" if ch.isdigit())
    if len(digits) < 6:
        return text
    tail = digits[-9:]

    def replace(match: regex.Match[str]) -> str:
        found = "".join(ch for ch in match.group(0) if ch.isdigit())
        same = found.endswith(tail) or (len(found) >= 6 and digits.endswith(found))
        return "[…]" if same else match.group(0)

    return _NUMBER_LIKE.sub(replace, text)


def _why(case: Case) -> str:
    return "; ".join(
        f"{s.rule} ({', '.join(s.matched)})" if s.matched else s.rule for s in case.signals[:8]
    )


def _facts(case: Case, lang: str) -> list[str]:
    _ = translations("alerts", lang).gettext
    labels = {
        "ages": _("Age"),
        "places": _("Place"),
        "times": _("Time"),
        "transport": _("Transport"),
    }
    lines = []
    for field, label in labels.items():
        values = case.facts.get(field) or []
        if values:
            lines.append(f"{label}: {', '.join(str(v) for v in values)}")
    return lines


def render_alert(
    case: Case,
    messages: Sequence[Message],
    responder: Responder,
    via: Via,
    reporter_address: str | None,
) -> str:
    lang = responder.language
    _ = translations("alerts", lang).gettext
    lines = [
        _("Sajag case {ref}: {urgency}").format(
            ref=case.ref, urgency=urgency_label(_, case.urgency)
        ),
        _("Categories: {categories}").format(categories=", ".join(case.categories) or "-"),
        _("Why: {signals}").format(signals=_why(case) or "-"),
        *_facts(case, lang),
    ]
    if case.language and not responder.speaks(case.language):
        lines.append(
            _("Language: {lang}. You may not speak it: nobody on call who does was free.").format(
                lang=case.language
            )
        )
    text = "\n".join(m.text for m in messages if m.text and not m.erased)
    budget = SMS_TEXT_CHARS if via == "sms" else TELEGRAM_TEXT_CHARS
    text = mask_address(text, reporter_address)
    if len(text) > budget:
        text = text[:budget] + "…"
    if text:
        lines.append(_("Message: {text}").format(text=text))
    if case.media_count:
        lines.append(
            _("{count} photo(s) or file(s) sent, not downloaded.").format(count=case.media_count)
        )
    if via == "sms":
        lines.append(
            _(
                "Reply ACK {ref} to accept, PASS {ref} if you can't take it, "
                "DONE {ref} when resolved."
            ).format(ref=case.ref)
        )
    return "\n".join(lines)


def alert_buttons(case: Case, responder: Responder) -> tuple[Button, ...]:
    _ = translations("alerts", responder.language).gettext
    return (
        Button(_("Accept"), callback_data("ack", case.ref)),
        Button(_("Can't take"), callback_data("pass", case.ref)),
        Button(_("Resolved"), callback_data("done", case.ref)),
    )


def reporter_address(rt: Runtime, case: Case) -> str | None:
    token = rt.store.encrypted_address(case.channel.value, case.reporter)
    return rt.privacy.decrypt(token) if token else None


def channels_for(responder: Responder, via: Sequence[Via]) -> tuple[list[Via], list[Via]]:
    """The channels asked for that the responder has, then their other ones as fallback."""
    available: list[Via] = [v for v in ("telegram", "sms") if contact_known(responder, v)]
    preferred = [v for v in via if v in available]
    return preferred, [v for v in available if v not in preferred]


def contact_known(responder: Responder, via: Via) -> bool:
    return responder.has_telegram if via == "telegram" else responder.has_phone


def deliver(
    rt: Runtime, case: Case, responder: Responder, step: str, via: Sequence[Via], escalation_id: str
) -> DeliveryOutcome:
    """Alert one responder for one step on each requested channel; fall back to their other
    channels only if every requested one failed for good."""
    preferred, fallback = channels_for(responder, via)
    outcomes = [send_one(rt, case, responder, step, ch, escalation_id, 0) for ch in preferred]
    if "sent" not in outcomes and "pending" not in outcomes:
        for channel in fallback:
            outcomes.append(send_one(rt, case, responder, step, channel, escalation_id, 0))
            if outcomes[-1] != "failed":
                break
    if "sent" not in outcomes:
        return "pending" if "pending" in outcomes else "failed"
    if case.first_alert_at is None:
        record_first_alert(rt, case.ref)
    return "sent"


def send_one(
    rt: Runtime,
    case: Case,
    responder: Responder,
    step: str,
    via: Via,
    escalation_id: str,
    attempt: int,
) -> DeliveryOutcome:
    address = contact(rt.privacy, responder, via)
    if address is None:
        return "failed"
    messages = rt.store.messages(case.ref)
    text = render_alert(case, messages, responder, via, reporter_address(rt, case))
    channel = Channel.TELEGRAM if via == "telegram" else Channel.SMS
    outgoing = Outgoing(
        channel=channel,
        to=address,
        text=text,
        label=responder.id,
        key=alert_key(case.ref, responder.id, step, via),
        case_ref=case.ref,
        kind="alert",
        buttons=alert_buttons(case, responder) if via == "telegram" else (),
    )
    _fault_delay()
    try:
        result = rt.outbound.send(outgoing)
    except TransientSendError as exc:
        return _retry_later(rt, case, responder, step, via, escalation_id, attempt, exc)
    except PermanentSendError as exc:
        rt.store.append_audit(
            case.ref, "routing", "alert_failed", f"{responder.id} by {via}: {exc}; not retried"
        )
        return "failed"
    if result.status == "sent":
        rt.store.append_audit(
            case.ref, "routing", "alerted", f"{responder.id} by {via}, step {step}"
        )
    return "sent"


def _fault_delay() -> None:
    delay = os.environ.get(DELAY_ENV)
    if delay:
        time.sleep(float(delay))


def _retry_later(
    rt: Runtime,
    case: Case,
    responder: Responder,
    step: str,
    via: Via,
    escalation_id: str,
    attempt: int,
    exc: TransientSendError,
) -> DeliveryOutcome:
    if attempt + 1 >= MAX_SEND_ATTEMPTS:
        rt.store.append_audit(
            case.ref,
            "routing",
            "alert_failed",
            f"{responder.id} by {via}: gave up after {MAX_SEND_ATTEMPTS} attempts ({exc})",
        )
        return "failed"
    backoff = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
    wait = max(float(backoff), float(exc.retry_after or 0))
    due = context.now(rt) + timedelta(seconds=wait)
    job_id = safe_job_id("sendalert", case.ref, responder.id, step, via, attempt + 1)
    context.schedule(
        rt,
        due,
        SEND_ALERT,
        case.ref,
        responder.id,
        step,
        via,
        escalation_id,
        attempt + 1,
        job_id=job_id,
    )
    rt.store.append_audit(
        case.ref, "routing", "alert_retry", f"{responder.id} by {via} in {wait:g}s ({exc})"
    )
    return "pending"


def record_first_alert(rt: Runtime, ref: str) -> None:
    """Stamp the case's first alert and observe time-to-first-alert, once."""
    store = rt.store

    def change(
        case: Case, state: EscalationState | None
    ) -> tuple[Case, EscalationState | None, list[AuditEntry], list[Assignment]]:
        if case.first_alert_at is not None:
            raise NoChangeError
        return case.model_copy(update={"first_alert_at": store.clock()}), None, [], []

    def observe(pipe: object, case: Case, _state: EscalationState | None) -> None:
        seconds = (store.clock() - case.created_at).total_seconds()
        metrics.observe(pipe, "time_to_first_alert_seconds", max(0.0, seconds))  # type: ignore[arg-type]

    update_case(store, ref, change, observe)


def live_escalation(
    rt: Runtime, ref: str, escalation_id: str
) -> tuple[Case, EscalationState, Roster] | None:
    """The case, its escalation and the roster, while that escalation is the current,
    active one of a case that still needs alerting; else None (the job is stale)."""
    case = rt.store.get(ref)
    state = load_escalation(rt.redis, ref)
    roster = load_roster(rt.redis)
    if case is None or roster is None or not needs_alerting(case):
        return None
    if state is None or state.id != escalation_id or not state.active:
        return None
    return case, state, roster


def retry_send(
    rt: Runtime, ref: str, responder_id: str, step: str, via: Via, escalation_id: str, attempt: int
) -> DeliveryOutcome | None:
    """A scheduled retry: only while the escalation it belongs to still wants it."""
    live = live_escalation(rt, ref, escalation_id)
    if live is None:
        return None
    case, _, roster = live
    responder = roster.responder(responder_id)
    if responder is None:
        return None
    outcome = send_one(rt, case, responder, step, via, escalation_id, attempt)
    if outcome == "sent" and case.first_alert_at is None:
        record_first_alert(rt, case.ref)
    return outcome


def send_alert(
    ref: str, responder_id: str, step: str, via: Via, escalation_id: str, attempt: int = 0
) -> str:
    """RQ job: (re)send one alert."""
    outcome = retry_send(context.runtime(), ref, responder_id, step, via, escalation_id, attempt)
    return outcome or "stale"
