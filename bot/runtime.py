"""Everything a process needs, built once from ``Settings`` at an entry point."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import redis

from bot.intake import IntakeService
from bot.outbound import Outbound, build_outbound
from bot.privacy import Privacy, load_or_create_secret
from bot.redis import RedisSetupError, check_eviction_policy, connect
from bot.settings import Settings
from bot.store import CaseStore

log = logging.getLogger(__name__)

RUN_STATE = "run.json"


@dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis
    store: CaseStore
    privacy: Privacy
    intake: IntakeService
    outbound: Outbound


def write_run_state(data_dir: Path, redis_url: str) -> None:
    """Tell other commands (``sajag cases``, ``doctor``…) where the embedded Redis listens."""
    data_dir.mkdir(parents=True, exist_ok=True)
    state = {"redis_url": redis_url, "pid": os.getpid()}
    (data_dir / RUN_STATE).write_text(json.dumps(state), encoding="utf-8")


def clear_run_state(data_dir: Path) -> None:
    (data_dir / RUN_STATE).unlink(missing_ok=True)


def resolve_redis_url(settings: Settings) -> str:
    if settings.redis_url:
        return settings.redis_url
    path = settings.data_dir / RUN_STATE
    if path.exists():
        url = json.loads(path.read_text(encoding="utf-8")).get("redis_url")
        if isinstance(url, str):
            return url
    raise RedisSetupError(
        "No Redis to talk to: SAJAG_REDIS_URL is unset and no 'sajag run' is running with "
        f"data dir {settings.data_dir}. Start 'sajag run' (or 'make run'), or set SAJAG_REDIS_URL."
    )


def load_secret(settings: Settings) -> str:
    configured = settings.secret_key.get_secret_value() if settings.secret_key else None
    secret, created = load_or_create_secret(configured, settings.data_dir)
    if created:
        log.warning(
            "SAJAG_SECRET_KEY is not set: generated one into %s. Back it up: without it "
            "pseudonyms change and stored reply addresses cannot be read.",
            settings.data_dir / "secret.key",
        )
    return secret


def build_runtime(settings: Settings, client: redis.Redis | None = None) -> Runtime:
    client = client or connect(resolve_redis_url(settings))
    check_eviction_policy(client)
    privacy = Privacy(load_secret(settings))
    store = CaseStore(client)
    return Runtime(
        settings=settings,
        redis=client,
        store=store,
        privacy=privacy,
        intake=IntakeService(settings, store, privacy, client),
        outbound=build_outbound(settings, client),
    )
