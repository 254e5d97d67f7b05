"""Responder actions: reply codes, buttons, who may act, and what each action does."""

from __future__ import annotations

import pytest

from bot import keys
from bot.actions import callback_data, handle_responder_text, parse_callback, perform
from bot.i18n import translations
from bot.models import Status
from bot.oncall import load_escalation
from bot.responders import Responder, Roster
from bot.runtime import Runtime
from tests.workers.conftest import (
    Clock,
    alerted,
    run_until,
    submit,
    work,
)


def responder(roster: Roster, responder_id: str) -> Responder:
    found = roster.responder(responder_id)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("ACK {dash}", "ack"),
        ("pass {bare}", "pass"),
        ("Done {lower}", "done"),
        ("ack {lower}", "ack"),
    ],
)
def test_reply_codes_accept_any_spelling_of_the_ref(
    rt: Runtime, roster: Roster, text: str, action: str
) -> None:
    case = submit(rt)
    work(rt)
    ref = case.ref
    spelled = text.format(dash=ref, bare=ref.replace("-", ""), lower=ref.replace("-", "").lower())
    reply = handle_responder_text(rt, responder(roster, "asha"), spelled)
    view = rt.store.view(ref)
    assert view is not None
    assert ref in reply
    assert any(e.actor == "responder:asha" for e in view.audit)
    expected = {"ack": Status.ACKNOWLEDGED, "pass": Status.ASSIGNED, "done": Status.RESOLVED}
    assert view.case.status == expected[action]


def test_callback_data_round_trips_within_64_bytes() -> None:
    for action in ("ack", "pass", "done"):
        data = callback_data(action, "K7Q-4TD")  # type: ignore[arg-type]
        assert len(data.encode()) <= 64
        assert parse_callback(data) == (action, "K7Q-4TD")
    assert parse_callback("sj:ack:not-a-ref") is None
    assert parse_callback("other:ack:K7Q-4TD") is None


def test_unknown_text_gets_help_in_the_responders_language(rt: Runtime, roster: Roster) -> None:
    asha = responder(roster, "asha")  # writes Hindi first
    reply = handle_responder_text(rt, asha, "hello")
    english = (
        "Reply ACK <ref> to accept a case, PASS <ref> if you can't take it, "
        "DONE <ref> when it is resolved, NOTE <ref> <text> to add a note."
    )
    assert reply == translations("alerts", "hi").gettext(english)
    assert reply != english


def test_accept_halts_escalation(rt: Runtime, roster: Roster, clock: Clock) -> None:
    case = submit(rt)
    work(rt)
    clock.advance(minutes=1)
    result = perform(rt, responder(roster, "asha"), "ack", case.ref)
    assert result.ok
    assert result.case is not None
    assert result.case.status == Status.ACKNOWLEDGED
    assert result.case.acknowledged_at == clock()
    state = load_escalation(rt.redis, case.ref)
    assert state is not None
    assert state.phase == "stopped"
    run_until(rt, clock, hours=2)  # the old 3m job fires and does nothing
    assert alerted(rt, case.ref) == [("asha", "telegram"), ("asha", "sms")]
    hist = rt.redis.hgetall(keys.histogram("time_to_acknowledge_seconds"))
    assert hist[b"count"] == b"1"
    assert float(hist[b"sum"]) == 60.0


def test_second_accept_by_someone_else_is_refused_and_audited(rt: Runtime, roster: Roster) -> None:
    case = submit(rt)
    work(rt)
    assert perform(rt, responder(roster, "asha"), "ack", case.ref).ok
    late = perform(rt, responder(roster, "ravi"), "ack", case.ref)
    assert not late.ok
    assert rt.store.require(case.ref).assignee == "asha"
    view = rt.store.view(case.ref)
    assert view is not None
    assert view.audit[-1].actor == "responder:ravi"
    assert view.audit[-1].action == "refused:ack"


def test_cant_take_moves_to_the_next_in_line_at_once(
    rt: Runtime, roster: Roster, clock: Clock
) -> None:
    case = submit(rt)
    work(rt)
    result = perform(rt, responder(roster, "asha"), "pass", case.ref)
    assert result.ok
    work(rt)  # the hand-over job, no clock change
    assert rt.store.require(case.ref).assignee == "ravi"
    assert alerted(rt, case.ref)[2:] == [("ravi", "sms")]
    run_until(rt, clock, minutes=3)  # the 3m step: ravi again (step 1), asha passed
    assert alerted(rt, case.ref)[3:] == [("ravi", "sms")]
    run_until(rt, clock, minutes=7)  # 10m: supervisors and everyone on call, minus asha
    assert all(who != "asha" for who, _ in alerted(rt, case.ref)[2:])


def test_resolved_closes_and_stops(rt: Runtime, roster: Roster, clock: Clock) -> None:
    case = submit(rt)
    work(rt)
    result = perform(rt, responder(roster, "asha"), "done", case.ref)
    assert result.ok
    closed = rt.store.require(case.ref)
    assert closed.status == Status.RESOLVED
    assert closed.resolved_at == clock()
    assert rt.redis.scard("sajag:responder:asha:open") == 0
    run_until(rt, clock, hours=1)
    assert len(alerted(rt, case.ref)) == 2
    again = perform(rt, responder(roster, "asha"), "ack", case.ref)
    assert not again.ok


def test_note_is_added_to_the_audit(rt: Runtime, roster: Roster) -> None:
    case = submit(rt)
    work(rt)
    reply = handle_responder_text(
        rt, responder(roster, "ravi"), f"NOTE {case.ref.lower()} called the station"
    )
    view = rt.store.view(case.ref)
    assert view is not None
    assert view.audit[-1].action == "note"
    assert view.audit[-1].detail == "called the station"
    assert case.ref in reply


def test_only_registered_responders_can_act(rt: Runtime, roster: Roster) -> None:
    case = submit(rt)
    work(rt)
    stranger = responder(roster, "asha").model_copy(update={"id": "mallory"})
    result = perform(rt, stranger, "ack", case.ref)
    assert not result.ok
    assert rt.store.require(case.ref).status == Status.ASSIGNED


def test_unknown_case_is_refused(rt: Runtime, roster: Roster) -> None:
    result = perform(rt, responder(roster, "asha"), "ack", "K7Q-4TD")
    assert not result.ok
    assert "K7Q-4TD" in result.reply
