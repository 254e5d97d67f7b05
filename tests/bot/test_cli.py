"""The `sajag` commands against a real Redis; no address ever printed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.models import Channel
from bot.runtime import Runtime
from bot.settings import Settings

PHONE = "+919876500001"


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "SAJAG_REDIS_URL": str(settings.redis_url),
        "SAJAG_DATA_DIR": str(settings.data_dir),
        "SAJAG_SECRET_KEY": settings.secret_key.get_secret_value() if settings.secret_key else "",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_cases_list_and_show(runtime: Runtime, cli_env: dict[str, str]) -> None:
    intake = runtime.intake.submit(
        channel=Channel.SMS,
        address=PHONE,
        text="a girl is locked in the lodge room right now",
        message_id="SMc1",
    )
    ref = intake.case.ref
    runner = CliRunner()
    listed = runner.invoke(main, ["cases", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [r["ref"] for r in rows] == [ref]
    shown = runner.invoke(main, ["cases", "show", ref.replace("-", "").lower(), "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    for field in (
        "ref",
        "status",
        "urgency",
        "score",
        "categories",
        "signals",
        "channel",
        "language",
        "created_at",
        "messages",
        "assignments",
        "audit",
    ):
        assert field in data
    assert data["urgency"] == "critical"
    assert data["messages"][0]["text"].startswith("a girl")
    text = runner.invoke(main, ["cases", "show", ref])
    assert ref in text.output and "signals:" in text.output
    for out in (listed.output, shown.output, text.output):
        assert "9876500001" not in out
        assert intake.case.reporter not in out


def test_cases_show_explains_a_bad_reference(cli_env: dict[str, str], redis_client: object) -> None:
    result = CliRunner().invoke(main, ["cases", "show", "hello"])
    assert result.exit_code != 0
    assert "K7Q-4TD" in result.output
    missing = CliRunner().invoke(main, ["cases", "show", "AAA-AAA"])
    assert missing.exit_code != 0 and "sajag cases list" in missing.output


def test_outbox_lists_sandboxed_messages(runtime: Runtime, cli_env: dict[str, str]) -> None:
    from bot.outbound import Outgoing

    runtime.outbound.send(
        Outgoing(
            channel=Channel.SMS,
            to=PHONE,
            text="Case K7Q-4TD: critical",
            label="asha",
            key="k1",
            case_ref="K7Q-4TD",
            kind="alert",
        )
    )
    result = CliRunner().invoke(main, ["outbox", "--json"])
    assert result.exit_code == 0
    (entry,) = json.loads(result.output)
    assert entry["to"] == "asha" and entry["kind"] == "alert"
    assert "9876500001" not in result.output


def test_outbound_send_is_idempotent_per_key(runtime: Runtime) -> None:
    from bot.outbound import Outgoing, read_outbox

    msg = Outgoing(channel=Channel.TELEGRAM, to="510000001", text="alert", label="asha", key="same")
    assert runtime.outbound.send(msg).status == "sent"
    assert runtime.outbound.send(msg).status == "duplicate"
    assert len(read_outbox(runtime.redis)) == 1


def test_triage_command_streams_json_lines(cli_env: dict[str, str]) -> None:
    lines = "\n".join(
        [
            json.dumps(
                {"id": "a", "text": "the train to Delhi leaves tonight with 3 small boys, help"}
            ),
            "not json",
            json.dumps({"id": "c", "text": "hello, how do I report?"}),
        ]
    )
    result = CliRunner().invoke(main, ["triage"], input=lines + "\n")
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [o.get("id") for o in out] == ["a", None, "c"]
    assert out[0]["urgency"] == "critical" and out[0]["signals"]
    assert "error" in out[1]
    assert out[2]["urgency"] == "low"


def test_doctor_is_red_without_workers_and_green_with_one(
    settings: Settings, cli_env: dict[str, str], redis_client: object
) -> None:
    redis_client.config_set("appendonly", "yes")  # type: ignore[attr-defined]
    red = CliRunner().invoke(main, ["doctor"])
    assert red.exit_code == 1
    assert "sajag worker" in red.output
    env = {**os.environ, **cli_env}
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        green = CliRunner().invoke(main, ["doctor"])
        while green.exit_code != 0 and time.monotonic() < deadline:
            time.sleep(0.3)
            green = CliRunner().invoke(main, ["doctor"])
        assert green.exit_code == 0, green.output
        assert "All green" in green.output
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
        redis_client.config_set("appendonly", "no")  # type: ignore[attr-defined]
