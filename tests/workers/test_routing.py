"""route_case: owner on call, language and region, fallbacks, the escalation chain."""

from __future__ import annotations

from datetime import UTC, datetime

from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from bot.i18n import translations
from bot.jobs import enqueue, get_queue
from bot.models import Channel, Status
from bot.oncall import load_escalation
from bot.outbound import Outgoing, PermanentSendError, SandboxTransport, TransientSendError
from bot.responders import Roster, parse_roster, store_roster
from bot.runtime import Runtime
from tests.workers.conftest import (
    EXAMPLE,
    REPORTER,
    Clock,
    alerted,
    alerts,
    move_due,
    run_until,
    submit,
    work,
)
from workers.routing import reconcile

BENGALI_TEXT = "১৪ বছরের মেয়েকে আজ রাতে বাসে করে নিয়ে যাচ্ছে, সাহায্য করুন"


def audit_actions(rt: Runtime, ref: str) -> list[str]:
    view = rt.store.view(ref)
    assert view is not None
    return [e.action for e in view.audit]


def test_escalation_chain_end_to_end(rt: Runtime, roster: Roster, clock: Clock) -> None:
    case = submit(rt)
    assert case.urgency == "critical"
    work(rt)
    assert alerted(rt, case.ref) == [("asha", "telegram"), ("asha", "sms")]
    routed = rt.store.require(case.ref)
    assert (routed.status, routed.assignee) == (Status.ASSIGNED, "asha")
    assert routed.first_alert_at == clock()
    run_until(rt, clock, minutes=2, seconds=59)
    assert len(alerted(rt, case.ref)) == 2
    run_until(rt, clock, seconds=1)
    assert alerted(rt, case.ref)[2:] == [("ravi", "sms")]  # ravi has no Telegram
    run_until(rt, clock, minutes=7)
    assert set(alerted(rt, case.ref)[3:]) == {
        ("farhan", "telegram"),
        ("farhan", "sms"),
        ("asha", "telegram"),
        ("asha", "sms"),
        ("ravi", "sms"),
    }
    assert len(alerted(rt, case.ref)) == 8
    run_until(rt, clock, minutes=9, seconds=59)
    assert len(alerted(rt, case.ref)) == 8
    run_until(rt, clock, seconds=1)  # 20 min: the last step's people again
    assert set(alerted(rt, case.ref)[8:]) == {
        ("asha", "telegram"),
        ("asha", "sms"),
        ("ravi", "sms"),
    }
    run_until(rt, clock, minutes=10)
    assert len(alerted(rt, case.ref)) == 14
    state = load_escalation(rt.redis, case.ref)
    assert state is not None
    assert state.active
    assert state.next_step == 6


def test_high_case_stops_after_last_step(rt: Runtime, roster: Roster, clock: Clock) -> None:
    case = submit(rt, "a girl is being taken somewhere, help")
    if case.urgency != "high":
        rt.store.update(case.ref, lambda c: (c.model_copy(update={"urgency": "high"}), []))
    work(rt)
    run_until(rt, clock, minutes=30)
    run_until(rt, clock, hours=3)
    state = load_escalation(rt.redis, case.ref)
    assert state is not None
    assert state.phase == "finished"
    assert alerted(rt, case.ref) == [("asha", "telegram"), ("ravi", "sms")]


def test_nobody_on_call_falls_to_supervisor(rt: Runtime, roster: Roster, clock: Clock) -> None:
    clock.now = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)  # before the rotations start
    case = submit(rt)
    work(rt)
    assert rt.store.require(case.ref).assignee == "farhan"
    assert alerted(rt, case.ref) == [("farhan", "telegram"), ("farhan", "sms")]
    assert any("supervisor" in e.detail for e in rt.store.view(case.ref).audit)  # type: ignore[union-attr]


def test_language_speaker_on_call_is_preferred(rt: Runtime, roster: Roster, clock: Clock) -> None:
    clock.now = datetime(2026, 11, 2, 14, 31, tzinfo=UTC)  # mitali primary, ravi secondary
    case = submit(rt, "ek ladki ko bus se le ja rahe hain abhi, madad", language="hi")
    work(rt)
    assert rt.store.require(case.ref).assignee == "ravi"


