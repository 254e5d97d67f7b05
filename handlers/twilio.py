"""Twilio SMS/WhatsApp webhook (placeholder until the SMS channel lands)."""

from __future__ import annotations

from aiohttp import web

from bot.runtime import Runtime


def setup(app: web.Application, runtime: Runtime) -> None:
    """Register the Twilio routes on ``app``."""
