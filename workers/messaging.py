"""RQ job: send one queued message (``bot.messaging.queue_outgoing``) to a reporter or
a responder, on any channel, with backoff on transient failures.

Retries are our own jobs, not RQ's ``Retry``: RQ's interval cannot honour a provider's
Retry-After, and a refused number must not be tried again at all.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Literal

from bot.jobs import enqueue_in
from bot.messaging import (
    SEND_MESSAGE,
    SendPayload,
    UnreadableAddressError,
    remember_delivery,
    send_job_id,
)
from bot.outbound import PermanentSendError, TransientSendError
from bot.runtime import Runtime
from bot.store import CaseNotFoundError
from workers import context

log = logging.getLogger(__name__)

# Seconds to wait after attempt 1, 2, ... fails; a provider's Retry-After can only lengthen it.
BACKOFF_SECONDS = (5, 15, 60, 180, 600)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1

Outcome = Literal["sent", "duplicate", "retrying", "gave_up", "refused"]


def send_message(payload: dict[str, object]) -> str:
    """RQ job (JSON payload from ``SendPayload.job_data``); returns the outcome."""
    return deliver(context.runtime(), SendPayload.model_validate(payload))


def deliver(rt: Runtime, payload: SendPayload) -> Outcome:
    try:
        result = rt.outbound.send(payload.to_outgoing(rt.privacy))
    except TransientSendError as exc:
        return retry_later(rt, payload, exc)
    except (PermanentSendError, UnreadableAddressError) as exc:
        log.warning("send %s to %s refused, not retried: %s", payload.key, payload.label, exc)
        audit(rt, payload, "send_failed", f"{exc}; not retried")
        return "refused"
    if result.status == "sent" and result.provider_id:
        remember_delivery(rt.redis, result.provider_id, payload)
    return result.status


def retry_delay(attempt: int, retry_after: float | None) -> float:
    """The wait after attempt ``attempt`` (1-based) failed: never before ``retry_after``."""
    backoff = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS)) - 1]
    return max(float(backoff), retry_after or 0.0)


def retry_later(rt: Runtime, payload: SendPayload, exc: TransientSendError) -> Outcome:
    if payload.attempt >= MAX_ATTEMPTS:
        log.error(
            "send %s to %s gave up after %d attempts", payload.key, payload.label, MAX_ATTEMPTS
        )
        audit(rt, payload, "send_failed", f"gave up after {MAX_ATTEMPTS} attempts ({exc})")
        return "gave_up"
    wait = retry_delay(payload.attempt, exc.retry_after)
    following = payload.model_copy(update={"attempt": payload.attempt + 1})
    enqueue_in(
        rt.redis,
        timedelta(seconds=wait),
        SEND_MESSAGE,
        following.job_data(),
        job_id=send_job_id(payload.key, following.attempt),
    )
    log.info(
        "send %s to %s failed (attempt %d), retrying in %gs: %s",
        payload.key,
        payload.label,
        payload.attempt,
        wait,
        exc,
    )
    return "retrying"


def audit(rt: Runtime, payload: SendPayload, action: str, detail: str) -> None:
    if payload.case_ref is None:
        return
    message = (
        f"{payload.kind} {payload.key} to {payload.label} by {payload.channel.value}: {detail}"
    )
    try:
        rt.store.append_audit(payload.case_ref, "messaging", action, message)
    except CaseNotFoundError:
        log.warning("case %s is gone; not audited: %s", payload.case_ref, message)
