"""Outbound SMS/WhatsApp: the real twilio Client against a stand-in checked with Twilio's
OpenAPI description, driven through real RQ jobs (``workers.messaging.send_message``):
retries with backoff on 429/5xx, none on permanent errors, one send per key, and no
clear number anywhere in Redis."""

from __future__ import annotations

import contextlib
import os
import socket
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import redis
import requests
from pydantic import SecretStr
from rq import SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer

from bot import keys
from bot.jobs import get_queue
from bot.messaging import queue_outgoing
from bot.models import Channel
from bot.outbound import Button, Outgoing, PermanentSendError, TransientSendError, read_outbox
from bot.redis import EmbeddedRedis
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from bot.twilio_transport import TwilioTransport, parse_retry_after
from tests.conftest import SHARED
from tests.handlers.conftest import Phone
from tests.support.twilio_standin import CREATE_PATH, TwilioStandIn
from workers import context

ACCOUNT = "AC" + "1f" * 16
TOKEN = "twilio-test-token"
SENDER = "+15005550006"
NUMBER = "+919811100001"
NATIONAL = NUMBER[3:]  # how a leak would look whatever the encoding of the "+"
MESSAGES_PATH = CREATE_PATH.format(AccountSid=ACCOUNT)
STATUS_CALLBACK = "https://sajag.example.org/sms/twilio/status"


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    server = TwilioStandIn(
        SHARED / "twilio" / "messages-v2010.openapi.json", ACCOUNT, TOKEN
    ).start()
    yield server
    server.stop()
    assert server.violations == [], "our client sent something Twilio's spec does not allow"


@pytest.fixture
def live(settings: Settings, standin: TwilioStandIn, redis_client: redis.Redis) -> Runtime:
    live_settings = settings.model_copy(
        update={
            "twilio_account_sid": ACCOUNT,
            "twilio_auth_token": SecretStr(TOKEN),
            "twilio_from": SENDER,
            "twilio_api_base": standin.url,
        }
    )
    return build_runtime(live_settings, redis_client)


