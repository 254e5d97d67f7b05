"""``sajag sandbox``: talk to a running Sajag as a reporter would, with no Twilio account."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.parse
import urllib.request
from xml.etree import ElementTree

import click
from twilio.request_validator import RequestValidator

from bot.settings import Settings

WEBHOOK_PATH = "/sms/twilio"


def webhook_url(server: str) -> str:
    """``http://host:port`` or the full webhook URL → the webhook URL."""
    server = server.rstrip("/")
    return server if server.endswith(WEBHOOK_PATH) else server + WEBHOOK_PATH


@click.group()
def sandbox() -> None:
    """Send test messages to a running Sajag (signed like Twilio would sign them)."""


@sandbox.command("sms")
@click.option("--from", "sender", required=True, help="Reporter's number, E.164.")
@click.option("--to", "to", default="+15005550006", show_default=True, help="The helpline number.")
@click.option("--sid", default=None, help="MessageSid (default: random).")
@click.option("--whatsapp", is_flag=True, help="Send as a WhatsApp message (From=whatsapp:+…).")
@click.option(
    "--url",
    default=None,
    help="Server to post to, e.g. http://127.0.0.1:8080 (default: SAJAG_PUBLIC_URL). "
    "The request is signed for SAJAG_PUBLIC_URL, as Twilio signs it.",
)
@click.argument("text")
def sandbox_sms(
    sender: str, to: str, sid: str | None, whatsapp: bool, url: str | None, text: str
) -> None:
    """Post TEXT to /sms/twilio as an SMS from --from, and print the reply."""
    settings = Settings()
    # Twilio signs the public URL it was given, whatever proxy sits in between; the server
    # checks that same URL, so sign it even when posting straight to a local port.
    signed_url = settings.base_url + WEBHOOK_PATH
    target = webhook_url(url or settings.base_url)
    prefix = "whatsapp:" if whatsapp else ""
    params = {
        "MessageSid": sid or "SM" + secrets.token_hex(16),
        "AccountSid": settings.twilio_account_sid or "AC" + "0" * 32,
        "From": prefix + sender,
        "To": prefix + to,
        "Body": text,
        "NumMedia": "0",
    }
    signature = RequestValidator(settings.twilio_signing_token).compute_signature(
        signed_url, params
    )
    request = urllib.request.Request(  # noqa: S310 - the operator's own server
        target,
        data=urllib.parse.urlencode(params).encode(),
        headers={"X-Twilio-Signature": signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:  # noqa: S310
            body = resp.read().decode()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace").strip()
        raise click.ClickException(f"{target} answered {exc.code}: {detail}") from exc
    except urllib.error.URLError as exc:
        raise click.ClickException(
            f"could not reach {target} ({exc.reason}); is 'sajag run' running? "
            "Use --url or SAJAG_PUBLIC_URL to point at it."
        ) from exc
    root = ElementTree.fromstring(body)  # noqa: S314 - TwiML from our own server
    messages = [m.text or "" for m in root.iter("Message")]
    click.echo("\n".join(messages) if messages else "(no reply)")
