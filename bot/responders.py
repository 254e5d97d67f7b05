"""Responders, rotations, overrides and escalation policies: parsed from TOML, kept in Redis.

The file format is a contract (``examples/responders.toml``). Phones and Telegram chat ids
are encrypted before they reach Redis; lookups by phone or chat id go through keyed HMAC
indexes, so no raw identifier is ever a Redis key or value.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import redis
import regex
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
)

from bot.privacy import Privacy, normalize_address
from bot.runtime import Runtime

ROSTER_KEY = "sajag:responders:roster"  # string: Roster JSON (phones/chat ids encrypted)
PHONE_INDEX = "sajag:responders:by_phone"  # hash: HMAC(phone) -> responder id
TELEGRAM_INDEX = "sajag:responders:by_telegram"  # hash: HMAC(chat id) -> responder id

SUPERVISORS = "supervisors"
EVERYONE_ON_CALL = "everyone_on_call"
Via = Literal["telegram", "sms"]

_DURATION = regex.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ID = regex.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_REGION = regex.compile(r"^(\*|[A-Z]{2}(-[A-Z0-9]{1,3})?)$")
_LANG = regex.compile(r"^[a-z]{2,3}(-[A-Za-z]{4})?$")

# Shown under an error so the fix is one copy away.
EXAMPLES: dict[str, str] = {
    "timezone": 'timezone = "Asia/Kolkata"',
    "id": 'id = "asha"            # lower-case letters, digits, _ or -',
    "name": 'name = "Asha Rai"',
    "phone": 'phone = "+919811100001"   # E.164, with the country code',
    "telegram_chat_id": "telegram_chat_id = 510000001",
    "languages": 'languages = ["hi", "ne", "en"]',
    "regions": 'regions = ["IN-BR", "NP"]   # or ["*"] for anywhere',
    "skills": 'skills = ["shelter", "legal"]',
    "supervisor": "supervisor = true",
    "members": 'members = ["asha", "mitali", "ravi"]',
    "start": 'start = "2026-11-02T08:00"   # local time in `timezone`',
    "end": 'end = "2026-12-26T08:00"',
    "shift": 'shift = "12h"   # 90s, 3m, 1h, 12h, 7d',
    "rotation": 'rotation = "primary"',
    "responder": 'responder = "ravi"',
    "steps": 'steps = [ { after = "0s", notify = "primary", via = ["telegram", "sms"] } ]',
    "after": '{ after = "3m", notify = "secondary", via = ["telegram", "sms"] }',
    "notify": 'notify = "primary"   # a rotation name, "supervisors" or "everyone_on_call"',
    "via": 'via = ["telegram", "sms"]',
    "repeat_every": 'repeat_every = "10m"',
    "digest": 'digest = "09:00"',
    "rotations": '[[rotations]]\nname = "primary"\nmembers = ["asha"]\n'
    'start = "2026-11-02T08:00"\nshift = "12h"',
    "responders": '[[responders]]\nid = "asha"\nname = "Asha Rai"\nphone = "+919811100001"\n'
    'languages = ["hi", "en"]\nregions = ["*"]',
    "name_rotation": 'name = "primary"',
}


def parse_duration(value: str) -> timedelta:
    """``90s``, ``3m``, ``1h``, ``12h``, ``7d`` → timedelta."""
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration; write a number and s, m, h or d: '3m'")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _local_datetime(value: object) -> datetime:
    """Rotation and override times are wall-clock times in the file's zone (no offset)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value)
    else:
        raise ValueError("expected a local date and time like '2026-11-02T08:00'")
    if parsed.tzinfo is not None:
        raise ValueError(
            "write the local time without an offset ('2026-11-02T08:00'); "
            "the zone comes from `timezone`"
        )
    return parsed


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Strict):
    after: timedelta
    notify: str = Field(min_length=1)
    via: tuple[Via, ...] = ("telegram", "sms")

    @field_validator("after", mode="before")
    @classmethod
    def _after(cls, value: object) -> timedelta:
        return value if isinstance(value, timedelta) else parse_duration(str(value))

    @field_serializer("after")
    def _dump_after(self, value: timedelta) -> str:
        return format_duration(value)

    @field_validator("via")
    @classmethod
    def _via(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one channel: telegram, sms")
        return value


class Policy(_Strict):
    """What happens for one urgency. No steps: no alert (medium: digest only)."""

    steps: tuple[Step, ...] = ()
    repeat_every: timedelta | None = None
    digest: time | None = None

    @field_validator("repeat_every", mode="before")
    @classmethod
    def _repeat(cls, value: object) -> timedelta | None:
        if value is None or isinstance(value, timedelta):
            return value
        delta = parse_duration(str(value))
        if delta < timedelta(minutes=1):
            raise ValueError("repeat_every must be at least 1m, or responders drown in alerts")
        return delta

    @field_serializer("repeat_every")
    def _dump_repeat(self, value: timedelta | None) -> str | None:
        return None if value is None else format_duration(value)

    @field_validator("digest", mode="before")
    @classmethod
    def _digest(cls, value: object) -> time | None:
        if value is None or isinstance(value, time):
            return value
        try:
            return time.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"{value!r} is not a time of day; write it like '09:00'") from None

    def due_offset(self, index: int) -> timedelta | None:
        """When step ``index`` is due, counted from the first alert; past the last step
        the last step's people are alerted again every ``repeat_every``. None: no more."""
        if index < len(self.steps):
            return self.steps[index].after
        if not self.steps or self.repeat_every is None:
            return None
        repeats = index - len(self.steps) + 1
        return self.steps[-1].after + repeats * self.repeat_every

    def step(self, index: int) -> Step:
        return self.steps[min(index, len(self.steps) - 1)]


