"""Settings read from the environment (prefix ``SAJAG_``) or a ``.env`` file.

Only entry points build a ``Settings``; everything else receives one.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A sandbox token lets `sajag sandbox sms` sign webhooks when no real Twilio account is set.
SANDBOX_TWILIO_AUTH_TOKEN = "sajag-sandbox-auth-token"  # noqa: S105 - public by design


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SAJAG_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    data_dir: Path = Path("var")
    redis_url: str | None = None
    secret_key: SecretStr | None = None
    public_url: str | None = None

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    twilio_api_base: str | None = None

    telegram_token: SecretStr | None = None
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base: str | None = None

    retention_days: int = Field(90, ge=1)
    default_country: str = "IN"
    log_level: str = "INFO"

    conversation_window_hours: float = Field(24.0, gt=0)
    address_ttl_days: int = Field(30, ge=1)
    responders_file: Path | None = None
    redis_appendfsync: Literal["always", "everysec", "no"] = "always"
    max_text_chars: int = Field(4000, ge=160)

    @field_validator("default_country")
    @classmethod
    def _upper_country(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError(
                f"SAJAG_DEFAULT_COUNTRY={value!r} is not an ISO 3166-1 alpha-2 code; "
                "use e.g. IN or NP"
            )
        return value.upper()

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        return value.upper()

    @property
    def base_url(self) -> str:
        """The URL Twilio and Telegram use to reach us (no trailing slash)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @property
    def conversation_window(self) -> timedelta:
        return timedelta(hours=self.conversation_window_hours)

    @property
    def sms_live(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from)

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_token is not None

    @property
    def twilio_signing_token(self) -> str:
        """The token webhooks are signed with: the real one, or the sandbox one."""
        if self.twilio_auth_token is not None:
            return self.twilio_auth_token.get_secret_value()
        return SANDBOX_TWILIO_AUTH_TOKEN
