"""Settings names are a contract; emergency numbers come from a data file."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.emergency import emergency_numbers, known_countries
from bot.settings import Settings

CONTRACT = [
    "HOST",
    "PORT",
    "DATA_DIR",
    "REDIS_URL",
    "SECRET_KEY",
    "PUBLIC_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM",
    "TWILIO_API_BASE",
    "TELEGRAM_TOKEN",
    "TELEGRAM_MODE",
    "TELEGRAM_WEBHOOK_SECRET",
    "TELEGRAM_API_BASE",
    "RETENTION_DAYS",
    "DEFAULT_COUNTRY",
    "LOG_LEVEL",
]


def test_every_contract_setting_is_read_from_its_env_name(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "HOST": "0.0.0.0",
        "PORT": "9090",
        "DATA_DIR": "/tmp/sajag",
        "REDIS_URL": "redis://r:6379/1",
        "SECRET_KEY": "s",
        "PUBLIC_URL": "https://h.example/",
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": "tok-42",
        "TWILIO_FROM": "+15005550006",
        "TWILIO_API_BASE": "http://127.0.0.1:1",
        "TELEGRAM_TOKEN": "1:x",
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_WEBHOOK_SECRET": "w",
        "TELEGRAM_API_BASE": "http://127.0.0.1:2",
        "RETENTION_DAYS": "30",
        "DEFAULT_COUNTRY": "np",
        "LOG_LEVEL": "debug",
    }
    assert set(values) == set(CONTRACT)
    for name, value in values.items():
        monkeypatch.setenv(f"SAJAG_{name}", value)
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (s.host, s.port, str(s.data_dir)) == ("0.0.0.0", 9090, "/tmp/sajag")
    assert s.base_url == "https://h.example"
    assert s.default_country == "NP" and s.log_level == "DEBUG"
    assert s.sms_live and s.telegram_enabled and s.telegram_mode == "webhook"
    assert s.secret_key is not None and s.secret_key.get_secret_value() == "s"
    assert "tok-42" not in repr(s)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CONTRACT:
        monkeypatch.delenv(f"SAJAG_{name}", raising=False)
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (s.host, s.port, s.redis_url) == ("127.0.0.1", 8080, None)
    assert not s.sms_live and not s.telegram_enabled


def test_bad_country_says_what_to_use() -> None:
    with pytest.raises(ValidationError, match="ISO 3166-1 alpha-2"):
        Settings(_env_file=None, default_country="India")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("IN", "1098 / 112"),
        ("NP", "1098 / 100"),
        ("BD", "1098 / 999"),
        ("PK", "1121 / 15"),
        ("LK", "1929 / 119"),
        ("MV", "1412 / 119"),
        ("AF", "119"),
        ("BT", "1098 / 113"),
    ],
)
def test_emergency_numbers(country: str, expected: str) -> None:
    assert emergency_numbers(country, "IN").as_text() == expected


def test_unknown_country_falls_back_to_the_default() -> None:
    assert emergency_numbers("FR", "NP").country == "NP"
    assert emergency_numbers(None, "BD").country == "BD"
    assert len(known_countries()) == 8
