"""``sajag responders`` and ``sajag oncall`` (placeholder)."""

from __future__ import annotations

import click


@click.group()
def responders() -> None:
    """Import and list responders."""


@click.command()
def oncall() -> None:
    """Who is on call."""