def test_language_mismatch_still_alerts_someone_on_call(
    rt: Runtime, roster: Roster, clock: Clock
) -> None:
    case = submit(rt, BENGALI_TEXT, language="bn")  # mitali (bn) is off duty
    work(rt)
    assert rt.store.require(case.ref).assignee == "asha"
    texts = [str(e["text"]) for e in alerts(rt, case.ref)]
    assert texts
    flag = translations("alerts", "hi").gettext(
        "Language: {lang}. You may not speak it: nobody on call who does was free."
    )
    assert flag != "Language: {lang}. You may not speak it: nobody on call who does was free."
    assert all(flag.format(lang="bn") in t for t in texts)  # in asha's language, Hindi
    assert any("language mismatch" in e.detail for e in rt.store.view(case.ref).audit)  # type: ignore[union-attr]


def test_fewest_open_cases_wins_within_a_rotation(rt: Runtime, clock: Clock) -> None:
    text = EXAMPLE.read_text().replace(
        "[[overrides]]",
        '[[overrides]]\nrotation = "primary"\nresponder = "asha"\n'
        'start = "2026-11-01T00:00"\nend = "2026-11-03T00:00"\n\n'
        '[[overrides]]\nrotation = "primary"\nresponder = "farhan"\n'
        'start = "2026-11-01T00:00"\nend = "2026-11-03T00:00"\n\n[[overrides]]',
        1,
    )
    store_roster(rt.redis, rt.privacy, parse_roster(text), clock())
    first = submit(rt, address="+919800000001")
    work(rt)
    second = submit(rt, address="+919800000002")
    work(rt)
    owners = {rt.store.require(first.ref).assignee, rt.store.require(second.ref).assignee}
    assert owners == {"asha", "farhan"}


def test_no_responders_is_audited_and_reconciled_after_import(rt: Runtime, clock: Clock) -> None:
    case = submit(rt)
    work(rt)
    assert get_queue(rt.redis).failed_job_registry.count == 0
    assert "not_routed" in audit_actions(rt, case.ref)
    assert alerts(rt) == []
    store_roster(rt.redis, rt.privacy, parse_roster(EXAMPLE.read_text()), clock())
    clock.advance(minutes=1)
    assert reconcile(rt)["rerouted"] == 1
    work(rt)
    assert alerted(rt, case.ref)[0] == ("asha", "telegram")


def test_medium_and_low_cases_are_queued_without_alert(rt: Runtime, roster: Roster) -> None:
    for urgency in ("medium", "low"):
        case = submit(rt, f"something odd {urgency}", address=f"+91980000{len(urgency)}111")
        rt.store.update(case.ref, lambda c, u=urgency: (c.model_copy(update={"urgency": u}), []))
        work(rt)
        enqueue(rt.redis, "workers.routing.route_case", case.ref, job_id=f"again_{urgency}")
        work(rt)
        assert audit_actions(rt, case.ref).count("queued") == 1
        assert rt.store.require(case.ref).status == Status.TRIAGED
    assert alerts(rt) == []


def test_duplicate_job_runs_send_nothing_twice(rt: Runtime, roster: Roster, clock: Clock) -> None:
    case = submit(rt)
    for n in range(3):
        enqueue(rt.redis, "workers.routing.route_case", case.ref, job_id=f"dup_route_{n}")
    work(rt)
    state = load_escalation(rt.redis, case.ref)
    assert state is not None
    for n in range(3):
        enqueue(rt.redis, "workers.escalation.escalate", case.ref, state.id, job_id=f"dup_esc_{n}")
    work(rt)
    assert len(alerts(rt, case.ref)) == 2
    run_until(rt, clock, minutes=3)
    for n in range(3):
        enqueue(rt.redis, "workers.escalation.escalate", case.ref, state.id, job_id=f"dup_b_{n}")
    work(rt)
    assert alerted(rt, case.ref) == [("asha", "telegram"), ("asha", "sms"), ("ravi", "sms")]