class Escalation(_Strict):
    critical: Policy = Policy()
    high: Policy = Policy()
    medium: Policy = Policy()
    low: Policy = Policy()

    def for_urgency(self, urgency: str) -> Policy:
        policy: Policy = getattr(self, urgency)
        return policy


class Rotation(_Strict):
    name: str = Field(min_length=1)
    members: tuple[str, ...] = Field(min_length=1)
    start: datetime
    shift: timedelta

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: object) -> datetime:
        return _local_datetime(value)

    @field_validator("shift", mode="before")
    @classmethod
    def _shift(cls, value: object) -> timedelta:
        delta = value if isinstance(value, timedelta) else parse_duration(str(value))
        if delta <= timedelta(0):
            raise ValueError("a shift must be longer than 0s")
        return delta

    @field_serializer("shift")
    def _dump_shift(self, value: timedelta) -> str:
        return format_duration(value)


class Override(_Strict):
    rotation: str
    responder: str
    start: datetime
    end: datetime

    @field_validator("start", "end", mode="before")
    @classmethod
    def _times(cls, value: object) -> datetime:
        return _local_datetime(value)


class ResponderEntry(_Strict):
    """One ``[[responders]]`` table as written in the file (raw phone and chat id)."""

    id: str
    name: str = Field(min_length=1)
    phone: str | None = None
    telegram_chat_id: int | None = None
    languages: tuple[str, ...] = Field(min_length=1)
    regions: tuple[str, ...] = ("*",)
    skills: tuple[str, ...] = ()
    supervisor: bool = False

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"{value!r}: use lower-case letters, digits, _ or - (max 32)")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            raise ValueError("not a phone number in E.164 form ('+919811100001')") from None
        if not phonenumbers.is_possible_number(number):
            raise ValueError("not a possible phone number; check the digits and country code")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for lang in value:
            if not _LANG.match(lang):
                raise ValueError(f"{lang!r} is not a language tag like 'hi', 'bn' or 'hi-Latn'")
        return value

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for region in value:
            if not _REGION.match(region):
                raise ValueError(f"{region!r} is not an ISO 3166 code like 'NP' or 'IN-BR', or '*'")
        return value


class Responder(_Strict):
    """A registered responder as stored: contact details only as encrypted tokens."""

    id: str
    name: str
    languages: tuple[str, ...]
    regions: tuple[str, ...]
    skills: tuple[str, ...] = ()
    supervisor: bool = False
    phone_token: str | None = Field(default=None, repr=False)
    telegram_token: str | None = Field(default=None, repr=False)

    @property
    def has_phone(self) -> bool:
        return self.phone_token is not None

    @property
    def has_telegram(self) -> bool:
        return self.telegram_token is not None

    @property
    def language(self) -> str:
        """The language alerts and replies are written in: the first one listed."""
        return self.languages[0]

    def speaks(self, lang: str | None) -> bool:
        if not lang:
            return True
        base = lang.split("-")[0].lower()
        return any(own.split("-")[0].lower() == base for own in self.languages)

    def covers(self, region: str | None) -> bool:
        if not region or "*" in self.regions:
            return True
        region = region.upper()
        return any(
            own == region or region.startswith(own + "-") or own.startswith(region + "-")
            for own in self.regions
        )

    def public_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "languages": list(self.languages),
            "regions": list(self.regions),
            "skills": list(self.skills),
            "supervisor": self.supervisor,
            "has_phone": self.has_phone,
            "has_telegram": self.has_telegram,
        }


