"""Outbound SMS/WhatsApp: the real twilio Client against a stand-in checked with Twilio's
OpenAPI description; retries on 429/5xx through real RQ jobs, none on permanent errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.models import Channel
from bot.outbound import Outgoing, PermanentSendError, TransientSendError
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from bot.twilio_transport import TwilioTransport
from tests.conftest import SHARED
from tests.support.twilio_standin import TwilioStandIn

ACCOUNT = "AC" + "1" * 32
TOKEN = "twilio-test-token"


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    server = TwilioStandIn(
        SHARED / "twilio" / "messages-v2010.openapi.json", ACCOUNT, TOKEN
    ).start()
    yield server
    server.stop()
    assert server.violations == []


@pytest.fixture
def live(settings: Settings, standin: TwilioStandIn, redis_client) -> Runtime:  # type: ignore[no-untyped-def]
    live_settings = settings.model_copy(
        update={
            "twilio_account_sid": ACCOUNT,
            "twilio_auth_token": SecretStr(TOKEN),
            "twilio_from": "+15005550006",
            "twilio_api_base": standin.url,
        }
    )
    return build_runtime(live_settings, redis_client)


def sms(key: str, to: str = "+919811100001", channel: Channel = Channel.SMS) -> Outgoing:
    return Outgoing(
        channel=channel,
        to=to,
        text="Sajag case K7Q-4TD: critical",
        label="asha",
        key=key,
        case_ref="K7Q-4TD",
        kind="alert",
    )


def test_live_settings_send_through_twilio(live: Runtime, standin: TwilioStandIn) -> None:
    result = live.outbound.send(sms("k1"))
    assert result.transport == "twilio"
    assert result.provider_id and result.provider_id.startswith("SM")
    (req,) = standin.requests
    assert req.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert req.form["To"] == "+919811100001"
    assert req.form["From"] == "+15005550006"
    assert req.form["Body"] == "Sajag case K7Q-4TD: critical"
    assert req.form["StatusCallback"] == "https://sajag.example.org/sms/twilio/status"


def test_whatsapp_addresses(live: Runtime, standin: TwilioStandIn) -> None:
    live.outbound.send(sms("k2", to="whatsapp:+8801700000001", channel=Channel.WHATSAPP))
    (req,) = standin.requests
    assert req.form["To"] == "whatsapp:+8801700000001"
    assert req.form["From"] == "whatsapp:+15005550006"


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_transient(
    live: Runtime, standin: TwilioStandIn, status: int
) -> None:
    standin.fail_next(status, 20429 if status == 429 else 20500)
    with pytest.raises(TransientSendError):
        live.outbound.send(sms(f"t{status}"))
    assert live.outbound.send(sms(f"t{status}")).status == "sent", (
        "a retry after a transient error sends"
    )
    assert len(standin.requests) == 2


def test_an_invalid_number_is_permanent_and_not_retried(
    live: Runtime, standin: TwilioStandIn
) -> None:
    standin.fail_next(400, 21211)
    with pytest.raises(PermanentSendError, match="21211"):
        live.outbound.send(sms("p1"))
    with pytest.raises(PermanentSendError, match="already refused"):
        # A refused send is not tried again: the caller moves on to the next channel.
        live.outbound.send(sms("p1"))
    assert len(standin.requests) == 1


def test_the_same_key_is_sent_once(live: Runtime, standin: TwilioStandIn) -> None:
    first = live.outbound.send(sms("same"))
    again = live.outbound.send(sms("same"))
    assert (first.status, again.status) == ("sent", "duplicate")
    assert again.provider_id == first.provider_id
    assert len(standin.requests) == 1


def test_missing_credentials_say_which_settings(settings: Settings) -> None:
    with pytest.raises(ValueError, match="SAJAG_TWILIO_ACCOUNT_SID"):
        TwilioTransport(settings)
