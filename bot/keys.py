"""Every Redis key Sajag writes. Reporter keys hold pseudonyms, never addresses."""

from __future__ import annotations

PREFIX = "sajag"

CASE = PREFIX + ":case:{ref}"  # hash: the case record (JSON fields)
CASE_MESSAGES = PREFIX + ":case:{ref}:messages"  # list of Message JSON
CASE_ASSIGNMENTS = PREFIX + ":case:{ref}:assignments"  # list of Assignment JSON
CASE_AUDIT = PREFIX + ":case:{ref}:audit"  # list, append-only (RPUSH only)
CASES_ALL = PREFIX + ":cases"  # zset ref -> created_at (unix seconds)
OPEN_QUEUE = PREFIX + ":queue:open"  # zset ref -> priority (urgency, then age)
SEEN = PREFIX + ":seen:{channel}:{message_id}"  # string: ref, intake idempotency
CONVERSATION = PREFIX + ":conv:{channel}:{reporter}"  # string: open case ref, TTL = window
REPORTER_CASES = PREFIX + ":reporter:{reporter}:cases"  # set of refs
ADDRESS = PREFIX + ":address:{channel}:{reporter}"  # string: Fernet token, TTL
REPORTER_PREFS = PREFIX + ":reporter:{reporter}:prefs"  # hash: lang, opted_out...
OUTBOX = PREFIX + ":outbox"  # list of sandboxed outbound messages (JSON)
SENT = PREFIX + ":sent:{key}"  # string: idempotency of one outbound send
COUNTER = PREFIX + ":metrics:{name}"  # hash: label -> count
HISTOGRAM = PREFIX + ":metrics:hist:{name}"  # hash: bucket -> count, plus sum/count
WORKER_HEARTBEAT = PREFIX + ":workers"  # zset worker name -> last seen


def case(ref: str) -> str:
    return CASE.format(ref=ref)


def case_messages(ref: str) -> str:
    return CASE_MESSAGES.format(ref=ref)


def case_assignments(ref: str) -> str:
    return CASE_ASSIGNMENTS.format(ref=ref)


def case_audit(ref: str) -> str:
    return CASE_AUDIT.format(ref=ref)


def seen(channel: str, message_id: str) -> str:
    return SEEN.format(channel=channel, message_id=message_id)


def conversation(channel: str, reporter: str) -> str:
    return CONVERSATION.format(channel=channel, reporter=reporter)


def reporter_cases(reporter: str) -> str:
    return REPORTER_CASES.format(reporter=reporter)


def address(channel: str, reporter: str) -> str:
    return ADDRESS.format(channel=channel, reporter=reporter)


def reporter_prefs(reporter: str) -> str:
    return REPORTER_PREFS.format(reporter=reporter)


def sent(key: str) -> str:
    return SENT.format(key=key)


def counter(name: str) -> str:
    return COUNTER.format(name=name)


def histogram(name: str) -> str:
    return HISTOGRAM.format(name=name)
