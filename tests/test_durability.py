"""Whole-system faults: `sajag run` killed with SIGKILL right after answering a report."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from twilio.request_validator import RequestValidator

from bot.redis import free_port
from bot.settings import SANDBOX_TWILIO_AUTH_TOKEN

pytestmark = pytest.mark.slow
SAJAG = [sys.executable, "-m", "bot.cli"]
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAJAG_")}
    env.update(
        SAJAG_DATA_DIR=str(data_dir),
        SAJAG_PORT=str(port),
        SAJAG_PUBLIC_URL=f"http://127.0.0.1:{port}",
        SAJAG_LOG_LEVEL="WARNING",
    )
    return env


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    with (data_dir.parent / "run.log").open("ab") as log:
        return subprocess.Popen(
            [*SAJAG, "run"],
            env=_env(data_dir, port),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


def _health(port: int, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                body = json.loads(resp.read())
                if body["workers"] and body["scheduler"]:
                    return body
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"sajag run did not become healthy on port {port}")


def _post_sms(port: int, body: str, sid: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{port}/sms/twilio"
    params = {
        "MessageSid": sid,
        "From": "+919811122233",
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(SANDBOX_TWILIO_AUTH_TOKEN).compute_signature(url, params)
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(params).encode(), headers={"X-Twilio-Signature": signature}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
        return resp.status, resp.read().decode()


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    yield data
    pidfile = data / "redis" / "redis.pid"
    if pidfile.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text()), signal.SIGTERM)


def _redis_url(data_dir: Path) -> str:
    return str(json.loads((data_dir / "run.json").read_text())["redis_url"])


def _alerted(client: redis.Redis, ref: str) -> bool:
    entries = [json.loads(raw) for raw in client.lrange("sajag:outbox", 0, -1)]
    return any(e["case_ref"] == ref and e["kind"] == "alert" for e in entries)


def test_kill_9_of_the_whole_run_loses_nothing(run_dir: Path) -> None:
    port = free_port()
    first = _start(run_dir, port)
    try:
        _health(port)
        imported = subprocess.run(
            [*SAJAG, "responders", "import", str(EXAMPLES / "responders.toml")],
            env=_env(run_dir, port),
            capture_output=True,
            text=True,
            check=False,
        )
        assert imported.returncode == 0, imported.stdout + imported.stderr
        status, twiml = _post_sms(
            port, "a girl about 12 is locked in a room at the lodge right now", "SMkill1"
        )
        assert status == 200
        os.killpg(first.pid, signal.SIGKILL)  # the whole group, no goodbye
        first.wait(10)

        second = _start(run_dir, port)
        try:
            _health(port)
            client = redis.Redis.from_url(_redis_url(run_dir))
            refs = [r.decode() for r in client.zrange("sajag:cases", 0, -1)]
            assert len(refs) == 1
            assert refs[0] in twiml, "the reporter was given this case's reference"
            # Routed, whether its job survived the kill or the reconciler re-created it.
            deadline = time.monotonic() + 100
            while not _alerted(client, refs[0]) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert _alerted(client, refs[0]), "the case reached a responder after the restart"
            again, _ = _post_sms(
                port, "a girl about 12 is locked in a room at the lodge right now", "SMkill1"
            )
            assert again == 200
            assert client.zcard("sajag:cases") == 1, "the retried webhook made no second case"
        finally:
            os.killpg(second.pid, signal.SIGINT)
            second.wait(30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)


def _group_pids(pgid: int) -> set[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "-g", str(pgid)], capture_output=True, text=True, check=False
    )
    return {int(p) for p in out.stdout.split()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def test_ctrl_c_stops_everything(run_dir: Path) -> None:
    port = free_port()
    proc = _start(run_dir, port)
    _health(port)
    pids = _group_pids(proc.pid) | {int((run_dir / "redis" / "redis.pid").read_text())}
    assert len(pids) >= 4, "supervisor, redis, web and worker"
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(30) == 0
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in pids if _alive(p)] == []
    assert not (run_dir / "run.json").exists()
