"""Queue one message to a reporter or a responder for the ``workers.messaging`` job.

The queued payload holds the address encrypted: RQ keeps job data in Redis for hours
(and failed jobs for weeks), and no clear address may sit there.
"""

from __future__ import annotations

from typing import Literal

import redis
from pydantic import BaseModel, ConfigDict
from redis.client import Pipeline

from bot.jobs import enqueue, safe_job_id
from bot.models import Channel
from bot.outbound import Button, Outgoing
from bot.privacy import Privacy
from bot.runtime import Runtime

SEND_MESSAGE = "workers.messaging.send_message"
# Provider message id -> what was sent, so a delivery receipt can be tied to its case.
DELIVERY_KEY = "sajag:delivery:{provider_id}"
DELIVERY_TTL_SECONDS = 7 * 86400


class UnreadableAddressError(ValueError):
    """The stored address does not decrypt: the secret key changed since it was queued."""


class SendPayload(BaseModel):
    """What a send job carries (parsed back from JSON, so validated)."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    to_encrypted: str
    text: str
    label: str
    key: str
    case_ref: str | None = None
    kind: Literal["reply", "alert", "relay", "status", "digest", "notice"] = "notice"
    buttons: tuple[tuple[str, str], ...] = ()
    attempt: int = 1

    @classmethod
    def from_outgoing(cls, privacy: Privacy, outgoing: Outgoing) -> SendPayload:
        return cls(
            channel=outgoing.channel,
            to_encrypted=privacy.encrypt(outgoing.to),
            text=outgoing.text,
            label=outgoing.label,
            key=outgoing.key,
            case_ref=outgoing.case_ref,
            kind=outgoing.kind,
            buttons=tuple((b.text, b.callback_data) for b in outgoing.buttons),
        )

    def to_outgoing(self, privacy: Privacy) -> Outgoing:
        address = privacy.decrypt(self.to_encrypted)
        if address is None:
            raise UnreadableAddressError(
                f"the address of {self.kind} {self.key} to {self.label} does not decrypt: "
                "SAJAG_SECRET_KEY changed since it was queued; restore the old key to send it"
            )
        return Outgoing(
            channel=self.channel,
            to=address,
            text=self.text,
            label=self.label,
            key=self.key,
            case_ref=self.case_ref,
            kind=self.kind,
            buttons=tuple(Button(text, data) for text, data in self.buttons),
        )

    def job_data(self) -> dict[str, object]:
        return self.model_dump(mode="json")


def send_job_id(key: str, attempt: int = 1) -> str:
    if attempt == 1:
        return safe_job_id("send", key)
    return safe_job_id("send", key, "attempt", attempt)


def queue_outgoing(runtime: Runtime, outgoing: Outgoing, pipeline: Pipeline | None = None) -> str:
    """Enqueue the send (in ``pipeline`` when given, so it commits with the caller's writes);
    returns the job id."""
    payload = SendPayload.from_outgoing(runtime.privacy, outgoing)
    job_id = send_job_id(outgoing.key)
    enqueue(runtime.redis, SEND_MESSAGE, payload.job_data(), job_id=job_id, pipeline=pipeline)
    return job_id


class Delivery(BaseModel):
    """What a provider message id was: enough to audit a failed delivery on its case."""

    model_config = ConfigDict(frozen=True)

    case_ref: str
    kind: str
    key: str
    label: str
    channel: Channel


def remember_delivery(client: redis.Redis, provider_id: str, payload: SendPayload) -> None:
    """Keep (for a week) which case a sent message belongs to; no address, only the label."""
    if payload.case_ref is None:
        return
    delivery = Delivery(
        case_ref=payload.case_ref,
        kind=payload.kind,
        key=payload.key,
        label=payload.label,
        channel=payload.channel,
    )
    key = DELIVERY_KEY.format(provider_id=provider_id)
    client.set(key, delivery.model_dump_json(), ex=DELIVERY_TTL_SECONDS)


def delivery_of(client: redis.Redis, provider_id: str) -> Delivery | None:
    raw = client.get(DELIVERY_KEY.format(provider_id=provider_id))
    return Delivery.model_validate_json(raw) if isinstance(raw, bytes) else None
