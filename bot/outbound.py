"""The one place that sends a message to a reporter or a responder.

A channel with credentials sends for real (Twilio for SMS/WhatsApp, the Bot API for
Telegram); a channel without runs in sandbox: the message goes to a Redis outbox that
``sajag outbox`` lists, so the whole flow runs on a machine with no accounts.

Sends are idempotent per key. A send is marked ``sending`` before and ``sent`` after; a
retry that finds a stale ``sending`` sends again: a duplicate alert is better than none.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

import redis

from bot import keys
from bot.models import Channel, utcnow
from bot.settings import Settings

log = logging.getLogger(__name__)

SENT_TTL_SECONDS = 30 * 86400
# A send still marked "sending" after this long died mid-way; it may be retried.
SENDING_STALE_SECONDS = 60
OUTBOX_MAX = 10_000


@dataclass(frozen=True)
class Button:
    text: str
    callback_data: str


@dataclass(frozen=True)
class Outgoing:
    channel: Channel
    to: str = field(repr=False)  # the raw address: never logged, never stored in clear
    text: str
    label: str  # what logs and the outbox show instead: a responder id or a pseudonym
    key: str  # idempotency key, e.g. "alert_K7Q-4TD_asha_0_sms"
    case_ref: str | None = None
    kind: Literal["reply", "alert", "relay", "status", "digest", "notice"] = "notice"
    buttons: tuple[Button, ...] = ()


class PermanentSendError(RuntimeError):
    """The provider refused for good (invalid number, bot blocked): do not retry."""


class TransientSendError(RuntimeError):
    """Try again later; ``retry_after`` seconds when the provider said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Transport(Protocol):
    name: str

    def send(self, message: Outgoing) -> str:
        """Send and return the provider's message id; raise Permanent/TransientSendError."""
        ...


class SandboxTransport:
    """Writes messages to the Redis outbox instead of a provider."""

    name = "sandbox"

    def __init__(self, client: redis.Redis, clock: Callable[[], datetime] = utcnow) -> None:
        self.redis = client
        self.clock = clock

    def send(self, message: Outgoing) -> str:
        entry = {
            "at": self.clock().isoformat(),
            "channel": message.channel.value,
            "to": message.label,
            "kind": message.kind,
            "case_ref": message.case_ref,
            "text": message.text,
            "buttons": [b.text for b in message.buttons],
            "key": message.key,
        }
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(keys.OUTBOX, json.dumps(entry, ensure_ascii=False))
            pipe.ltrim(keys.OUTBOX, -OUTBOX_MAX, -1)
            pipe.execute()
        return "sandbox-" + message.key


def read_outbox(client: redis.Redis, limit: int = 100) -> list[dict[str, object]]:
    return [json.loads(raw) for raw in client.lrange(keys.OUTBOX, -limit, -1)]


@dataclass(frozen=True)
class SendResult:
    status: Literal["sent", "duplicate"]
    transport: str
    provider_id: str | None = None


class Outbound:
    def __init__(
        self,
        client: redis.Redis,
        transports: Mapping[Channel, Transport],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.redis = client
        self.transports = dict(transports)
        self.clock = clock

    def transport_for(self, channel: Channel) -> Transport:
        return self.transports[channel]

    def already_sent(self, key: str) -> bool:
        raw = self.redis.get(keys.sent(key))
        return isinstance(raw, bytes) and raw.startswith(b"sent")

    def send(self, message: Outgoing) -> SendResult:
        transport = self.transport_for(message.channel)
        marker = keys.sent(message.key)
        now = self.clock().timestamp()
        claimed = self.redis.set(marker, f"sending:{now}", nx=True, ex=SENT_TTL_SECONDS)
        if not claimed:
            raw = self.redis.get(marker)
            state = raw.decode() if isinstance(raw, bytes) else ""
            if state.startswith("sent"):
                return SendResult("duplicate", transport.name, state.partition(":")[2] or None)
            if state == "failed":
                raise PermanentSendError(f"send {message.key} was already refused by the provider")
            started = float(state.partition(":")[2] or 0)
            if now - started < SENDING_STALE_SECONDS:
                raise TransientSendError(
                    f"send {message.key} is in progress elsewhere",
                    retry_after=SENDING_STALE_SECONDS,
                )
            self.redis.set(marker, f"sending:{now}", ex=SENT_TTL_SECONDS)
        try:
            provider_id = transport.send(message)
        except PermanentSendError:
            self.redis.set(marker, "failed", ex=SENT_TTL_SECONDS)
            raise
        except Exception:
            self.redis.delete(marker)
            raise
        self.redis.set(marker, f"sent:{provider_id}", ex=SENT_TTL_SECONDS)
        log.info(
            "sent %s %s to %s via %s", message.kind, message.key, message.label, transport.name
        )
        return SendResult("sent", transport.name, provider_id)


def channel_modes(settings: Settings) -> dict[str, str]:
    """What ``/healthz`` and ``sajag run`` report: live, sandbox or off per channel."""
    return {
        "sms": "live" if settings.sms_live else "sandbox",
        "telegram": "live" if settings.telegram_enabled else "sandbox",
    }


def build_outbound(settings: Settings, client: redis.Redis) -> Outbound:
    sandbox = SandboxTransport(client)
    transports: dict[Channel, Transport] = {c: sandbox for c in Channel}
    if settings.sms_live:
        from bot.twilio_transport import TwilioTransport

        twilio = TwilioTransport(settings)
        transports[Channel.SMS] = twilio
        transports[Channel.WHATSAPP] = twilio
    if settings.telegram_enabled:
        from bot.telegram_transport import TelegramTransport

        transports[Channel.TELEGRAM] = TelegramTransport(settings)
    return Outbound(client, transports)
