"""``sajag responders import|list`` and ``sajag oncall``: no phone or chat id is ever shown."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from bot.models import utcnow
from bot.responders import Roster, RosterError, import_roster_file, load_roster, who_is_on_call

log = logging.getLogger(__name__)


def _runtime() -> Any:
    from bot.cli import _runtime as build
    from bot.cli import load_settings

    return build(load_settings())


def _loaded(runtime: Any) -> Roster:
    roster = load_roster(runtime.redis)
    if roster is None:
        raise click.ClickException(
            "no responders imported yet: run 'sajag responders import examples/responders.toml' "
            "(or your own file)"
        )
    return roster


@click.group()
def responders() -> None:
    """Import and list responders."""


@responders.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Validate FILE (TOML) and replace the stored responders, rotations and escalation."""
    text = file.read_text(encoding="utf-8")
    runtime = _runtime()
    try:
        roster = import_roster_file(runtime, str(file), text, utcnow())
    except RosterError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Imported {len(roster.responders)} responder(s), {len(roster.rotations)} rotation(s), "
        f"{len(roster.overrides)} override(s); time zone {roster.timezone}."
    )


@responders.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_command(as_json: bool) -> None:
    """List responders (contact details only as has_phone / has_telegram)."""
    roster = _loaded(_runtime())
    rows = [r.public_dict() for r in roster.responders]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(f"{'ID':12} {'NAME':20} {'LANGUAGES':14} {'REGIONS':16} {'CONTACT':15} SKILLS")
    for r in rows:
        contact = "+".join(
            name for name, has in (("sms", r["has_phone"]), ("telegram", r["has_telegram"])) if has
        )
        role = " (supervisor)" if r["supervisor"] else ""
        click.echo(
            f"{r['id']:12} {r['name']:20} {','.join(r['languages']):14} "
            f"{','.join(r['regions']):16} {contact:15} {','.join(r['skills']) or '-'}{role}"
        )


def parse_at(value: str | None, roster: Roster) -> datetime:
    """ISO 8601; a time without an offset is read in the roster's zone."""
    if value is None:
        return utcnow()
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not ISO 8601; write e.g. 2026-12-24T09:30 or 2026-12-24T04:00Z"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=roster.zone)


@click.command()
@click.option("--at", "at_text", default=None, help="ISO 8601 time (default: now).")
@click.option("--json", "as_json", is_flag=True)
def oncall(at_text: str | None, as_json: bool) -> None:
    """Who is on call now (or --at TIME), per rotation, overrides applied."""
    roster = _loaded(_runtime())
    at = parse_at(at_text, roster)
    on_call = who_is_on_call(roster, at)
    local = at.astimezone(roster.zone)
    if as_json:
        data = {
            "at": at.isoformat(),
            "local": local.isoformat(),
            "timezone": roster.timezone,
            "rotations": on_call,
            "supervisors": [r.id for r in roster.supervisors()],
        }
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"On call at {local:%Y-%m-%d %H:%M} {roster.timezone}:")
    for rotation, ids in on_call.items():
        names = [f"{i} ({r.name})" if (r := roster.responder(i)) else i for i in ids]
        click.echo(f"  {rotation:12} {', '.join(names) or 'nobody'}")
    supervisors = ", ".join(r.id for r in roster.supervisors()) or "none"
    click.echo(f"  supervisors  {supervisors}")


def import_on_start(runtime: Any, path: Path) -> None:
    """SAJAG_RESPONDERS_FILE: import at worker start. A bad file keeps the stored roster
    (routing goes on with it) and says what to fix."""
    try:
        roster = import_roster_file(runtime, str(path), path.read_text(encoding="utf-8"), utcnow())
    except (OSError, RosterError) as exc:
        log.error("SAJAG_RESPONDERS_FILE not imported; keeping the stored responders. %s", exc)
        return
    log.info("imported %d responder(s) from %s", len(roster.responders), path)
