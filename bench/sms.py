"""SMS webhook benchmark: ``python -m bench.sms``.

Starts ``sajag run`` (embedded Redis, AOF ``appendfsync always``) on loopback and a bare
aiohttp handler returning fixed TwiML (the floor), then for each:
(a) a burst of 1,000 signed webhooks at once: errors, messages stored, time until the
    last reply, and time until the worker has drained the routing jobs they queued;
(b) 2,000 webhooks at a steady 200/s: p50 and p99 latency.
Prints a markdown table. Loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import redis
from twilio.request_validator import RequestValidator

from bot.jobs import get_queue
from bot.redis import free_port
from bot.settings import SANDBOX_TWILIO_AUTH_TOKEN

BARE_APP = """
import sys
from aiohttp import web
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>ok</Message></Response>'
async def handle(request):
    await request.read()
    return web.Response(text=TWIML, content_type="text/xml")
app = web.Application()
app.router.add_post("/sms/twilio", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

REPORTS = [
    "a girl about 12 is being taken to the station right now by a man",
    "ek ladka 10 saal ka dhaba pe kaam karta hai raat bhar",
    "দুটি মেয়েকে আজ রাতে বর্ডার পার করানো হবে",
    "मेरी पड़ोसी की बेटी 14 साल की है, कल उसकी शादी है",
]


@dataclass
class Result:
    name: str
    sent: int
    errors: int
    seconds: float
    latencies: list[float]

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return (
            ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000
            if ordered
            else float("nan")
        )


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - loopback
            return
        except urllib.error.HTTPError:
            return  # it answers: good enough (the bare app has no GET route)
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answered at {url} within {timeout}s")


def signed(base: str, sid: str, sender: str, body: str) -> tuple[dict[str, str], dict[str, str]]:
    params = {
        "MessageSid": sid,
        "From": sender,
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(SANDBOX_TWILIO_AUTH_TOKEN).compute_signature(
        base + "/sms/twilio", params
    )
    return params, {"X-Twilio-Signature": signature}


async def post(session: aiohttp.ClientSession, base: str, i: int, tag: str) -> tuple[bool, float]:
    params, headers = signed(base, f"SM{tag}{i:030d}", f"+9198{i:08d}", REPORTS[i % len(REPORTS)])
    start = time.perf_counter()
    try:
        async with session.post(base + "/sms/twilio", data=params, headers=headers) as resp:
            await resp.read()
            ok = resp.status == 200
    except aiohttp.ClientError:
        ok = False
    return ok, time.perf_counter() - start


async def burst(base: str, n: int, tag: str) -> Result:
    connector = aiohttp.TCPConnector(limit=n)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as session:
        start = time.perf_counter()
        results = await asyncio.gather(*[post(session, base, i, tag) for i in range(n)])
        elapsed = time.perf_counter() - start
    return Result(
        "burst", n, sum(not ok for ok, _ in results), elapsed, [lat for _, lat in results]
    )


async def steady(base: str, n: int, rate: float, tag: str) -> Result:
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        start = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(session, base, i, tag)))
        results = await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return Result(
        "steady", n, sum(not ok for ok, _ in results), elapsed, [lat for _, lat in results]
    )


def start_sajag(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAJAG_")}
    env.update(
        SAJAG_DATA_DIR=str(data_dir),
        SAJAG_PORT=str(port),
        SAJAG_LOG_LEVEL="WARNING",
        SAJAG_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def sajag_redis(data_dir: Path) -> redis.Redis:
    url = json.loads((data_dir / "run.json").read_text())["redis_url"]
    return redis.Redis.from_url(url)


def drained_after(client: redis.Redis, since: float, timeout: float = 300) -> float:
    """Seconds from ``since`` until the job queue is empty and no job is running."""
    queue = get_queue(client)
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if queue.count == 0 and queue.started_job_registry.count == 0:
            return time.perf_counter() - since
        time.sleep(0.05)
    return float("nan")


def stored_messages(client: redis.Redis) -> int:
    total = 0
    for key in client.scan_iter("sajag:case:*:messages", count=1000):
        total += int(client.llen(key))
    return total


def run(burst_n: int, steady_n: int, rate: float) -> str:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        sajag_port, bare_port = free_port(), free_port()
        sajag = start_sajag(data_dir, sajag_port)
        bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(bare_port)])
        try:
            wait_http(f"http://127.0.0.1:{sajag_port}/healthz")
            wait_http(f"http://127.0.0.1:{bare_port}/")
            for name, port in (("sajag run", sajag_port), ("bare aiohttp (floor)", bare_port)):
                base = f"http://127.0.0.1:{port}"
                tag = "b" if port == sajag_port else "x"
                started = time.perf_counter()
                b = asyncio.run(burst(base, burst_n, tag))
                stored: int | None = None
                drained: float | None = None
                if port == sajag_port:
                    client = sajag_redis(data_dir)
                    stored = stored_messages(client)
                    drained = drained_after(client, started)
                s = asyncio.run(steady(base, steady_n, rate, tag + "s"))
                rows.append((name, b, stored, drained, s))
        finally:
            os.killpg(sajag.pid, signal.SIGINT)
            sajag.wait(60)
            bare.terminate()
            bare.wait(10)
    lines = [
        f"| server | (a) burst {burst_n}: errors | messages stored | last reply | "
        f"jobs drained | (b) {steady_n} at {rate:g}/s: errors | p50 | p99 | mean |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, b, stored, drained, s in rows:
        lines.append(
            f"| {name} | {b.errors} | {'-' if stored is None else stored} | {b.seconds:.2f} s | "
            f"{'-' if drained is None else f'{drained:.2f} s'} | "
            f"{s.errors} | {s.pct(0.50):.1f} ms | {s.pct(0.99):.1f} ms | "
            f"{statistics.fmean(s.latencies) * 1000:.1f} ms |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--steady", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    print(run(args.burst, args.steady, args.rate))


if __name__ == "__main__":
    main()