def test_deleted_scheduled_escalation_is_recreated(
    rt: Runtime, roster: Roster, clock: Clock
) -> None:
    case = submit(rt)
    work(rt)
    registry = ScheduledJobRegistry(queue=get_queue(rt.redis))
    job_ids = registry.get_job_ids()
    assert len(job_ids) == 1
    registry.remove(
        Job.fetch(job_ids[0], connection=rt.redis, serializer=JSONSerializer), delete_job=True
    )
    clock.advance(seconds=30)
    assert reconcile(rt)["rescheduled"] == 1
    assert reconcile(rt)["rescheduled"] == 0  # live again: nothing more to do
    run_until(rt, clock, minutes=2, seconds=30)
    assert alerted(rt, case.ref)[2:] == [("ravi", "sms")]
    assert "rescheduled" in audit_actions(rt, case.ref)


def test_raised_urgency_escalates_without_repeating_alerts(
    rt: Runtime, roster: Roster, clock: Clock
) -> None:
    case = submit(rt, "I saw a girl with a man", address=REPORTER)
    rt.store.update(case.ref, lambda c: (c.model_copy(update={"urgency": "high"}), []))
    work(rt)
    assert alerted(rt, case.ref) == [("asha", "telegram")]
    clock.advance(minutes=5)
    raised = submit(rt, "she is 12, they are taking her by train tonight, help", address=REPORTER)
    assert raised.ref == case.ref
    assert raised.urgency == "critical"
    work(rt)
    # Critical's 0s and 3m steps are due (5 min since the first alert); asha's Telegram
    # alert was already sent for step 0 and is not repeated.
    assert alerted(rt, case.ref) == [("asha", "telegram"), ("asha", "sms"), ("ravi", "sms")]


class FlakyTelegram:
    name = "flaky"

    def __init__(self, inner: SandboxTransport, failures: int, retry_after: float) -> None:
        self.inner, self.failures, self.retry_after = inner, failures, retry_after

    def send(self, message: Outgoing) -> str:
        if self.failures:
            self.failures -= 1
            raise TransientSendError("429 Too Many Requests", retry_after=self.retry_after)
        return self.inner.send(message)


class BlockedTelegram:
    name = "blocked"

    def send(self, message: Outgoing) -> str:
        raise PermanentSendError("403 bot was blocked by the user")


def test_transient_error_retried_not_before_retry_after(
    rt: Runtime, roster: Roster, clock: Clock
) -> None:
    sandbox = SandboxTransport(rt.redis, clock)
    rt.outbound.transports[Channel.TELEGRAM] = FlakyTelegram(sandbox, 1, retry_after=40)
    case = submit(rt)
    work(rt)
    assert alerted(rt, case.ref) == [("asha", "sms")]
    run_until(rt, clock, seconds=39)
    assert alerted(rt, case.ref) == [("asha", "sms")]
    run_until(rt, clock, seconds=1)
    assert alerted(rt, case.ref) == [("asha", "sms"), ("asha", "telegram")]
    assert "alert_retry" in audit_actions(rt, case.ref)


def test_permanent_error_falls_to_the_next_channel(
    rt: Runtime, roster: Roster, clock: Clock
) -> None:
    rt.outbound.transports[Channel.TELEGRAM] = BlockedTelegram()
    case = submit(rt, "I saw a girl with a man")
    rt.store.update(case.ref, lambda c: (c.model_copy(update={"urgency": "high"}), []))
    work(rt)  # high: primary by Telegram only; asha blocked the bot
    assert alerted(rt, case.ref) == [("asha", "sms")]
    assert "alert_failed" in audit_actions(rt, case.ref)


def test_alerts_never_carry_the_reporter_address(rt: Runtime, roster: Roster) -> None:
    case = submit(
        rt, "a 14 year old girl is being taken by bus tonight, call me on +91 98000 12345, help"
    )
    work(rt)
    run_until(rt, Clock(rt.store.clock()), minutes=0)
    entries = alerts(rt, case.ref)
    assert entries
    pseudonym = rt.privacy.pseudonym("sms", REPORTER)
    for e in entries:
        text = str(e)
        digits = "".join(ch for ch in text if ch.isdigit())
        assert "9800012345" not in digits
        assert pseudonym not in text
        assert "14" in str(e["text"])  # the extracted age is there
    assert move_due(rt, Clock(rt.store.clock())) == 0
