"""``sajag doctor``: plain-words checks of everything Sajag needs."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from rq import Worker

from bot.i18n import LOCALES_DIR, missing_compiled
from bot.outbound import channel_modes
from bot.privacy import SECRET_FILE
from bot.redis import RedisSetupError, check_eviction_policy, connect, find_server_binary
from bot.runtime import resolve_redis_url
from bot.settings import Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(settings: Settings) -> list[Check]:
    checks = [Check("settings", True, "loaded from the environment / .env")]
    checks.append(_secret(settings))
    checks += _redis(settings)
    checks.append(_catalogs())
    checks.append(_triage())
    modes = channel_modes(settings)
    checks.append(Check("channels", True, ", ".join(f"{k}: {v}" for k, v in modes.items())))
    return checks


def _secret(settings: Settings) -> Check:
    if settings.secret_key is not None:
        return Check("secret key", True, "SAJAG_SECRET_KEY is set")
    path = settings.data_dir / SECRET_FILE
    if path.exists():
        return Check("secret key", True, f"generated key in {path} (back it up)")
    return Check("secret key", True, f"none yet: 'sajag run' will generate {path}")


def _redis(settings: Settings) -> list[Check]:
    out = []
    if settings.redis_url is None:
        try:
            out.append(Check("redis binary", True, f"embedded server: {find_server_binary()}"))
        except RedisSetupError as exc:
            return [Check("redis binary", False, str(exc))]
    try:
        url = resolve_redis_url(settings)
    except RedisSetupError as exc:
        return [*out, Check("redis", False, str(exc))]
    client = connect(url)
    try:
        client.ping()
        check_eviction_policy(client)
        durable = client.config_get("appendonly").get("appendonly") == "yes"
        out.append(Check("redis", True, f"answers at {url.split('@')[-1]}, noeviction"))
        out.append(
            Check(
                "redis persistence",
                durable,
                "AOF on"
                if durable
                else "AOF is off: reports can be lost on restart; set 'appendonly yes'",
            )
        )
        workers = Worker.count(connection=client)
        scheduler = bool(client.exists("rq:scheduler-lock:sajag"))
        out.append(
            Check(
                "workers",
                workers > 0 and scheduler,
                f"{workers} worker(s), scheduler {'running' if scheduler else 'not running'}"
                + ("" if workers else ": start 'sajag worker' (or 'sajag run')"),
            )
        )
    except (redis.RedisError, RedisSetupError) as exc:
        out.append(Check("redis", False, f"{url.split('@')[-1]}: {exc}"))
    finally:
        client.close()
    return out


def _catalogs() -> Check:
    pos = list(LOCALES_DIR.glob("*/LC_MESSAGES/*.po"))
    if not pos:
        return Check("catalogs", False, f"no .po files under {LOCALES_DIR}")
    stale = missing_compiled()
    if stale:
        names = ", ".join(str(p.relative_to(LOCALES_DIR)) for p in stale[:5])
        return Check("catalogs", False, f"not compiled: {names}; run 'make locales'")
    return Check("catalogs", True, f"{len(pos)} catalogs compiled")


def _triage() -> Check:
    try:
        from triage import assess

        verdict = assess("a 12 year old girl is locked in a room right now, help")
    except Exception as exc:
        return Check("triage", False, f"lexicons failed to load: {exc}")
    return Check("triage", True, f"lexicons load; a test report scores {verdict.urgency}")