class Schedule(_Strict):
    """What on-call questions need: the zone, rotations and overrides."""

    timezone: str
    rotations: tuple[Rotation, ...] = ()
    overrides: tuple[Override, ...] = ()
    escalation: Escalation = Escalation()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone like 'Asia/Kolkata'") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def rotation(self, name: str) -> Rotation | None:
        return next((r for r in self.rotations if r.name == name), None)


class RosterFile(Schedule):
    responders: tuple[ResponderEntry, ...] = Field(min_length=1)


class Roster(Schedule):
    responders: tuple[Responder, ...]
    imported_at: datetime | None = None

    def responder(self, responder_id: str) -> Responder | None:
        return next((r for r in self.responders if r.id == responder_id), None)

    def supervisors(self) -> list[Responder]:
        return [r for r in self.responders if r.supervisor]


# ------------------------------------------------------------------ on call
def on_call_for_rotation(schedule: Schedule, rotation: Rotation, at: datetime) -> list[str]:
    """Who holds ``rotation`` at instant ``at`` (aware). Shifts are counted in wall-clock
    time of the file's zone, so hand-overs stay at the same local minute across DST."""
    local = at.astimezone(schedule.zone).replace(tzinfo=None)
    overriding = [
        o.responder
        for o in schedule.overrides
        if o.rotation == rotation.name and o.start <= local < o.end
    ]
    if overriding:
        return list(dict.fromkeys(overriding))
    if local < rotation.start:
        return []
    turn = (local - rotation.start) // rotation.shift
    return [rotation.members[turn % len(rotation.members)]]


def who_is_on_call(schedule: Schedule, at: datetime) -> dict[str, list[str]]:
    """Rotation name → responder ids on call at ``at`` (an aware datetime), overrides applied."""
    if at.tzinfo is None:
        raise ValueError("who_is_on_call needs an aware datetime; attach the zone first")
    return {r.name: on_call_for_rotation(schedule, r, at) for r in schedule.rotations}


def everyone_on_call(schedule: Schedule, at: datetime) -> list[str]:
    ids: dict[str, None] = {}
    for members in who_is_on_call(schedule, at).values():
        ids.update(dict.fromkeys(members))
    return list(ids)


# ------------------------------------------------------------------ parsing
@dataclass(frozen=True)
class Problem:
    line: int | None
    where: str
    message: str
    example: str | None

    def __str__(self) -> str:
        at = f"line {self.line}: " if self.line else ""
        text = f"{at}{self.where}: {self.message}"
        if self.example:
            text += "\n    for example:\n" + "\n".join(
                "      " + part for part in self.example.splitlines()
            )
        return text


class RosterError(ValueError):
    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = [f"{source}: {len(self.problems)} problem(s); nothing was imported"]
        lines += [f"  {source} {p}" for p in self.problems]
        super().__init__("\n".join(lines))


