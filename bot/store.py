"""CaseStore: reports become cases in Redis, with atomic (WATCH/MULTI/EXEC) writes.

Intake is idempotent on the channel's message id: a retried webhook finds the ``seen``
key written in the same transaction as the case and gets the same case back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import redis
from redis.client import Pipeline

from bot import keys
from bot.models import (
    ALLOWED_TRANSITIONS,
    OPEN_STATUSES,
    Assignment,
    AuditEntry,
    Case,
    CaseView,
    IllegalTransitionError,
    Message,
    Report,
    Signal,
    Status,
    higher_urgency,
    new_ref,
    utcnow,
)

log = logging.getLogger(__name__)

# How long a channel message id is remembered for deduplication. Twilio and Telegram
# retry within minutes to hours; a week is ample and bounds memory.
SEEN_TTL = timedelta(days=7)
MAX_WATCH_RETRIES = 50

IntakeEvent = Literal["created", "joined", "urgency_raised"]


class Verdict(Protocol):
    """What the store needs of a triage assessment (``triage.Assessment`` fits)."""

    def to_dict(self) -> dict[str, Any]: ...


AssessFn = Callable[[Sequence[str], str | None], Verdict]
CommitHook = Callable[[Pipeline, Case, IntakeEvent], None]
UpdateHook = Callable[[Pipeline, Case], None]


class CaseNotFoundError(LookupError):
    def __init__(self, ref: str) -> None:
        super().__init__(
            f"no case {ref}; check the reference (e.g. K7Q-4TD) with 'sajag cases list'"
        )
        self.ref = ref


class StoreBusyError(RuntimeError):
    """Too many concurrent writers on one case; the caller should answer 'try again'."""


@dataclass(frozen=True)
class Intake:
    case: Case
    message_id: str
    duplicate: bool
    event: IntakeEvent | None
    previous_urgency: str | None = None


def _dump(model: Any) -> str:
    return str(model.model_dump_json())


def _decode(raw: object) -> str | None:
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _text(raw: object) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class CaseStore:
    def __init__(self, client: redis.Redis, clock: Callable[[], datetime] = utcnow) -> None:
        self.redis = client
        self.clock = clock

    # ---------------------------------------------------------------- reading
    def get(self, ref: str) -> Case | None:
        raw = _decode(self.redis.get(keys.case(ref)))
        return Case.model_validate_json(raw) if raw else None

    def require(self, ref: str) -> Case:
        case = self.get(ref)
        if case is None:
            raise CaseNotFoundError(ref)
        return case

    def view(self, ref: str) -> CaseView | None:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.case(ref))
            pipe.lrange(keys.case_messages(ref), 0, -1)
            pipe.lrange(keys.case_assignments(ref), 0, -1)
            pipe.lrange(keys.case_audit(ref), 0, -1)
            raw, messages, assignments, audit = pipe.execute()
        if raw is None:
            return None
        return CaseView(
            case=Case.model_validate_json(raw),
            messages=[Message.model_validate_json(m) for m in messages],
            assignments=[Assignment.model_validate_json(a) for a in assignments],
            audit=[AuditEntry.model_validate_json(e) for e in audit],
        )

    def messages(self, ref: str) -> list[Message]:
        return [
            Message.model_validate_json(m)
            for m in self.redis.lrange(keys.case_messages(ref), 0, -1)
        ]

    def refs(self, *, newest_first: bool = True, limit: int = 100) -> list[str]:
        raw = self.redis.zrange(keys.CASES_ALL, 0, limit - 1, desc=newest_first)
        return [_text(r) for r in raw]

    def list_cases(self, *, limit: int = 100, open_only: bool = False) -> list[Case]:
        refs = self.open_queue(limit=limit) if open_only else self.refs(limit=limit)
        if not refs:
            return []
        raws = self.redis.mget([keys.case(r) for r in refs])
        return [Case.model_validate_json(raw) for raw in raws if raw]

    def open_queue(self, limit: int = 100) -> list[str]:
        """Open case refs, most urgent first, then oldest first."""
        return [_text(r) for r in self.redis.zrange(keys.OPEN_QUEUE, 0, limit - 1)]

    def reporter_refs(self, reporter: str) -> list[str]:
        return sorted(_text(r) for r in self.redis.smembers(keys.reporter_cases(reporter)))

    def conversation_ref(self, channel: str, reporter: str) -> str | None:
        return _decode(self.redis.get(keys.conversation(channel, reporter)))

    # ---------------------------------------------------------------- intake
    def accept(
        self,
        report: Report,
        *,
        assess: AssessFn,
        window: timedelta,
        encrypted_address: str | None = None,
        address_ttl: timedelta | None = None,
        on_commit: CommitHook | None = None,
    ) -> Intake:
        """Store ``report``: a new case, or a message joining the reporter's open conversation.

        Exactly once per ``(channel, channel_message_id)``; concurrent duplicates are settled
        by WATCH on the ``seen`` key. ``on_commit`` adds writes (e.g. an RQ enqueue) to the same
        transaction, so an accepted report always has its next step queued.
        """
        seen_key = keys.seen(report.channel.value, report.channel_message_id)
        conv_key = keys.conversation(report.channel.value, report.reporter)
        for _ in range(MAX_WATCH_RETRIES):
            with self.redis.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(seen_key, conv_key)
                    existing = _decode(pipe.get(seen_key))
                    if existing:
                        pipe.reset()
                        return Intake(self.require(existing), report.channel_message_id, True, None)
                    intake = self._prepare_intake(pipe, report, assess, conv_key)
                    pipe.multi()
                    self._write_intake(pipe, report, intake, seen_key, conv_key, window)
                    if encrypted_address is not None:
                        ttl = address_ttl or timedelta(days=30)
                        addr_key = keys.address(report.channel.value, report.reporter)
                        pipe.set(addr_key, encrypted_address, px=int(ttl.total_seconds() * 1000))
                    if on_commit is not None and intake.event is not None:
                        on_commit(pipe, intake.case, intake.event)
                    pipe.execute()
                except redis.WatchError:
                    continue
            return intake
        raise StoreBusyError(
            f"could not store message {report.channel_message_id}: too much contention"
        )

    def _prepare_intake(
        self, pipe: Pipeline, report: Report, assess: AssessFn, conv_key: str
    ) -> Intake:
        now = self.clock()
        ref = _decode(pipe.get(conv_key))
        case: Case | None = None
        texts: list[str] = []
        if ref:
            pipe.watch(keys.case(ref))
            raw = _decode(pipe.get(keys.case(ref)))
            case = Case.model_validate_json(raw) if raw else None
            if case is not None and case.is_open and not case.erased:
                texts = [
                    Message.model_validate_json(m).text
                    for m in pipe.lrange(keys.case_messages(ref), 0, -1)
                ]
            else:
                case = None
        texts.append(report.text)
        verdict = assess(texts, report.language).to_dict()
        signals = tuple(Signal.model_validate(s) for s in verdict.get("signals", ()))
        if case is None:
            ref = self._unused_ref(pipe)
            case = Case(
                ref=ref,
                status=Status.TRIAGED,
                urgency=verdict["urgency"],
                score=int(verdict["score"]),
                categories=tuple(verdict.get("categories", ())),
                signals=signals,
                facts=dict(verdict.get("facts") or {}),
                channel=report.channel,
                language=report.language or verdict.get("language"),
                reporter=report.reporter,
                country=report.country,
                created_at=report.received_at,
                updated_at=now,
                message_count=1,
                media_count=report.media_count,
                version=1,
            )
            return Intake(case, report.channel_message_id, False, "created")
        previous = case.urgency
        urgency = higher_urgency(previous, verdict["urgency"])
        merged = case.model_copy(
            update={
                "urgency": urgency,
                "score": max(case.score, int(verdict["score"])),
                "categories": tuple(
                    dict.fromkeys((*case.categories, *verdict.get("categories", ())))
                ),
                "signals": signals or case.signals,
                "facts": dict(verdict.get("facts") or case.facts),
                "updated_at": now,
                "message_count": case.message_count + 1,
                "media_count": case.media_count + report.media_count,
                "version": case.version + 1,
            }
        )
        event: IntakeEvent = "urgency_raised" if urgency != previous else "joined"
        return Intake(merged, report.channel_message_id, False, event, previous)

    def _unused_ref(self, pipe: Pipeline) -> str:
        for _ in range(20):
            ref = new_ref()
            if not pipe.exists(keys.case(ref)):
                pipe.watch(keys.case(ref))
                return ref
        raise StoreBusyError(
            "could not find an unused case reference; the reference space is crowded"
        )

    def _write_intake(
        self,
        pipe: Pipeline,
        report: Report,
        intake: Intake,
        seen_key: str,
        conv_key: str,
        window: timedelta,
    ) -> None:
        case, now = intake.case, self.clock()
        ref = case.ref
        message = Message(
            id=report.channel_message_id,
            channel=report.channel,
            text=report.text,
            received_at=report.received_at,
            language=report.language,
            media_count=report.media_count,
            media_types=report.media_types,
        )
        pipe.set(seen_key, ref, px=int(SEEN_TTL.total_seconds() * 1000))
        pipe.set(keys.case(ref), _dump(case))
        pipe.rpush(keys.case_messages(ref), _dump(message))
        pipe.set(conv_key, ref, px=int(window.total_seconds() * 1000))
        pipe.sadd(keys.reporter_cases(case.reporter), ref)
        pipe.zadd(keys.OPEN_QUEUE, {ref: case.priority()})
        pipe.hincrby(keys.counter("reports_received"), report.channel.value, 1)
        audit: list[AuditEntry] = []
        if intake.event == "created":
            pipe.zadd(keys.CASES_ALL, {ref: case.created_at.timestamp()})
            pipe.hincrby(keys.counter("cases_status"), Status.TRIAGED.value, 1)
            pipe.hincrby(keys.counter("cases_urgency"), case.urgency, 1)
            audit.append(
                AuditEntry(
                    at=now, actor="reporter", action="created", detail=f"via {report.channel.value}"
                )
            )
            audit.append(
                AuditEntry(
                    at=now, actor="triage", action="triaged", detail=self._triage_detail(case)
                )
            )
        else:
            audit.append(
                AuditEntry(
                    at=now,
                    actor="reporter",
                    action="message_added",
                    detail=f"message {case.message_count}",
                )
            )
            if intake.event == "urgency_raised" and intake.previous_urgency:
                pipe.hincrby(keys.counter("cases_urgency"), intake.previous_urgency, -1)
                pipe.hincrby(keys.counter("cases_urgency"), case.urgency, 1)
                audit.append(
                    AuditEntry(
                        at=now,
                        actor="triage",
                        action="urgency_raised",
                        detail=f"{intake.previous_urgency} -> {case.urgency}; "
                        f"{self._triage_detail(case)}",
                    )
                )
        if report.media_count:
            audit.append(
                AuditEntry(
                    at=now,
                    actor="reporter",
                    action="media_received",
                    detail=f"{report.media_count} item(s), not downloaded",
                )
            )
        pipe.rpush(keys.case_audit(ref), *[_dump(e) for e in audit])

    @staticmethod
    def _triage_detail(case: Case) -> str:
        rules = ", ".join(s.rule for s in case.signals[:6]) or "no signals"
        return f"{case.urgency} (score {case.score}): {rules}"

    # ---------------------------------------------------------------- updates
    def update(
        self,
        ref: str,
        mutate: Callable[[Case], tuple[Case, Iterable[AuditEntry]]],
        *,
        on_commit: UpdateHook | None = None,
        assignment: Assignment | None = None,
    ) -> Case:
        """Read-modify-write one case atomically; ``mutate`` may raise to refuse the change."""
        key = keys.case(ref)
        for _ in range(MAX_WATCH_RETRIES):
            with self.redis.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key)
                    raw = _decode(pipe.get(key))
                    if raw is None:
                        raise CaseNotFoundError(ref)
                    before = Case.model_validate_json(raw)
                    after, audit = mutate(before)
                    after = after.model_copy(
                        update={"updated_at": self.clock(), "version": before.version + 1}
                    )
                    pipe.multi()
                    pipe.set(key, _dump(after))
                    entries = [_dump(e) for e in audit]
                    if entries:
                        pipe.rpush(keys.case_audit(ref), *entries)
                    if assignment is not None:
                        pipe.rpush(keys.case_assignments(ref), _dump(assignment))
                    self._index(pipe, before, after)
                    if on_commit is not None:
                        on_commit(pipe, after)
                    pipe.execute()
                except redis.WatchError:
                    continue
            return after
        raise StoreBusyError(f"could not update case {ref}: too much contention")

    @staticmethod
    def _index(pipe: Pipeline, before: Case, after: Case) -> None:
        if before.status != after.status:
            pipe.hincrby(keys.counter("cases_status"), before.status.value, -1)
            pipe.hincrby(keys.counter("cases_status"), after.status.value, 1)
        if before.urgency != after.urgency:
            pipe.hincrby(keys.counter("cases_urgency"), before.urgency, -1)
            pipe.hincrby(keys.counter("cases_urgency"), after.urgency, 1)
        if after.status in OPEN_STATUSES:
            pipe.zadd(keys.OPEN_QUEUE, {after.ref: after.priority()})
        else:
            pipe.zrem(keys.OPEN_QUEUE, after.ref)

    def transition(
        self,
        ref: str,
        to: Status,
        *,
        actor: str,
        detail: str = "",
        changes: Mapping[str, Any] | None = None,
        assignment: Assignment | None = None,
        on_commit: UpdateHook | None = None,
    ) -> Case:
        """Move a case along its lifecycle; an illegal move raises ``IllegalTransitionError``."""

        def mutate(case: Case) -> tuple[Case, list[AuditEntry]]:
            if to not in ALLOWED_TRANSITIONS[case.status]:
                raise IllegalTransitionError(case.ref, case.status, to)
            now = self.clock()
            update: dict[str, Any] = {"status": to, **(changes or {})}
            if to == Status.ACKNOWLEDGED and case.acknowledged_at is None:
                update["acknowledged_at"] = now
            if to in (Status.RESOLVED, Status.CLOSED_NO_ACTION):
                update["resolved_at"] = now
            entry = AuditEntry(at=now, actor=actor, action=f"status:{to.value}", detail=detail)
            return case.model_copy(update=update), [entry]

        return self.update(ref, mutate, on_commit=on_commit, assignment=assignment)

    def append_audit(self, ref: str, actor: str, action: str, detail: str = "") -> None:
        if not self.redis.exists(keys.case(ref)):
            raise CaseNotFoundError(ref)
        entry = AuditEntry(at=self.clock(), actor=actor, action=action, detail=detail)
        self.redis.rpush(keys.case_audit(ref), _dump(entry))

    def assignments(self, ref: str) -> list[Assignment]:
        raw = self.redis.lrange(keys.case_assignments(ref), 0, -1)
        return [Assignment.model_validate_json(a) for a in raw]

    # ---------------------------------------------------------------- privacy
    def encrypted_address(self, channel: str, reporter: str) -> str | None:
        return _decode(self.redis.get(keys.address(channel, reporter)))

    def forget_address(self, channel: str, reporter: str, *, actor: str = "reporter") -> int:
        """STOP: the reply address goes; cases stay (a child may still need help)."""
        removed = int(
            self.redis.delete(keys.address(channel, reporter), keys.conversation(channel, reporter))
        )
        for ref in self.reporter_refs(reporter):
            self.append_audit(ref, actor, "address_erased", f"{channel} reply address deleted")
        return removed

    def erase_reporter(self, channel: str, reporter: str, *, actor: str = "reporter") -> list[str]:
        """DELETE: address, preferences and message texts go; triage facts stay for responders."""
        refs = self.reporter_refs(reporter)
        self.redis.delete(
            keys.address(channel, reporter),
            keys.conversation(channel, reporter),
            keys.reporter_prefs(reporter),
        )
        for ref in refs:
            self.erase_case_texts(ref, actor=actor, reason="erased at the reporter's request")
        self.redis.delete(keys.reporter_cases(reporter))
        return refs

    def erase_case_texts(self, ref: str, *, actor: str, reason: str) -> None:
        """Replace message texts by a marker and unlink the pseudonym, atomically."""
        msg_key = keys.case_messages(ref)
        for _ in range(MAX_WATCH_RETRIES):
            with self.redis.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(keys.case(ref), msg_key)
                    raw = _decode(pipe.get(keys.case(ref)))
                    if raw is None:
                        pipe.reset()
                        return
                    case = Case.model_validate_json(raw)
                    msgs = [Message.model_validate_json(m) for m in pipe.lrange(msg_key, 0, -1)]
                    pipe.multi()
                    pipe.delete(msg_key)
                    erased = [m.model_copy(update={"text": "", "erased": True}) for m in msgs]
                    if erased:
                        pipe.rpush(msg_key, *[_dump(m) for m in erased])
                    pipe.set(
                        keys.case(ref),
                        _dump(
                            case.model_copy(
                                update={
                                    "erased": True,
                                    "reporter": "erased",
                                    "updated_at": self.clock(),
                                }
                            )
                        ),
                    )
                    entry = AuditEntry(
                        at=self.clock(), actor=actor, action="texts_erased", detail=reason
                    )
                    pipe.rpush(keys.case_audit(ref), _dump(entry))
                    pipe.execute()
                except redis.WatchError:
                    continue
            return

    # ---------------------------------------------------------------- prefs
    def set_pref(self, reporter: str, name: str, value: str) -> None:
        self.redis.hset(keys.reporter_prefs(reporter), name, value)

    def get_pref(self, reporter: str, name: str) -> str | None:
        return _decode(self.redis.hget(keys.reporter_prefs(reporter), name))


def load_json_list(raw: Iterable[bytes]) -> list[dict[str, Any]]:
    return [json.loads(item) for item in raw]