@pytest.fixture
def worker_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    redis_server: EmbeddedRedis,
    settings: Settings,
    standin: TwilioStandIn,
) -> Iterator[None]:
    """What a worker process reads: jobs build their own runtime from these."""
    assert settings.secret_key is not None
    env = {
        "SAJAG_REDIS_URL": redis_server.url,
        "SAJAG_SECRET_KEY": settings.secret_key.get_secret_value(),
        "SAJAG_DATA_DIR": str(tmp_path / "worker"),
        "SAJAG_PUBLIC_URL": "https://sajag.example.org",
        "SAJAG_TWILIO_ACCOUNT_SID": ACCOUNT,
        "SAJAG_TWILIO_AUTH_TOKEN": TOKEN,
        "SAJAG_TWILIO_FROM": SENDER,
        "SAJAG_TWILIO_API_BASE": standin.url,
    }
    for name in [n for n in os.environ if n.startswith("SAJAG_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    context.uninstall()
    yield
    context.uninstall()


def message(
    key: str,
    *,
    channel: Channel = Channel.SMS,
    to: str = NUMBER,
    case_ref: str | None = None,
    buttons: tuple[Button, ...] = (),
) -> Outgoing:
    return Outgoing(
        channel=channel,
        to=to,
        text="Sajag case K7Q-4TD: critical, reply ACK K7Q-4TD",
        label="asha",
        key=key,
        case_ref=case_ref,
        kind="alert",
        buttons=buttons,
    )


def work(conn: redis.Redis) -> None:
    SimpleWorker([get_queue(conn)], connection=conn, serializer=JSONSerializer).work(burst=True)


def scheduled_in(conn: redis.Redis, since: float) -> dict[str, float]:
    """Job id -> seconds from ``since`` (a time.time() taken before the job that scheduled
    them ran) to when RQ's scheduler would enqueue it. RQ keeps whole seconds, so a delay
    of ``d`` reads as at least ``d - 1``."""
    registry = get_queue(conn).scheduled_job_registry
    return {
        job_id: registry.get_scheduled_time(job_id).timestamp() - since
        for job_id in registry.get_job_ids()
    }


def move_scheduled(conn: redis.Redis) -> int:
    """Enqueue every scheduled job now, as RQ's scheduler does when its time comes."""
    queue = get_queue(conn)
    registry = queue.scheduled_job_registry
    job_ids = registry.get_job_ids()
    for job_id in job_ids:
        job = Job.fetch(job_id, connection=conn, serializer=JSONSerializer)
        registry.remove(job)
        queue.enqueue_job(job)
    return len(job_ids)


def result(conn: redis.Redis, job_id: str) -> object:
    return Job.fetch(job_id, connection=conn, serializer=JSONSerializer).return_value()


def open_case(runtime: Runtime) -> str:
    intake = runtime.intake.submit(
        channel=Channel.SMS,
        address=NUMBER,
        text="a 14 year old girl is being taken to Delhi by bus tonight",
        message_id="SM-in-1",
        country="IN",
    )
    get_queue(runtime.redis).empty()  # type: ignore[no-untyped-call]  # the routing job is not under test here
    return intake.case.ref


def audit(runtime: Runtime, ref: str) -> list[tuple[str, str]]:
    view = runtime.store.view(ref)
    assert view is not None
    return [(entry.action, entry.detail) for entry in view.audit]


# ---------------------------------------------------------------- the stand-in itself


def test_standin_rejects_what_the_spec_forbids(standin: TwilioStandIn) -> None:
    url = standin.url + MESSAGES_PATH
    wrong_password = requests.post(
        url, data={"To": NUMBER, "From": SENDER, "Body": "x"}, auth=(ACCOUNT, "nope"), timeout=5
    )
    bad_form = requests.post(
        url,
        data={"Frm": SENDER, "Body": "x", "RiskCheck": "maybe"},
        auth=(ACCOUNT, TOKEN),
        timeout=5,
    )
    assert (wrong_password.status_code, bad_form.status_code) == (401, 400)
    problems = " | ".join(standin.violations)
    for expected in ("Basic auth", "unknown field Frm", "required field To", "RiskCheck", "21603"):
        assert expected in problems
    standin.violations.clear()


# ---------------------------------------------------------------- through RQ jobs


@pytest.mark.usefixtures("worker_env")
def test_a_queued_sms_reaches_twilio_as_the_spec_says(
    runtime: Runtime, standin: TwilioStandIn
) -> None:
    job_id = queue_outgoing(runtime, message("alert_K7Q-4TD_asha_0_sms"))
    work(runtime.redis)

    (req,) = standin.requests
    assert (req.method, req.path, req.status, req.user) == ("POST", MESSAGES_PATH, 201, ACCOUNT)
    assert req.form == {
        "To": NUMBER,
        "From": SENDER,
        "Body": "Sajag case K7Q-4TD: critical, reply ACK K7Q-4TD",
        "StatusCallback": STATUS_CALLBACK,
    }
    assert result(runtime.redis, job_id) == "sent"
    assert runtime.outbound.already_sent("alert_K7Q-4TD_asha_0_sms")


@pytest.mark.usefixtures("worker_env")
def test_whatsapp_addresses_carry_the_channel_prefix(
    runtime: Runtime, standin: TwilioStandIn
) -> None:
    queue_outgoing(runtime, message("wa1", channel=Channel.WHATSAPP, to="+8801700000001"))
    work(runtime.redis)
    (req,) = standin.requests
    assert (req.form["To"], req.form["From"]) == ("whatsapp:+8801700000001", "whatsapp:" + SENDER)


@pytest.mark.usefixtures("worker_env")
def test_a_429_is_retried_no_sooner_than_retry_after_and_sent_once(
    runtime: Runtime, standin: TwilioStandIn
) -> None:
    standin.fail_next(429, 20429, retry_after="30")
    first = queue_outgoing(runtime, message("r429"))
    before = time.time()
    work(runtime.redis)

    assert [r.status for r in standin.requests] == [429]
    assert result(runtime.redis, first) == "retrying"
    ((retry_id, delay),) = scheduled_in(runtime.redis, before).items()
    assert 29 < delay < 32, "Retry-After (30 s) outweighs the first backoff (5 s)"

    assert move_scheduled(runtime.redis) == 1
    work(runtime.redis)
    assert [r.status for r in standin.requests] == [429, 201]
    assert result(runtime.redis, retry_id) == "sent"
    assert scheduled_in(runtime.redis, before) == {}


@pytest.mark.usefixtures("worker_env")
def test_a_server_error_is_retried_after_the_backoff(
    runtime: Runtime, standin: TwilioStandIn
) -> None:
    standin.fail_next(500, 20500)
    queue_outgoing(runtime, message("r500"))
    before = time.time()
    work(runtime.redis)
    (delay,) = scheduled_in(runtime.redis, before).values()
    assert 4 < delay < 7

    move_scheduled(runtime.redis)
    work(runtime.redis)
    assert [r.status for r in standin.requests] == [500, 201]
    assert runtime.outbound.already_sent("r500")


@pytest.mark.usefixtures("worker_env")
def test_transient_failures_back_off_then_give_up_with_an_audit(
    runtime: Runtime, standin: TwilioStandIn
) -> None:
    ref = open_case(runtime)
    standin.fail_next(503, 20503, times=6)
    queue_outgoing(runtime, message("r503", case_ref=ref))
    delays: list[float] = []
    before = time.time()
    work(runtime.redis)
    while pending := scheduled_in(runtime.redis, before):
        delays += pending.values()
        move_scheduled(runtime.redis)
        before = time.time()
        work(runtime.redis)

    assert [r.status for r in standin.requests] == [503] * 6
    expected = [5, 15, 60, 180, 600]
    assert len(delays) == len(expected)
    assert all(wait - 1 < delay < wait + 2 for delay, wait in zip(delays, expected, strict=True))
    action, detail = audit(runtime, ref)[-1]
    assert action == "send_failed"
    assert "gave up after 6 attempts" in detail and "asha" in detail


@pytest.mark.usefixtures("worker_env")
def test_an_invalid_number_is_refused_once_audited_and_not_retried(
    runtime: Runtime, standin: TwilioStandIn
) -> None:
    ref = open_case(runtime)
    job_id = queue_outgoing(runtime, message("p400", case_ref=ref))
    standin.fail_next(400, 21211)
    work(runtime.redis)
    queue_outgoing(runtime, message("p400", case_ref=ref))  # a caller that tries again
    work(runtime.redis)

    assert [r.status for r in standin.requests] == [400]
    assert scheduled_in(runtime.redis, 0) == {}
    assert result(runtime.redis, job_id) == "refused"
    failures = [detail for action, detail in audit(runtime, ref) if action == "send_failed"]
    assert len(failures) == 2
    assert "21211" in failures[0] and "asha" in failures[0] and "not retried" in failures[0]
    assert NATIONAL not in " ".join(failures)


@pytest.mark.usefixtures("worker_env")
def test_the_same_key_is_sent_once(runtime: Runtime, standin: TwilioStandIn) -> None:
    first = queue_outgoing(runtime, message("same"))
    assert queue_outgoing(runtime, message("same")) == first
    work(runtime.redis)
    queue_outgoing(runtime, message("same"))
    work(runtime.redis)

    assert len(standin.requests) == 1
    assert result(runtime.redis, first) == "duplicate"


@pytest.mark.usefixtures("worker_env")
def test_other_channels_go_through_the_same_job(runtime: Runtime) -> None:
    buttons = (Button("Accept", "ack:K7Q-4TD"), Button("Can't take", "pass:K7Q-4TD"))
    queue_outgoing(runtime, message("tg1", channel=Channel.TELEGRAM, to="424242", buttons=buttons))
    work(runtime.redis)
    (entry,) = read_outbox(runtime.redis)  # no Telegram token: the sandbox transport
    assert (entry["key"], entry["to"], entry["buttons"]) == (
        "tg1",
        "asha",
        ["Accept", "Can't take"],
    )


def as_bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def values_of(conn: redis.Redis, key: bytes) -> list[bytes]:
    """The key's DUMP and every element, read by type (DUMP alone may be LZF-compressed)."""
    readers: dict[bytes, Callable[[], Iterable[object]]] = {
        b"string": lambda: [conn.get(key)],
        b"list": lambda: conn.lrange(key, 0, -1),
        b"set": lambda: list(conn.smembers(key)),
        b"zset": lambda: conn.zrange(key, 0, -1),
        b"hash": lambda: [item for pair in conn.hgetall(key).items() for item in pair],
        b"stream": lambda: [repr(conn.xrange(key))],
    }
    elements = readers.get(as_bytes(conn.type(key)), tuple)()
    return [as_bytes(conn.dump(key))] + [as_bytes(e) for e in elements]


def redis_contents(conn: redis.Redis) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) for every value in Redis, plus RQ's zlib-compressed job data unpacked."""
    for key in conn.scan_iter(count=1000):
        for value in values_of(conn, key):
            yield key, value
            with contextlib.suppress(zlib.error):
                yield key, zlib.decompress(value)


@pytest.mark.usefixtures("worker_env")
def test_no_clear_number_anywhere_in_redis(
    runtime: Runtime, standin: TwilioStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    ref = open_case(runtime)
    standin.fail_next(500, 20500)
    queue_outgoing(runtime, message("priv-sms", case_ref=ref))
    queue_outgoing(runtime, message("priv-wa", channel=Channel.WHATSAPP, case_ref=ref))
    work(runtime.redis)

    contents = list(redis_contents(runtime.redis))
    leaks = {key for key, value in contents if NATIONAL.encode() in key + value}
    assert leaks == set()
    assert NATIONAL not in caplog.text
    assert any(b"priv-sms" in value for _, value in contents), "job data was inspected"
    assert scheduled_in(runtime.redis, 0), "a retry payload was waiting in Redis"


# ---------------------------------------------------------------- the transport directly


def test_the_transport_maps_provider_errors(live: Runtime, standin: TwilioStandIn) -> None:
    standin.fail_next(429, 20429, retry_after="7")
    with pytest.raises(TransientSendError) as transient:
        live.outbound.send(message("t1"))
    assert transient.value.retry_after == 7
    standin.fail_next(400, 21610)
    with pytest.raises(PermanentSendError, match="21610"):
        live.outbound.send(message("t2"))


def test_an_unreachable_twilio_is_transient(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    transport = TwilioTransport(
        settings.model_copy(
            update={
                "twilio_account_sid": ACCOUNT,
                "twilio_auth_token": SecretStr(TOKEN),
                "twilio_from": SENDER,
                "twilio_api_base": f"http://127.0.0.1:{closed_port}",
            }
        )
    )
    with pytest.raises(TransientSendError, match="unreachable") as exc:
        transport.send(message("down"))
    assert NATIONAL not in str(exc.value)


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_missing_credentials_say_which_settings(settings: Settings) -> None:
    with pytest.raises(ValueError, match="SAJAG_TWILIO_ACCOUNT_SID"):
        TwilioTransport(settings)


@pytest.mark.usefixtures("worker_env")
async def test_an_undelivered_receipt_is_audited_on_its_case(
    runtime: Runtime, standin: TwilioStandIn, phone: Phone
) -> None:
    ref = open_case(runtime)
    queue_outgoing(runtime, message("alert_undelivered", case_ref=ref))
    work(runtime.redis)
    marker = runtime.redis.get(keys.sent("alert_undelivered"))
    assert isinstance(marker, bytes) and marker.startswith(b"sent:SM")
    sid = marker.decode().removeprefix("sent:")
    receipts = [("sent", None), ("undelivered", "30003"), ("delivered", None)]
    for state, code in receipts:
        params = {"MessageSid": sid, "MessageStatus": state, "AccountSid": ACCOUNT}
        params |= {"ErrorCode": code} if code else {}
        resp = await phone.post(params, path="/sms/twilio/status")
        assert resp.status == 200
    failed = [detail for action, detail in audit(runtime, ref) if action == "delivery_failed"]
    assert len(failed) == 1, "one audit entry however often Twilio repeats itself"
    assert "undelivered" in failed[0] and "30003" in failed[0] and "asha" in failed[0]
    assert runtime.redis.hget(f"sajag:sms:status:{sid}", "status") == b"undelivered"
