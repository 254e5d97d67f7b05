"""Daily maintenance: retention erases texts and addresses, keeps facts; the digest."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import keys
from bot.actions import perform
from bot.models import Status
from bot.outbound import read_outbox
from bot.responders import Roster
from bot.runtime import Runtime
from tests.workers.conftest import REPORTER, Clock, submit, work
from workers.retention import maintain


def resolve(rt: Runtime, roster: Roster, ref: str) -> None:
    farhan = roster.responder("farhan")
    assert farhan is not None
    assert perform(rt, farhan, "done", ref).ok


def test_retention_erases_old_closed_cases_only(rt: Runtime, roster: Roster, clock: Clock) -> None:
    old = submit(rt)
    work(rt)
    resolve(rt, roster, old.ref)
    clock.advance(days=rt.settings.retention_days - 1)
    recent = submit(rt, "they took a boy from the station", address="+919800099999")
    work(rt)
    resolve(rt, roster, recent.ref)
    still_open = submit(rt, "a girl was sold, help", address="+919800077777")
    clock.advance(days=1, seconds=1)
    done = maintain(rt)
    assert done["erased"] == [old.ref]
    erased = rt.store.view(old.ref)
    assert erased is not None
    assert erased.case.erased
    assert all(m.text == "" and m.erased for m in erased.messages)
    assert erased.case.urgency == "critical"
    assert erased.case.signals  # the anonymous facts stay
    assert erased.case.created_at == old.created_at
    assert rt.redis.get(keys.address("sms", rt.privacy.pseudonym("sms", REPORTER))) is None
    kept = rt.store.view(recent.ref)
    assert kept is not None
    assert kept.messages[0].text
    assert rt.store.require(still_open.ref).status != Status.RESOLVED
    assert "erased" not in maintain(rt)  # once per date


def test_medium_digest_goes_to_primary_once_a_day(
    rt: Runtime, roster: Roster, clock: Clock
) -> None:
    medium = submit(rt, "a neighbour's daughter stopped going to school")
    rt.store.update(medium.ref, lambda c: (c.model_copy(update={"urgency": "medium"}), []))
    work(rt)
    clock.now = datetime(2026, 11, 3, 3, 0, tzinfo=UTC)  # 08:30 IST: digest not yet due
    maintain(rt)
    assert [e for e in read_outbox(rt.redis) if e["kind"] == "digest"] == []
    clock.advance(minutes=40)  # 09:10 IST; ravi holds primary (third 12h shift)
    assert maintain(rt)["digests"] == 1
    clock.advance(hours=1)
    maintain(rt)
    digests = [e for e in read_outbox(rt.redis) if e["kind"] == "digest"]
    assert len(digests) == 1
    assert digests[0]["to"] == "ravi"
    assert medium.ref in str(digests[0]["text"])
