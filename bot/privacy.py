"""Pseudonyms, encrypted reply addresses and log redaction.

A reporter is known to Sajag only by ``HMAC-SHA256(secret, channel:address)``. The raw
address is needed only to reply; it is kept Fernet-encrypted with an expiry and is never
shown in logs, CLI output or to responders.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import regex
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

SECRET_FILE = "secret.key"  # noqa: S105 - a file name, not a secret


def load_or_create_secret(configured: str | None, data_dir: Path) -> tuple[str, bool]:
    """The secret key, and whether it was just generated into ``data_dir``."""
    if configured:
        return configured, False
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    return key, True


def normalize_address(channel: str, address: str) -> str:
    """One spelling per person: ``whatsapp:+91 98...`` and ``+9198...`` differ only by channel."""
    value = address.strip()
    if channel in ("sms", "whatsapp"):
        value = value.removeprefix("whatsapp:")
        value = "+" + "".join(ch for ch in value if ch.isdigit())
    return value


@dataclass(frozen=True)
class Privacy:
    """Keyed pseudonyms and address encryption, both derived from one secret."""

    secret: str

    def _derive(self, purpose: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"sajag", info=purpose).derive(
            self.secret.encode()
        )

    def pseudonym(self, channel: str, address: str) -> str:
        """Stable, unlinkable without the key: 26 base32 characters (130 bits)."""
        key = self._derive(b"pseudonym")
        message = f"{channel}:{normalize_address(channel, address)}".encode()
        digest = hmac.new(key, message, hashlib.sha256).digest()
        return "r" + base64.b32encode(digest).decode("ascii").lower().rstrip("=")[:26]

    def responder_pseudonym(self, address: str) -> str:
        return self.pseudonym("responder", address)

    def _fernet(self) -> Fernet:
        return Fernet(base64.urlsafe_b64encode(self._derive(b"address-encryption")))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet().encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str | None:
        try:
            return self._fernet().decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            return None


# Phone numbers (E.164 or local with separators), whatsapp: addresses and long numeric ids.
_PHONE = regex.compile(r"(?:whatsapp:)?\+?\d[\d \-()]{6,}\d")
_LONG_ID = regex.compile(r"(?<![\w-])-?\d{7,}(?![\w-])")


def redact(text: str) -> str:
    text = _PHONE.sub("[redacted-number]", text)
    return _LONG_ID.sub("[redacted-id]", text)


class RedactingFilter(logging.Filter):
    """Scrubs phone numbers and Telegram ids from a log record, arguments included."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None
    return record


def install_redaction() -> None:
    """Redact every record at creation, so no handler (ours, a library's) sees a number."""
    current = logging.getLogRecordFactory()
    if getattr(current, "sajag_redacting", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        return redact_record(current(*args, **kwargs))

    factory.sajag_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: str) -> None:
    install_redaction()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries log request URLs that carry tokens or numbers; keep them quiet (and redacted).
    for noisy in ("aiohttp.access", "twilio.http_client", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
