"""CaseStore against a real Redis: idempotent intake, lifecycle, priority queue."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import redis

from bot import keys
from bot.jobs import get_queue
from bot.models import Channel, IllegalTransitionError, Status, parse_ref
from bot.runtime import Runtime
from bot.store import CaseNotFoundError

KILN = "a boy of about 11 works at the brick kiln near our village every day, he is not paid"
NOW = "they are putting two small girls on the night bus to Mumbai right now, please help"
PHONE = "+919800000001"


def submit(runtime: Runtime, text: str, sid: str, address: str = PHONE):
    return runtime.intake.submit(channel=Channel.SMS, address=address, text=text, message_id=sid)


def test_first_message_creates_a_triaged_case_and_queues_routing(runtime: Runtime) -> None:
    intake = submit(runtime, NOW, "SM001")
    case = intake.case
    assert intake.event == "created"
    assert not intake.duplicate
    assert parse_ref(case.ref) == case.ref
    assert case.status is Status.TRIAGED
    assert case.urgency == "critical"
    assert case.signals, "a critical case must say why"
    assert get_queue(runtime.redis).job_ids == [f"route_{case.ref}_1"]
    audit = [e.action for e in runtime.store.view(case.ref).audit]
    assert audit[:2] == ["created", "triaged"]


def test_fifty_concurrent_duplicate_deliveries_make_exactly_one_case(runtime: Runtime) -> None:
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda _: submit(runtime, KILN, "SM-DUP"), range(50)))
    refs = {r.case.ref for r in results}
    assert len(refs) == 1
    assert sum(not r.duplicate for r in results) == 1
    (ref,) = refs
    assert len(runtime.store.messages(ref)) == 1
    assert runtime.redis.zcard(keys.CASES_ALL) == 1
    assert len(get_queue(runtime.redis).job_ids) == 1


def test_sequential_duplicate_returns_the_same_case(runtime: Runtime) -> None:
    first = submit(runtime, KILN, "SM002")
    again = submit(runtime, KILN, "SM002")
    assert again.duplicate
    assert again.case.ref == first.case.ref
    assert len(runtime.store.messages(first.case.ref)) == 1


def test_messages_in_the_window_join_the_case_and_urgency_only_rises(runtime: Runtime) -> None:
    first = submit(runtime, NOW, "SM010")
    assert first.case.urgency == "critical"
    second = submit(runtime, "thank you", "SM011")
    assert second.case.ref == first.case.ref
    assert second.event == "joined"
    assert second.case.urgency == "critical", "urgency must never silently fall"
    assert second.case.message_count == 2


def test_urgency_rises_with_a_new_message_and_routing_is_queued_again(runtime: Runtime) -> None:
    first = submit(runtime, KILN, "SM020")
    assert first.case.urgency in ("high", "medium")
    second = submit(runtime, "they are taking him away on the train right now", "SM021")
    assert second.case.ref == first.case.ref
    assert second.event == "urgency_raised"
    assert second.case.urgency == "critical"
    jobs = get_queue(runtime.redis).job_ids
    assert f"route_{first.case.ref}_2" in jobs


def test_another_reporter_gets_another_case(runtime: Runtime) -> None:
    a = submit(runtime, KILN, "SM030", address="+919800000002")
    b = submit(runtime, KILN, "SM031", address="+919800000003")
    assert a.case.ref != b.case.ref


def test_legal_transitions_and_audit(runtime: Runtime) -> None:
    ref = submit(runtime, KILN, "SM040").case.ref
    store = runtime.store
    store.transition(ref, Status.ASSIGNED, actor="system", changes={"assignee": "asha"})
    store.transition(ref, Status.ACKNOWLEDGED, actor="responder:asha")
    case = store.transition(ref, Status.RESOLVED, actor="responder:asha", detail="child rescued")
    assert case.status is Status.RESOLVED
    assert case.acknowledged_at is not None and case.resolved_at is not None
    assert ref not in store.open_queue()
    actions = [e.action for e in store.view(ref).audit]
    assert actions[-3:] == ["status:assigned", "status:acknowledged", "status:resolved"]


def test_illegal_transition_is_refused_with_a_clear_error(runtime: Runtime) -> None:
    ref = submit(runtime, KILN, "SM050").case.ref
    runtime.store.transition(ref, Status.CLOSED_NO_ACTION, actor="cli")
    with pytest.raises(
        IllegalTransitionError, match=r"closed_no_action; it cannot become acknowledged"
    ):
        runtime.store.transition(ref, Status.ACKNOWLEDGED, actor="responder:asha")
    assert runtime.store.require(ref).status is Status.CLOSED_NO_ACTION


def test_concurrent_acknowledgements_only_one_wins(runtime: Runtime) -> None:
    ref = submit(runtime, KILN, "SM060").case.ref
    runtime.store.transition(ref, Status.ASSIGNED, actor="system")

    def ack(i: int) -> bool:
        try:
            runtime.store.transition(ref, Status.ACKNOWLEDGED, actor=f"responder:{i}")
        except IllegalTransitionError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=20) as pool:
        wins = sum(pool.map(ack, range(20)))
    assert wins == 1
    acks = [e for e in runtime.store.view(ref).audit if e.action == "status:acknowledged"]
    assert len(acks) == 1


def test_unknown_case_says_how_to_find_one(runtime: Runtime) -> None:
    with pytest.raises(CaseNotFoundError, match="sajag cases list"):
        runtime.store.transition("AAA-AAA", Status.ASSIGNED, actor="system")


def test_open_queue_orders_by_urgency_then_age(runtime: Runtime) -> None:
    t0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    texts = [
        (KILN, "+919800000011"),
        (NOW, "+919800000012"),
        (KILN, "+919800000013"),
        (NOW, "+919800000014"),
    ]
    refs = []
    for i, (text, phone) in enumerate(texts):
        intake = runtime.intake.submit(
            channel=Channel.SMS,
            address=phone,
            text=text,
            message_id=f"SMQ{i}",
            received_at=t0 + timedelta(minutes=i),
        )
        refs.append((intake.case.urgency, intake.case.ref))
    queue = runtime.store.open_queue()
    criticals = [r for u, r in refs if u == "critical"]
    others = [r for u, r in refs if u != "critical"]
    assert queue[: len(criticals)] == criticals
    assert queue[len(criticals) :] == others


def test_redis_full_refuses_intake_and_evicts_nothing(
    runtime: Runtime, redis_client: redis.Redis
) -> None:
    ref = submit(runtime, KILN, "SM070").case.ref
    used = int(redis_client.info("memory")["used_memory"])
    redis_client.config_set("maxmemory", used + 1024)
    try:

        def flood() -> None:
            for i in range(200):
                submit(runtime, KILN + " " + "x" * 2000, f"SM-OOM-{i}", address=f"+91980000{i:04d}")

        with pytest.raises(redis.ResponseError, match="OOM"):
            flood()
    finally:
        redis_client.config_set("maxmemory", 0)
    assert runtime.store.require(ref).ref == ref
    assert len(runtime.store.messages(ref)) == 1


def test_a_delivery_repeated_after_the_conversation_window_is_still_a_duplicate(
    runtime: Runtime, redis_client: redis.Redis
) -> None:
    first = submit(runtime, KILN, "SM080")
    redis_client.delete(keys.conversation("sms", first.case.reporter))  # window over
    assert redis_client.ttl(keys.seen("sms", "SM080")) > 6 * 86400
    again = submit(runtime, KILN, "SM080")
    assert again.duplicate and again.case.ref == first.case.ref
    assert redis_client.zcard(keys.CASES_ALL) == 1
