"""Responder files: the example imports unchanged, errors name the line, on-call maths
holds across DST whatever the process time zone, contact details never in clear."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from bot.cli import main
from bot.responders import (
    RosterError,
    parse_duration,
    parse_roster,
    responder_for_phone,
    responder_for_telegram,
    store_roster,
    who_is_on_call,
)
from bot.runtime import Runtime
from bot.settings import Settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "responders.toml"
SHARED_EXAMPLE = REPO.parent / "shared" / "examples" / "responders.toml"
NOW = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)

LONDON = """
timezone = "Europe/London"

[[responders]]
id = "a"
name = "A"
phone = "+447700900001"
languages = ["en"]

[[responders]]
id = "b"
name = "B"
telegram_chat_id = 42
languages = ["en"]

[[responders]]
id = "c"
name = "C"
phone = "+447700900003"
languages = ["en"]
supervisor = true

[[rotations]]
name = "primary"
members = ["a", "b"]
start = "2026-03-27T08:00"
shift = "12h"

[[rotations]]
name = "weekly"
members = ["a", "b"]
start = "2026-10-19T09:00"
shift = "7d"

[[overrides]]
rotation = "primary"
responder = "c"
start = "2026-10-25T00:30"
end = "2026-10-25T01:30"
"""


@pytest.fixture(params=["America/New_York", "Australia/Sydney", "UTC"])
def process_tz(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run under a foreign process TZ: nothing may depend on the machine's zone."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_example_is_the_shared_contract_unchanged() -> None:
    assert EXAMPLE.read_bytes() == SHARED_EXAMPLE.read_bytes()
    roster = parse_roster(EXAMPLE.read_text(), str(EXAMPLE))
    assert [r.id for r in roster.responders] == ["asha", "ravi", "mitali", "farhan"]
    assert roster.escalation.critical.repeat_every == timedelta(minutes=10)
    assert [s.after for s in roster.escalation.critical.steps] == [
        timedelta(0),
        timedelta(minutes=3),
        timedelta(minutes=10),
        timedelta(minutes=10),
    ]
    assert roster.escalation.medium.digest is not None
    assert roster.escalation.low.steps == ()


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("3m", 180), ("1h", 3600), ("12h", 43200), ("7d", 604800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_contact_details_are_encrypted_and_indexed(runtime: Runtime) -> None:
    roster = store_roster(runtime.redis, runtime.privacy, parse_roster(EXAMPLE.read_text()), NOW)
    asha = responder_for_phone(runtime, "+91 98111 00001")
    assert asha is not None
    assert asha.id == "asha"
    farhan = responder_for_telegram(runtime, 510000004)
    assert farhan is not None
    assert farhan.supervisor
    assert responder_for_telegram(runtime, 999) is None
    assert responder_for_phone(runtime, "+919811100009") is None
    dump = _everything(runtime.redis)
    for secret in ("9811100001", "9811100002", "9811100004", "510000001", "510000004"):
        assert secret not in dump
    assert roster.responder("ravi") is not None
    assert not roster.responder("ravi").has_telegram  # type: ignore[union-attr]


def _everything(client: redis.Redis) -> str:
    parts = []
    for key in client.scan_iter("*"):
        parts.append(key.decode())
        kind = client.type(key)
        if kind == b"string":
            parts.append(client.get(key).decode())  # type: ignore[union-attr]
        elif kind == b"hash":
            parts += [f"{k.decode()}={v.decode()}" for k, v in client.hgetall(key).items()]
    return "\n".join(parts)


def _error(text: str) -> RosterError:
    with pytest.raises(RosterError) as info:
        parse_roster(text, "r.toml")
    return info.value


def _line_of(text: str, needle: str, nth: int = 0) -> int:
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return lines[nth]


def test_wrong_type_names_the_line_and_shows_an_example() -> None:
    text = EXAMPLE.read_text().replace('languages = ["bn", "en"]', 'languages = "bn"')
    error = _error(text)
    assert len(error.problems) == 1
    problem = error.problems[0]
    assert problem.line == _line_of(text, 'languages = "bn"')
    assert problem.where == "responders[2].languages"
    assert 'languages = ["hi", "ne", "en"]' in str(error)


def test_unknown_member_and_bad_notify_are_located() -> None:
    text = (
        EXAMPLE.read_text()
        .replace('members = ["ravi", "asha", "mitali"]', 'members = ["ravi", "asha", "mitaly"]')
        .replace('notify = "everyone_on_call"', 'notify = "everybody"')
    )
    error = _error(text)
    lines = {p.where: p.line for p in error.problems}
    assert lines["rotations[1].members"] == _line_of(text, '"mitaly"')
    assert lines["escalation.critical.steps[3].notify"] == _line_of(text, '"everybody"')
    assert "r.toml line" in str(error)


def test_bad_duration_unknown_field_and_syntax() -> None:
    bad_shift = EXAMPLE.read_text().replace('shift = "1d"', 'shift = "1 day"')
    problem = _error(bad_shift).problems[0]
    assert problem.line == _line_of(bad_shift, '"1 day"')
    assert "90s" in str(problem)
    typo = EXAMPLE.read_text().replace('skills = ["legal"]', 'skils = ["legal"]')
    problem = _error(typo).problems[0]
    assert problem.line == _line_of(typo, "skils")
    assert "unknown field" in problem.message
    broken = EXAMPLE.read_text().replace('name = "Ravi Kumar"', 'name = "Ravi Kumar')
    assert "line 18" in str(_error(broken))


def test_rotation_hands_over_at_the_local_minute_across_dst(process_tz: str) -> None:
    roster = parse_roster(LONDON)
    # Spring forward, Sun 29 Mar 2026 01:00 UTC. 08:00 BST is 07:00 UTC.
    assert who_is_on_call(roster, datetime(2026, 3, 29, 6, 59, tzinfo=UTC))["primary"] == ["b"]
    assert who_is_on_call(roster, datetime(2026, 3, 29, 7, 0, tzinfo=UTC))["primary"] == ["a"]
    # Fall back, Sun 25 Oct 2026 01:00 UTC. 20:00 GMT that evening is 20:00 UTC.
    assert who_is_on_call(roster, datetime(2026, 10, 25, 19, 59, tzinfo=UTC))["primary"] == ["a"]
    assert who_is_on_call(roster, datetime(2026, 10, 25, 20, 0, tzinfo=UTC))["primary"] == ["b"]
    # A weekly shift crossing the change still hands over at 09:00 local on Monday.
    assert who_is_on_call(roster, datetime(2026, 10, 26, 8, 59, tzinfo=UTC))["weekly"] == ["a"]
    assert who_is_on_call(roster, datetime(2026, 10, 26, 9, 0, tzinfo=UTC))["weekly"] == ["b"]


def test_override_applies_in_local_time(process_tz: str) -> None:
    roster = parse_roster(LONDON)
    # 00:30-01:30 local on 25 Oct (BST until 01:00 UTC): 23:30 UTC on the 24th.
    assert who_is_on_call(roster, datetime(2026, 10, 24, 23, 29, tzinfo=UTC))["primary"] == ["b"]
    assert who_is_on_call(roster, datetime(2026, 10, 24, 23, 30, tzinfo=UTC))["primary"] == ["c"]


def test_example_overrides_and_before_start() -> None:
    roster = parse_roster(EXAMPLE.read_text())
    assert who_is_on_call(roster, NOW) == {"primary": ["asha"], "secondary": ["ravi"]}
    christmas = datetime(2026, 12, 25, 3, 0, tzinfo=UTC)
    assert who_is_on_call(roster, christmas)["primary"] == ["ravi"]
    early = datetime(2026, 11, 2, 2, 29, tzinfo=UTC)  # 07:59 in Kolkata: not started yet
    assert who_is_on_call(roster, early) == {"primary": [], "secondary": []}


# ------------------------------------------------------------------ CLI
@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAJAG_REDIS_URL", str(settings.redis_url))
    monkeypatch.setenv("SAJAG_SECRET_KEY", "test-secret-key-not-for-production")
    monkeypatch.setenv("SAJAG_DATA_DIR", str(settings.data_dir))


def test_cli_import_list_and_oncall(cli_env: None, redis_client: redis.Redis) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["responders", "import", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "Imported 4 responder(s)" in result.output
    listed = runner.invoke(main, ["responders", "list", "--json"])
    rows = json.loads(listed.output)
    assert rows[1] == {
        "id": "ravi",
        "name": "Ravi Kumar",
        "languages": ["hi", "en"],
        "regions": ["IN-BR", "IN-UP"],
        "skills": ["legal"],
        "supervisor": False,
        "has_phone": True,
        "has_telegram": False,
    }
    assert "98111" not in listed.output
    on_call = runner.invoke(main, ["oncall", "--at", "2026-12-24T09:30", "--json"])
    data = json.loads(on_call.output)
    assert data["rotations"] == {"primary": ["ravi"], "secondary": ["asha"]}
    assert data["at"] == "2026-12-24T09:30:00+05:30"
    utc = runner.invoke(main, ["oncall", "--at", "2026-11-02T03:00Z"])
    assert "primary      asha (Asha Rai)" in utc.output


def test_cli_import_of_a_bad_file_fails_with_the_line(
    cli_env: None, redis_client: redis.Redis, tmp_path: Path
) -> None:
    text = EXAMPLE.read_text().replace('phone = "+919811100002"', 'phone = "12"')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    result = CliRunner().invoke(main, ["responders", "import", str(bad)])
    assert result.exit_code != 0
    bad_line = _line_of(text, 'phone = "12"')
    assert f"line {bad_line}" in result.output
    assert "responders[1].phone" in result.output
    assert redis_client.get("sajag:responders:roster") is None
