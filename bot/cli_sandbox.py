"""``sajag sandbox``: talk to a running Sajag as a reporter would (placeholder)."""

from __future__ import annotations

import click


@click.group()
def sandbox() -> None:
    """Send test messages to a running Sajag."""
