"""The one door for reports from any channel: clean, pseudonymise, triage, store, queue."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from redis.client import Pipeline

from bot.jobs import enqueue_route
from bot.models import Case, Channel, Report, utcnow
from bot.privacy import Privacy
from bot.settings import Settings
from bot.store import CaseStore, Intake, IntakeEvent, Verdict

TRUNCATION_MARK = " [...truncated]"


def clean_text(text: str, max_chars: int) -> tuple[str, bool]:
    """Drop control characters (keep newlines and tabs) and cap the length.

    Returns the text and whether it was cut. Nothing else is changed: responders
    read what the reporter wrote.
    """
    kept = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    ).strip()
    if len(kept) > max_chars:
        return kept[: max_chars - len(TRUNCATION_MARK)] + TRUNCATION_MARK, True
    return kept, False


def decode_body(raw: bytes) -> str:
    """Bytes from the wire as text; invalid UTF-8 becomes U+FFFD rather than an error."""
    return raw.decode("utf-8", errors="replace")


def triage_conversation(texts: Sequence[str], lang: str | None) -> Verdict:
    from triage import assess_conversation

    return assess_conversation(list(texts), lang=lang)


@dataclass
class IntakeService:
    settings: Settings
    store: CaseStore
    privacy: Privacy
    redis: redis.Redis

    def submit(
        self,
        *,
        channel: Channel,
        address: str,
        text: str,
        message_id: str,
        received_at: datetime | None = None,
        language: str | None = None,
        country: str | None = None,
        media_count: int = 0,
        media_types: Sequence[str] = (),
    ) -> Intake:
        cleaned, _ = clean_text(text, self.settings.max_text_chars)
        reporter = self.privacy.pseudonym(channel.value, address)
        report = Report(
            channel=channel,
            reporter=reporter,
            text=cleaned,
            channel_message_id=message_id,
            received_at=received_at or utcnow(),
            language=language,
            country=country,
            media_count=media_count,
            media_types=tuple(media_types),
        )
        return self.store.accept(
            report,
            assess=triage_conversation,
            window=self.settings.conversation_window,
            encrypted_address=self.privacy.encrypt(address),
            address_ttl=timedelta(days=self.settings.address_ttl_days),
            on_commit=self._queue_routing,
        )

    def _queue_routing(self, pipe: Pipeline, case: Case, event: IntakeEvent) -> None:
        # A joined message that does not raise urgency needs no new routing: the
        # assigned responder sees it in the case.
        if event in ("created", "urgency_raised"):
            enqueue_route(self.redis, case.ref, case.version, pipeline=pipe)

    def reporter_id(self, channel: Channel, address: str) -> str:
        return self.privacy.pseudonym(channel.value, address)
