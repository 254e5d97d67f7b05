"""Send SMS and WhatsApp messages through Twilio's Messages API with the real client.

``SAJAG_TWILIO_API_BASE`` points every API call at another base URL (a local stand-in
in tests, or a regional edge); the client library is otherwise untouched.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.models import Channel
from bot.outbound import Outgoing, PermanentSendError, TransientSendError
from bot.settings import Settings

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"


class RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """A TwilioHttpClient that sends ``https://api.twilio.com/...`` to ``base`` instead."""

    def __init__(self, base: str, timeout: float = 15.0) -> None:
        super().__init__(timeout=timeout)
        self.base = base.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API):
            url = self.base + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


class TwilioTransport:
    name = "twilio"

    def __init__(self, settings: Settings) -> None:
        if not (
            settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from
        ):
            raise ValueError(
                "Twilio needs SAJAG_TWILIO_ACCOUNT_SID, SAJAG_TWILIO_AUTH_TOKEN "
                "and SAJAG_TWILIO_FROM"
            )
        http_client = (
            RebasedHttpClient(settings.twilio_api_base)
            if settings.twilio_api_base
            else TwilioHttpClient(timeout=15.0)
        )
        self.client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            http_client=http_client,
        )
        self.sender = settings.twilio_from
        self.status_callback = settings.base_url + "/sms/twilio/status"

    def addresses(self, message: Outgoing) -> tuple[str, str]:
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
        except TwilioRestException as exc:
            raise classify(exc, message) from exc
        except requests.RequestException as exc:
            raise TransientSendError(
                f"Twilio unreachable for {message.key}: {exc.__class__.__name__}"
            ) from exc
        return str(sent.sid)


def classify(exc: TwilioRestException, message: Outgoing) -> Exception:
    """429 and 5xx may succeed later; other 4xx (21211 bad number, 21610 opted out) never."""
    detail = (
        f"Twilio {exc.status} (code {exc.code}) for {message.kind} {message.key} to {message.label}"
    )
    if exc.status == 429 or exc.status >= 500:
        return TransientSendError(detail)
    return PermanentSendError(detail)
