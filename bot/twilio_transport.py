"""Send SMS and WhatsApp messages through Twilio's Messages API with the real client.

``SAJAG_TWILIO_API_BASE`` points every API call at another base URL (a local stand-in
in tests, or a regional edge); the client library is otherwise untouched.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.models import Channel
from bot.outbound import Outgoing, PermanentSendError, TransientSendError
from bot.settings import Settings

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
STATUS_CALLBACK_PATH = "/sms/twilio/status"
# Twilio answers in well under a second; a worker stuck longer holds up every other send.
TIMEOUT_SECONDS = 15.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """A TwilioHttpClient that can send ``https://api.twilio.com/...`` to another ``base``.

    It also keeps, per thread, the Retry-After header of the last response: the client
    library raises its exception from the body alone and drops the headers.
    """

    def __init__(self, base: str | None = None, timeout: float = TIMEOUT_SECONDS) -> None:
        super().__init__(timeout=timeout)
        self.base = base.rstrip("/") if base else None
        self._last = threading.local()

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if self.base and url.startswith(TWILIO_API):
            url = self.base + url[len(TWILIO_API) :]
        self._last.retry_after = None
        response: Response = super().request(method, url, *args, **kwargs)
        headers = response.headers or {}
        self._last.retry_after = headers.get("Retry-After")
        return response

    @property
    def last_retry_after(self) -> str | None:
        value: str | None = getattr(self._last, "retry_after", None)
        return value


class TwilioTransport:
    name = "twilio"

    def __init__(self, settings: Settings) -> None:
        if not (
            settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from
        ):
            raise ValueError(
                "Twilio needs SAJAG_TWILIO_ACCOUNT_SID, SAJAG_TWILIO_AUTH_TOKEN "
                "and SAJAG_TWILIO_FROM; unset all three to run SMS in sandbox mode"
            )
        self.http = RebasedHttpClient(settings.twilio_api_base)
        self.client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            http_client=self.http,
        )
        self.sender = settings.twilio_from.removeprefix("whatsapp:")
        self.status_callback = settings.base_url + STATUS_CALLBACK_PATH

    def addresses(self, message: Outgoing) -> tuple[str, str]:
        """(To, From): WhatsApp addresses carry Twilio's ``whatsapp:`` channel prefix."""
        to = message.to.removeprefix("whatsapp:")
        if message.channel is Channel.WHATSAPP:
            return "whatsapp:" + to, "whatsapp:" + self.sender
        return to, self.sender

    def send(self, message: Outgoing) -> str:
        to, sender = self.addresses(message)
        try:
            sent = self.client.messages.create(
                to=to, from_=sender, body=message.text, status_callback=self.status_callback
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            raise classify(exc, message, parse_retry_after(self.http.last_retry_after)) from exc
        except requests.RequestException as exc:
            raise TransientSendError(
                f"Twilio unreachable for {message.kind} {message.key} to {message.label}: "
                f"{exc.__class__.__name__}; check SAJAG_TWILIO_API_BASE and the network"
            ) from exc
        return str(sent.sid)


def classify(
    exc: TwilioRestException | TwilioServiceException,
    message: Outgoing,
    retry_after: float | None = None,
) -> PermanentSendError | TransientSendError:
    """429 and 5xx may succeed later; other 4xx (21211 bad number, 21610 opted out) never.

    Twilio's own error text can quote the number, so only status and code are kept.
    """
    detail = (
        f"Twilio {exc.status} (code {exc.code}) for {message.kind} {message.key} to {message.label}"
    )
    if exc.status == 429 or exc.status >= 500:
        return TransientSendError(detail, retry_after=retry_after)
    return PermanentSendError(detail)
