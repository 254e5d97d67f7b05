"""Telegram channel (placeholder until the Telegram channel lands)."""

from __future__ import annotations

from aiohttp import web

from bot.runtime import Runtime


def setup(app: web.Application, runtime: Runtime) -> None:
    """Register the Telegram webhook route and polling start-up on ``app``."""