def _loc_text(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _headers(lines: Sequence[str], header: str) -> list[int]:
    pattern = regex.compile(r"^\s*" + regex.escape(header) + r"\s*(#.*)?$")
    return [i for i, line in enumerate(lines) if pattern.match(line)]


def _table_end(lines: Sequence[str], start: int) -> int:
    for i in range(start + 1, len(lines)):
        if regex.match(r"^\s*\[", lines[i]):
            return i
    return len(lines)


def _key_line(lines: Sequence[str], start: int, end: int, key: str) -> int | None:
    pattern = regex.compile(r"^\s*" + regex.escape(key) + r"\s*=")
    return next((i for i in range(start, end) if pattern.match(lines[i])), None)


def _nth_inline_table(lines: Sequence[str], start: int, end: int, nth: int) -> int | None:
    seen = -1
    for i in range(start, end):
        code = lines[i].split("#", 1)[0]
        for _ in regex.finditer(r"\{", code):
            seen += 1
            if seen == nth:
                return i
    return None


def locate(text: str, loc: Sequence[int | str]) -> int | None:
    """The 1-based line of the table or key a validation error points at, if found."""
    lines = text.splitlines()
    if not loc:
        return None
    head = loc[0]
    if head in ("responders", "rotations", "overrides") and len(loc) > 1:
        tables = _headers(lines, f"[[{head}]]")
        index = loc[1]
        if not isinstance(index, int) or index >= len(tables):
            return tables[-1] + 1 if tables else None
        start, end = tables[index], _table_end(lines, tables[index])
        key_line = _key_line(lines, start + 1, end, str(loc[2])) if len(loc) > 2 else None
        return (key_line if key_line is not None else start) + 1
    if head == "escalation" and len(loc) > 1:
        tables = _headers(lines, f"[escalation.{loc[1]}]")
        if not tables:
            return None
        start, end = tables[0], _table_end(lines, tables[0])
        if len(loc) > 2:
            key_line = _key_line(lines, start + 1, end, str(loc[2]))
            if key_line is not None and len(loc) > 3 and isinstance(loc[3], int):
                found = _nth_inline_table(lines, key_line, end, loc[3])
                return (found if found is not None else key_line) + 1
            if key_line is not None:
                return key_line + 1
        return start + 1
    key_line = _key_line(lines, 0, len(lines), str(head))
    return key_line + 1 if key_line is not None else None


def _example_for(loc: Sequence[int | str]) -> str | None:
    keys = [p for p in loc if isinstance(p, str)]
    if not keys:
        return None
    last = keys[-1]
    if last == "name" and keys[0] == "rotations":
        return EXAMPLES["name_rotation"]
    return EXAMPLES.get(last) or EXAMPLES.get(keys[0])


def _problem(text: str, loc: Sequence[int | str], message: str) -> Problem:
    return Problem(locate(text, loc), _loc_text(loc) or "file", message, _example_for(loc))


def _friendly(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return "unknown field (a typo?); the allowed fields are in examples/responders.toml"
    if error["type"] == "missing":
        return "this field is required"
    return message.replace("valid tuple", "valid list")


Issues = list[tuple[tuple[int | str, ...], str]]


def _cross_check(roster: RosterFile) -> Issues:
    """Rules that span tables: unique ids, known members, known rotations, reachable people."""
    issues = _responder_issues(roster) + _rotation_issues(roster) + _override_issues(roster)
    names = [r.name for r in roster.rotations]
    for urgency in ("critical", "high", "medium", "low"):
        issues += _policy_issues(roster, urgency, names)
    return issues


def _responder_issues(roster: RosterFile) -> Issues:
    issues: Issues = []
    ids = [r.id for r in roster.responders]
    for i, entry in enumerate(roster.responders):
        if ids.index(entry.id) != i:
            issues.append((("responders", i, "id"), f"{entry.id!r} is used twice; ids are unique"))
        if entry.phone is None and entry.telegram_chat_id is None:
            issues.append(
                (("responders", i, "phone"), f"{entry.id!r} has no phone and no telegram_chat_id")
            )
    return issues


def _rotation_issues(roster: RosterFile) -> Issues:
    issues: Issues = []
    ids = [r.id for r in roster.responders]
    names = [r.name for r in roster.rotations]
    for i, rotation in enumerate(roster.rotations):
        if names.index(rotation.name) != i:
            issues.append(
                (("rotations", i, "name"), f"rotation {rotation.name!r} is defined twice")
            )
        if rotation.name in (SUPERVISORS, EVERYONE_ON_CALL):
            issues.append((("rotations", i, "name"), f"{rotation.name!r} is a reserved word"))
        issues += [
            (("rotations", i, "members"), f"{m!r} is not a responder id (known: {', '.join(ids)})")
            for m in rotation.members
            if m not in ids
        ]
    return issues


def _override_issues(roster: RosterFile) -> Issues:
    issues: Issues = []
    ids = [r.id for r in roster.responders]
    names = [r.name for r in roster.rotations]
    for i, override in enumerate(roster.overrides):
        if override.rotation not in names:
            issues.append((("overrides", i, "rotation"), f"no rotation {override.rotation!r}"))
        if override.responder not in ids:
            issues.append((("overrides", i, "responder"), f"{override.responder!r} is unknown"))
        if override.end <= override.start:
            issues.append((("overrides", i, "end"), "end must be after start"))
    return issues


def _policy_issues(roster: RosterFile, urgency: str, names: Sequence[str]) -> Issues:
    issues: Issues = []
    policy = roster.escalation.for_urgency(urgency)
    targets = (*names, SUPERVISORS, EVERYONE_ON_CALL)
    previous = timedelta(0)
    for i, step in enumerate(policy.steps):
        where: tuple[int | str, ...] = ("escalation", urgency, "steps", i, "notify")
        if step.notify not in targets:
            issues.append((where, f"{step.notify!r} is not one of: {', '.join(targets)}"))
        if step.after < previous:
            issues.append(
                (("escalation", urgency, "steps", i, "after"), "steps must be in order of `after`")
            )
        previous = step.after
    if policy.repeat_every is not None and not policy.steps:
        issues.append((("escalation", urgency, "repeat_every"), "repeat_every needs steps"))
    return issues


def parse_roster(text: str, source: str = "responders.toml") -> RosterFile:
    """Validate the TOML text; raises ``RosterError`` naming each bad line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RosterError(source, [Problem(None, "TOML syntax", str(exc), None)]) from None
    try:
        roster = RosterFile.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(text, e["loc"], _friendly(e)) for e in exc.errors()]
        raise RosterError(source, problems) from None
    issues = _cross_check(roster)
    if issues:
        raise RosterError(source, [_problem(text, loc, message) for loc, message in issues])
    return roster


# ------------------------------------------------------------------ storage
def _phone_index_key(privacy: Privacy, phone: str) -> str:
    return privacy.pseudonym("responder-phone", normalize_address("sms", phone))


def _telegram_index_key(privacy: Privacy, chat_id: int | str) -> str:
    return privacy.pseudonym("responder-telegram", str(chat_id).strip())


def seal(roster: RosterFile, privacy: Privacy, now: datetime) -> Roster:
    """The stored form: contact details encrypted."""
    responders = tuple(
        Responder(
            id=e.id,
            name=e.name,
            languages=e.languages,
            regions=e.regions,
            skills=e.skills,
            supervisor=e.supervisor,
            phone_token=privacy.encrypt(e.phone) if e.phone else None,
            telegram_token=(
                privacy.encrypt(str(e.telegram_chat_id)) if e.telegram_chat_id is not None else None
            ),
        )
        for e in roster.responders
    )
    return Roster(
        timezone=roster.timezone,
        rotations=roster.rotations,
        overrides=roster.overrides,
        escalation=roster.escalation,
        responders=responders,
        imported_at=now,
    )


def store_roster(
    client: redis.Redis, privacy: Privacy, roster: RosterFile, now: datetime
) -> Roster:
    """Replace the stored roster and both lookup indexes in one transaction."""
    sealed = seal(roster, privacy, now)
    phones = {_phone_index_key(privacy, e.phone): e.id for e in roster.responders if e.phone}
    chats = {
        _telegram_index_key(privacy, e.telegram_chat_id): e.id
        for e in roster.responders
        if e.telegram_chat_id is not None
    }
    with client.pipeline(transaction=True) as pipe:
        pipe.set(ROSTER_KEY, sealed.model_dump_json())
        pipe.delete(PHONE_INDEX, TELEGRAM_INDEX)
        for hashed, responder_id in phones.items():
            pipe.hset(PHONE_INDEX, hashed, responder_id)
        for hashed, responder_id in chats.items():
            pipe.hset(TELEGRAM_INDEX, hashed, responder_id)
        pipe.execute()
    return sealed


def import_roster_file(runtime: Runtime, path: str, text: str, now: datetime) -> Roster:
    return store_roster(runtime.redis, runtime.privacy, parse_roster(text, path), now)


def load_roster(client: redis.Redis) -> Roster | None:
    raw = client.get(ROSTER_KEY)
    if raw is None:
        return None
    return Roster.model_validate_json(raw)


def _lookup(runtime: Runtime, index: str, hashed: str) -> Responder | None:
    raw = runtime.redis.hget(index, hashed)
    if raw is None:
        return None
    roster = load_roster(runtime.redis)
    responder_id = raw.decode() if isinstance(raw, bytes) else str(raw)
    return roster.responder(responder_id) if roster else None


def responder_for_phone(runtime: Runtime, phone: str) -> Responder | None:
    return _lookup(runtime, PHONE_INDEX, _phone_index_key(runtime.privacy, phone))


def responder_for_telegram(runtime: Runtime, chat_id: int) -> Responder | None:
    return _lookup(runtime, TELEGRAM_INDEX, _telegram_index_key(runtime.privacy, chat_id))


def contact(privacy: Privacy, responder: Responder, via: Via) -> str | None:
    """The raw address to send to over ``via``, decrypted only at the moment of sending."""
    token = responder.phone_token if via == "sms" else responder.telegram_token
    return privacy.decrypt(token) if token else None
