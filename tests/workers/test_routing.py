"""route_case: owner on call, language and region, fallbacks, the escalation chain."""

from __future__ import annotations

from bot.models import Status
from bot.oncall import load_escalation
from bot.responders import Roster
from bot.runtime import Runtime

from tests.workers.conftest import Clock, alerted, run_until, submit, work


def test_critical_case_alerts_primary_at_once_then_escalates(
    rt: Runtime, roster: Roster, clock: Clock
) -> None:
    case = submit(rt)
    work(rt)
    assert alerted(rt, case.ref) == [("asha", "telegram"), ("asha", "sms")]
    routed = rt.store.require(case.ref)
    assert routed.status == Status.ASSIGNED
    assert routed.assignee == "asha"
    run_until(rt, clock, minutes=2, seconds=59)
    assert len(alerted(rt, case.ref)) == 2
    run_until(rt, clock, seconds=1)
    assert alerted(rt, case.ref)[2:] == [("ravi", "sms")]
    run_until(rt, clock, minutes=7)
    after_ten = alerted(rt, case.ref)[3:]
    assert ("farhan", "telegram") in after_ten
    assert ("farhan", "sms") in after_ten
    run_until(rt, clock, minutes=10)
    print(alerted(rt, case.ref))
    print(load_escalation(rt.redis, case.ref))
