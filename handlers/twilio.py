"""Twilio webhooks: inbound SMS/WhatsApp (``POST /sms/twilio``) and delivery receipts
(``POST /sms/twilio/status``).

Every request is checked with twilio's ``RequestValidator`` against the public URL
(``SAJAG_PUBLIC_URL`` + path), so it is right behind a proxy. The reply is TwiML, built in
milliseconds: store, enqueue, answer; routing and alerts run in RQ workers.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape

import phonenumbers
import redis
from aiohttp import web
from twilio.request_validator import RequestValidator

from bot import sms
from bot.actions import handle_responder_text
from bot.emergency import emergency_numbers
from bot.messaging import delivery_of
from bot.models import Case, Channel, parse_ref
from bot.responders import responder_for_phone
from bot.runtime import Runtime
from bot.store import CaseNotFoundError, StoreBusyError
from bot.web import RUNTIME
from triage import detect_language

log = logging.getLogger(__name__)

REPLY_KEY = "sajag:sms:reply:{sid}"
STATUS_KEY = "sajag:sms:status:{sid}"
REPLY_TTL_SECONDS = 7 * 86400
# Delivery states in order; a late "sent" never overwrites "delivered".
STATUS_ORDER = ("accepted", "scheduled", "queued", "sending", "sent", "delivered", "read")
FINAL_FAILURES = ("failed", "undelivered", "canceled")
OPT_OUT_COMMANDS: Mapping[str, sms.Command] = {
    "stop": sms.Command("stop"),
    "start": sms.Command("start"),
    "help": sms.Command("help"),
}


@dataclass(frozen=True)
class Inbound:
    sid: str
    sender: str  # raw From: never logged, only pseudonymised or encrypted
    body: str
    media_count: int
    media_types: tuple[str, ...]
    # Set by Twilio's Advanced Opt-Out when the body matched STOP/START/HELP: Twilio has
    # already answered the reporter, so we record the change and stay silent.
    opt_out_type: str = ""

    @property
    def channel(self) -> Channel:
        return Channel.WHATSAPP if self.sender.startswith("whatsapp:") else Channel.SMS

    @property
    def phone(self) -> str:
        return self.sender.removeprefix("whatsapp:")


def twiml(text: str | None) -> str:
    if not text:
        return '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Message>{escape(text)}</Message></Response>"
    )


def twiml_response(text: str | None, status: int = 200) -> web.Response:
    return web.Response(text=twiml(text), status=status, content_type="text/xml", charset="utf-8")


def parse_form(raw: bytes) -> dict[str, str]:
    """Form fields as text; bytes that are not UTF-8 become U+FFFD, never an error."""
    pairs = urllib.parse.parse_qsl(
        raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace"
    )
    return dict(pairs)


def signature_ok(runtime: Runtime, request: web.Request, params: Mapping[str, str]) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    url = runtime.settings.base_url + request.path_qs
    validator = RequestValidator(runtime.settings.twilio_signing_token)
    return bool(validator.validate(url, dict(params), signature))


def read_inbound(params: Mapping[str, str]) -> Inbound | None:
    sid = params.get("MessageSid") or params.get("SmsMessageSid") or ""
    sender = params.get("From", "")
    if not sid or not sender:
        return None
    try:
        media_count = max(0, int(params.get("NumMedia", "0") or 0))
    except ValueError:
        media_count = 0
    media_types = tuple(
        params[f"MediaContentType{i}"]
        for i in range(min(media_count, 10))
        if f"MediaContentType{i}" in params
    )
    opt_out_type = params.get("OptOutType", "").strip().casefold()
    return Inbound(sid, sender, params.get("Body", ""), media_count, media_types, opt_out_type)


def country_of(phone: str, default_country: str) -> str:
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, default_country))
    except phonenumbers.NumberParseException:
        return default_country
    return region or default_country


# ------------------------------------------------------------------ replies


class Conversation:
    """Everything one inbound message needs; sync (run in a thread), uses Redis."""

    def __init__(self, runtime: Runtime, inbound: Inbound) -> None:
        self.runtime = runtime
        self.inbound = inbound
        self.reporter = runtime.privacy.pseudonym(inbound.channel.value, inbound.phone)
        self.country = country_of(inbound.phone, runtime.settings.default_country)

    def gettext(self, detected: str | None = None) -> Callable[[str], str]:
        preferred = self.runtime.store.get_pref(self.reporter, "lang")
        return sms.gettext_for(sms.reply_locale(detected, preferred))

    def numbers(self) -> str:
        return emergency_numbers(self.country, self.runtime.settings.default_country).as_text()

    def answer(self) -> str:
        opt_out = OPT_OUT_COMMANDS.get(self.inbound.opt_out_type)
        if opt_out is not None:
            self.run_command(opt_out)
            return ""
        responder = responder_for_phone(self.runtime, self.inbound.phone)
        if responder is not None:
            return handle_responder_text(self.runtime, responder, self.inbound.body)
        command = sms.parse_keyword(self.inbound.body)
        if command is not None:
            return self.run_command(command)
        return self.report()

    def report(self) -> str:
        text = self.inbound.body
        detected = detect_language(text) if text.strip() else None
        _ = self.gettext(detected)
        if not text.strip() and not self.inbound.media_count:
            return _("Please write what you saw: where, when, and the child's age.")
        intake = self.runtime.intake.submit(
            channel=self.inbound.channel,
            address=self.inbound.sender,
            text=text,
            message_id=self.inbound.sid,
            language=detected,
            country=self.country,
            media_count=self.inbound.media_count,
            media_types=self.inbound.media_types,
        )
        if intake.case.language and intake.case.message_count > 1:
            # A short follow-up ("Patna junction") says little about its language: keep
            # answering in the language the conversation started in.
            _ = self.gettext(intake.case.language)
        return self.report_reply(_, intake.case, intake.event == "created" or intake.duplicate)

    def report_reply(self, _: Callable[[str], str], case: Case, first: bool) -> str:
        if first and case.message_count <= 1:
            parts = [_("Sajag: report received, case {ref}.").format(ref=case.ref)]
        else:
            parts = [_("Added to case {ref}. Thank you.").format(ref=case.ref)]
        if case.urgency == "critical":
            parts.append(
                _("If a child is in danger now, call {numbers}.").format(numbers=self.numbers())
            )
        if self.inbound.media_count and not self.inbound.body.strip():
            parts.append(_("We do not open photos or audio. Please describe what you saw."))
        parts.append(sms.follow_up_question(_, case.facts))
        return sms.join_within(parts)

    def run_command(self, command: sms.Command) -> str:
        handlers: dict[str, Callable[[sms.Command], str]] = {
            "stop": self.stop,
            "start": self.start,
            "help": self.help,
            "lang": self.lang,
            "status": self.status,
            "delete": self.delete,
        }
        return handlers[command.keyword](command)

    def stop(self, _command: sms.Command) -> str:
        _ = self.gettext()
        self.runtime.store.forget_address(self.inbound.channel.value, self.reporter)
        self.runtime.store.set_pref(self.reporter, "opted_out", "1")
        return _(
            "You will get no more messages from Sajag and your number was erased. "
            "Text START to return."
        )

    def start(self, _command: sms.Command) -> str:
        _ = self.gettext()
        self.runtime.store.set_pref(self.reporter, "opted_out", "")
        return _("Welcome back to Sajag. Text us what you saw.")

    def help(self, _command: sms.Command) -> str:
        _ = self.gettext()
        return sms.join_within(
            [
                _(
                    "Sajag: anonymous help for children at risk. "
                    "Text what you saw: where, when, age."
                ),
                _("Emergency: {numbers}.").format(numbers=self.numbers()),
                "STATUS, LANG, STOP, DELETE",
            ]
        )

    def lang(self, command: sms.Command) -> str:
        choice = sms.parse_language_choice(command.argument) if command.argument else None
        if choice is None:
            _ = self.gettext()
            return sms.join_within([_("Reply LANG and a number:"), sms.language_menu()])
        self.runtime.store.set_pref(self.reporter, "lang", choice)
        _ = sms.gettext_for(choice)
        return _("Language set: {name}.").format(name=sms.LANGUAGE_NAMES[choice])

    def status(self, command: sms.Command) -> str:
        _ = self.gettext()
        ref = parse_ref(command.argument)
        mine = self.runtime.store.reporter_refs(self.reporter)
        if ref is None or ref not in mine:
            # Only a case this number reported: a reference is no key to others' cases.
            return _("No case {ref} for this number. Check the code.").format(
                ref=command.argument.upper()[:8]
            )
        case = self.runtime.store.require(ref)
        word = sms.status_word(_, case.status.value)
        return _("Case {ref}: {status}.").format(ref=ref, status=word)

    def delete(self, _command: sms.Command) -> str:
        _ = self.gettext()
        self.runtime.store.erase_reporter(self.inbound.channel.value, self.reporter)
        return _(
            "Your number and messages were erased. Responders keep the case code to finish helping."
        )


def answer_once(runtime: Runtime, inbound: Inbound) -> str:
    """The reply for one MessageSid, computed once: a retried webhook gets the same answer."""
    key = REPLY_KEY.format(sid=inbound.sid)
    cached = runtime.redis.get(key)
    if isinstance(cached, bytes):
        return cached.decode()
    reply = Conversation(runtime, inbound).answer()
    runtime.redis.set(key, reply, nx=True, ex=REPLY_TTL_SECONDS)
    stored = runtime.redis.get(key)
    return stored.decode() if isinstance(stored, bytes) else reply


# ------------------------------------------------------------------ routes


async def inbound_message(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    params = parse_form(await request.read())
    if not signature_ok(runtime, request, params):
        log.warning("refused a Twilio webhook with a missing or wrong signature")
        return web.Response(status=403, text="invalid X-Twilio-Signature\n")
    inbound = read_inbound(params)
    if inbound is None:
        return web.Response(status=400, text="MessageSid and From are required\n")
    try:
        reply = await asyncio.to_thread(answer_once, runtime, inbound)
    except (redis.RedisError, StoreBusyError) as exc:
        # Not stored: answer an error so Twilio logs it and calls the fallback URL.
        log.error("could not store message %s: %s", inbound.sid, exc.__class__.__name__)
        _ = sms.gettext_for("en")
        return twiml_response(
            _("Sorry, we could not save your message. Please send it again in a few minutes."), 503
        )
    return twiml_response(reply)


def record_status(client: redis.Redis, sid: str, status: str, error_code: str | None) -> bool:
    """Keep the furthest delivery state seen (callbacks arrive out of order); True if it moved."""
    key = STATUS_KEY.format(sid=sid)
    raw = client.hget(key, "status")
    current = raw.decode() if isinstance(raw, bytes) else None
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    if current in FINAL_FAILURES or (
        current in rank and status in rank and rank[status] <= rank[current]
    ):
        return False
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(key, "status", status)
        if error_code:
            pipe.hset(key, "error_code", error_code)
        pipe.expire(key, REPLY_TTL_SECONDS)
        pipe.execute()
    return True


def record_delivery(runtime: Runtime, sid: str, status: str, error_code: str | None) -> None:
    """Record the receipt; a message to a case that never arrived goes in the case's audit,
    where responders and the escalation see it."""
    if not record_status(runtime.redis, sid, status, error_code) or status not in FINAL_FAILURES:
        return
    delivery = delivery_of(runtime.redis, sid)
    if delivery is None:
        return
    detail = (
        f"{delivery.kind} {delivery.key} to {delivery.label} by {delivery.channel.value}: "
        f"{status} (Twilio error {error_code or 'none given'})"
    )
    try:
        runtime.store.append_audit(delivery.case_ref, "twilio", "delivery_failed", detail)
    except CaseNotFoundError:
        log.warning("case %s is gone; not audited: %s", delivery.case_ref, detail)


async def status_callback(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    params = parse_form(await request.read())
    if not signature_ok(runtime, request, params):
        return web.Response(status=403, text="invalid X-Twilio-Signature\n")
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if not sid or not status:
        return web.Response(status=400, text="MessageSid and MessageStatus are required\n")
    await asyncio.to_thread(record_delivery, runtime, sid, status, params.get("ErrorCode"))
    return web.Response(status=200)


def setup(app: web.Application, runtime: Runtime) -> None:
    """Register the Twilio routes on ``app``."""
    app.router.add_post("/sms/twilio", inbound_message)
    app.router.add_post("/sms/twilio/status", status_callback)
