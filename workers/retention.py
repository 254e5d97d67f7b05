"""Daily maintenance: erase old reporters' addresses and texts; send the medium digest.

Ticked hourly (bot.jobs.PERIODIC); each daily task runs once per date key, and only marks
its date done after it finished, so a worker killed mid-way has it redone next tick
(both tasks are idempotent: erasing twice is a no-op, digest sends dedupe per key).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot import keys
from bot.i18n import translations
from bot.models import OPEN_STATUSES, Case, Channel, Status
from bot.outbound import Outgoing, PermanentSendError, TransientSendError
from bot.responders import Responder, Roster, Via, contact, load_roster, on_call_for_rotation
from bot.runtime import Runtime
from workers import context

RETENTION_DONE = "sajag:maintenance:retention:{date}"
DIGEST_DONE = "sajag:maintenance:digest:{date}"
DONE_TTL = timedelta(days=3)
DIGEST_MAX_CASES = 40
PRIMARY = "primary"
MAX_CASES = 1_000_000


def _all_cases(rt: Runtime) -> list[Case]:
    refs = rt.store.refs(newest_first=False, limit=MAX_CASES)
    raws = rt.redis.mget([keys.case(r) for r in refs]) if refs else []
    return [Case.model_validate_json(raw) for raw in raws if raw]


# ------------------------------------------------------------------ retention
def erase_expired(rt: Runtime, now: datetime) -> list[str]:
    """Erase texts and addresses of cases closed more than SAJAG_RETENTION_DAYS ago; the
    anonymous facts (urgency, categories, region, times) stay for statistics."""
    cutoff = now - timedelta(days=rt.settings.retention_days)
    cases = _all_cases(rt)
    still_open = {c.reporter for c in cases if c.status in OPEN_STATUSES}
    erased = []
    for case in cases:
        closed = case.status in (Status.RESOLVED, Status.CLOSED_NO_ACTION)
        if case.erased or not closed or case.resolved_at is None or case.resolved_at > cutoff:
            continue
        if case.reporter not in still_open:
            rt.redis.delete(keys.address(case.channel.value, case.reporter))
        rt.redis.srem(keys.reporter_cases(case.reporter), case.ref)
        rt.store.erase_case_texts(
            case.ref,
            actor="retention",
            reason=f"closed more than {rt.settings.retention_days} days ago",
        )
        erased.append(case.ref)
    return erased


# ------------------------------------------------------------------ digest
def digest_recipients(roster: Roster, at: datetime) -> list[Responder]:
    rotation = roster.rotation(PRIMARY) or (roster.rotations[0] if roster.rotations else None)
    ids = on_call_for_rotation(roster, rotation, at) if rotation else []
    people = [r for i in ids if (r := roster.responder(i)) is not None]
    return people or roster.supervisors()


def render_digest(cases: list[Case], low_count: int, responder: Responder, now: datetime) -> str:
    _ = translations("alerts", responder.language).gettext
    lines = [_("Sajag daily digest: {count} open medium-urgency case(s).").format(count=len(cases))]
    for case in cases[:DIGEST_MAX_CASES]:
        days = (now - case.created_at).days
        lines.append(
            _("{ref}: {categories}, {days} day(s) old").format(
                ref=case.ref, categories=", ".join(case.categories) or "-", days=days
            )
        )
    if len(cases) > DIGEST_MAX_CASES:
        lines.append(_("…and {count} more.").format(count=len(cases) - DIGEST_MAX_CASES))
    lines.append(_("Low-urgency cases kept: {count}.").format(count=low_count))
    lines.append(_("Reply ACK <ref> to take a case."))
    return "\n".join(lines)


def send_digest(rt: Runtime, roster: Roster, now: datetime, date_key: str) -> int:
    open_cases = [c for c in _all_cases(rt) if c.status in (Status.TRIAGED, Status.ASSIGNED)]
    medium = sorted((c for c in open_cases if c.urgency == "medium"), key=lambda c: c.created_at)
    low_count = sum(1 for c in open_cases if c.urgency == "low")
    sent = 0
    for responder in digest_recipients(roster, now):
        via: Via = "telegram" if responder.has_telegram else "sms"
        address = contact(rt.privacy, responder, via)
        if address is None:
            continue
        message = Outgoing(
            channel=Channel.TELEGRAM if via == "telegram" else Channel.SMS,
            to=address,
            text=render_digest(medium, low_count, responder, now),
            label=responder.id,
            key=f"digest_{date_key}_{responder.id}_{via}",
            kind="digest",
        )
        try:
            rt.outbound.send(message)
        except PermanentSendError:
            continue
        sent += 1
    return sent


def digest_due(roster: Roster, now: datetime) -> str | None:
    """The local date whose digest is due now (past the digest time), or None."""
    at = roster.escalation.medium.digest
    if at is None:
        return None
    local = now.astimezone(roster.zone)
    return local.date().isoformat() if local.time() >= at else None


def maintain(rt: Runtime) -> dict[str, object]:
    now = context.now(rt)
    done: dict[str, object] = {}
    retention_key = RETENTION_DONE.format(date=now.date().isoformat())
    if not rt.redis.exists(retention_key):
        done["erased"] = erase_expired(rt, now)
        rt.redis.set(retention_key, "1", ex=DONE_TTL)
    roster = load_roster(rt.redis)
    date_key = digest_due(roster, now) if roster else None
    if roster and date_key and not rt.redis.exists(DIGEST_DONE.format(date=date_key)):
        try:
            done["digests"] = send_digest(rt, roster, now, date_key)
        except TransientSendError:
            return done  # the next hourly tick tries again
        rt.redis.set(DIGEST_DONE.format(date=date_key), "1", ex=DONE_TTL)
    return done


def daily_maintenance() -> dict[str, object]:
    """RQ job, ticked hourly (bot.jobs.PERIODIC)."""
    return maintain(context.runtime())
