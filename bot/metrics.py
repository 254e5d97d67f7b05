"""Counters and histograms kept in Redis (shared by web and worker processes), rendered
as Prometheus text for ``GET /metrics``."""

from __future__ import annotations

import math

import redis
from redis.client import Pipeline
from rq import Worker

from bot import keys
from bot.jobs import get_queue

# Seconds: from "within a second" to "within a day", the spread of alert and ack times.
BUCKETS: tuple[float, ...] = (1, 5, 15, 30, 60, 180, 300, 600, 1800, 3600, 14400, 86400, math.inf)
HISTOGRAMS = {
    "time_to_first_alert_seconds": "Seconds from report received to the first responder alert",
    "time_to_acknowledge_seconds": "Seconds from report received to a responder's acknowledgement",
}


def _bucket_label(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else f"{bound:g}"


def observe(conn: redis.Redis | Pipeline, name: str, seconds: float) -> None:
    """Record one observation; works inside a caller's MULTI pipeline."""
    key = keys.histogram(name)
    for bound in BUCKETS:
        if seconds <= bound:
            conn.hincrby(key, _bucket_label(bound), 1)
    conn.hincrby(key, "count", 1)
    conn.hincrbyfloat(key, "sum", seconds)


def _hash(client: redis.Redis, key: str) -> dict[str, float]:
    return {
        (k.decode() if isinstance(k, bytes) else str(k)): float(v)
        for k, v in client.hgetall(key).items()
    }


def render(client: redis.Redis) -> str:
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    family("sajag_reports_received_total", "counter", "Reporter messages accepted, per channel")
    for channel, value in sorted(_hash(client, keys.counter("reports_received")).items()):
        lines.append(f'sajag_reports_received_total{{channel="{channel}"}} {value:g}')
    family("sajag_cases", "gauge", "Cases by urgency")
    for urgency, value in sorted(_hash(client, keys.counter("cases_urgency")).items()):
        lines.append(f'sajag_cases{{urgency="{urgency}"}} {value:g}')
    family("sajag_cases_by_status", "gauge", "Cases by status")
    for status, value in sorted(_hash(client, keys.counter("cases_status")).items()):
        lines.append(f'sajag_cases_by_status{{status="{status}"}} {value:g}')
    family("sajag_open_cases", "gauge", "Open cases in the priority queue")
    lines.append(f"sajag_open_cases {client.zcard(keys.OPEN_QUEUE)}")
    queue = get_queue(client)
    family("sajag_queue_depth", "gauge", "Jobs waiting in the RQ queue")
    lines.append(f'sajag_queue_depth{{queue="{queue.name}"}} {queue.count}')
    family("sajag_scheduled_jobs", "gauge", "Jobs scheduled for later (escalations, retries)")
    lines.append(
        f'sajag_scheduled_jobs{{queue="{queue.name}"}} {queue.scheduled_job_registry.count}'
    )
    family("sajag_workers", "gauge", "Live RQ workers")
    lines.append(f"sajag_workers {Worker.count(connection=client)}")
    for name, help_text in HISTOGRAMS.items():
        metric = f"sajag_{name}"
        family(metric, "histogram", help_text)
        data = _hash(client, keys.histogram(name))
        for bound in BUCKETS:
            label = _bucket_label(bound)
            lines.append(f'{metric}_bucket{{le="{label}"}} {data.get(label, 0):g}')
        lines.append(f"{metric}_sum {data.get('sum', 0):g}")
        lines.append(f"{metric}_count {data.get('count', 0):g}")
    return "\n".join(lines) + "\n"
