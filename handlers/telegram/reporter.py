"""The reporter conversation in private chats: report first, questions after, safety always.

1. /start (or a first message too short to be a report) → safety note + language picker.
2. The first substantive message (text, or a photo/voice/file) creates the case at once and
   the reply gives its reference; the language is detected when none was picked.
3. Four optional questions (where, when, child's age, is the child there now), each with
   buttons and Skip. Every answer joins the case, so triage runs again.
4. Leave and /exit delete the chat (both directions) and the conversation state; /delete
   erases the reporter's data after confirmation; /status REF says what is happening.

No reply ever contains the reporter's name or username: handlers never read them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from functools import partial

from aiogram import Bot, F, Router
from aiogram.enums import ContentType
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Location, Message
from aiogram.utils.i18n import I18n, get_i18n, ngettext
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel import Locale
from babel.numbers import format_decimal

from bot.emergency import emergency_numbers
from bot.models import Channel, Status, parse_ref
from bot.runtime import Runtime
from bot.store import Intake
from handlers.telegram.middlewares import ChatTrail, reporter_of

log = logging.getLogger(__name__)

# Picker order: the helpline's main languages first, English last; others alphabetically.
PICKER_ORDER = ("hi", "bn", "ne", "ur", "ta", "si", "en")
MEDIA_TYPES = frozenset({"photo", "voice", "audio", "video", "video_note", "document", "animation"})
QUESTIONS = ("where", "when", "age", "present")
# Button answers are stored in English: responders may read another language than the reporter.
ANSWER_FOR_CASE: dict[str, dict[str, str]] = {
    "when": {"today": "today", "week": "this week", "earlier": "earlier"},
    "age": {
        "under10": "under 10",
        "10to14": "10 to 14",
        "15to17": "15 to 17",
        "unsure": "not sure",
    },
    "present": {"yes": "yes, there now", "no": "no", "unsure": "not sure"},
}
FIELD_LABEL_FOR_CASE = {
    "where": "Where",
    "when": "When",
    "age": "Child's age",
    "present": "Child there now",
}
# A shared location is cut to one decimal (about 11 km): enough to route to a district team,
# too coarse to pinpoint the reporter, who often shares where they themselves stand.
LOCATION_DECIMALS = 1
LRI, PDI = "\u2066", "\u2069"  # Unicode left-to-right isolate and its closing pop


class Report(StatesGroup):
    where = State()
    when = State()
    age = State()
    present = State()


class LanguageChoice(CallbackData, prefix="lang"):
    code: str


class Answer(CallbackData, prefix="ans"):
    field: str
    value: str


class Nav(CallbackData, prefix="nav"):
    action: str


# ---------------------------------------------------------------- formatting
def current_locale() -> str:
    return get_i18n().current_locale


def is_rtl(locale: str) -> bool:
    return str(Locale.parse(locale).character_order) == "right-to-left"


def isolate(text: str) -> str:
    """Keep refs and numbers left-to-right inside right-to-left text (Urdu)."""
    return f"{LRI}{text}{PDI}" if is_rtl(current_locale()) else text


def number(value: int) -> str:
    return isolate(format_decimal(value, locale=current_locale()))


def native_name(code: str) -> str:
    name = Locale.parse(code).display_name or code
    return name[:1].upper() + name[1:]


def emergency_text(runtime: Runtime) -> str:
    return isolate(emergency_numbers(None, runtime.settings.default_country).as_text())


def is_substantive(text: str) -> bool:
    """A report, not a greeting: "hi" or "hello?" gets the welcome, a sentence a case."""
    stripped = text.strip()
    return len(stripped.split()) >= 3 or len(stripped) >= 20


# ---------------------------------------------------------------- texts
def safety_note(runtime: Runtime) -> str:
    return _(
        "Sajag helps you report a child who may be trafficked or in danger.\n\n"
        "This chat is anonymous: responders never see your name, username or phone number.\n"
        "Tell me in your own words what you saw. A trained responder reads every report.\n\n"
        "If a child is in danger right now, call {numbers}.\n"
        "Tap Leave at any time to clear this chat."
    ).format(numbers=emergency_text(runtime))


def question_text(field: str) -> str:
    questions = {
        "where": _(
            "Where did this happen? Write a village, town or district, or share a location "
            "(📎 → Location). Only the area is kept, not the exact point."
        ),
        "when": _("When did this happen? Tap a button or write it."),
        "age": _("About how old is the child? Tap a button or write it."),
        "present": _("Is the child there right now?"),
    }
    return questions[field]


def option_labels(field: str) -> dict[str, str]:
    labels = {
        "where": {},
        "when": {"today": _("Today"), "week": _("This week"), "earlier": _("Earlier")},
        "age": {
            "under10": _("Under 10"),
            "10to14": _("10 to 14"),
            "15to17": _("15 to 17"),
            "unsure": _("Not sure"),
        },
        "present": {"yes": _("Yes, now"), "no": _("No"), "unsure": _("Not sure")},
    }
    return labels[field]


def status_text(status: Status) -> str:
    texts = {
        Status.NEW: _("received; a responder will be assigned soon."),
        Status.TRIAGED: _("received; a responder will be assigned soon."),
        Status.ASSIGNED: _("a responder has been asked to take it."),
        Status.ACKNOWLEDGED: _("a responder is working on it."),
        Status.RESOLVED: _("resolved. Thank you for reporting."),
        Status.CLOSED_NO_ACTION: _("closed. Thank you for reporting."),
    }
    return texts[status]


# ---------------------------------------------------------------- keyboards
def leave_row(builder: InlineKeyboardBuilder) -> None:
    builder.row()
    builder.button(text=_("Leave"), callback_data=Nav(action="leave"))


def leave_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    leave_row(builder)
    return builder.as_markup()


def picker_keyboard(i18n: I18n) -> InlineKeyboardMarkup:
    available = set(i18n.available_locales)
    ordered = [c for c in PICKER_ORDER if c in available] + sorted(available - set(PICKER_ORDER))
    builder = InlineKeyboardBuilder()
    for code in ordered:
        builder.button(text=native_name(code), callback_data=LanguageChoice(code=code))
    builder.adjust(2)
    leave_row(builder)
    return builder.as_markup()


def question_keyboard(field: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for value, label in option_labels(field).items():
        builder.button(text=label, callback_data=Answer(field=field, value=value))
    builder.button(text=_("Skip"), callback_data=Answer(field=field, value="skip"))
    builder.adjust(2)
    leave_row(builder)
    return builder.as_markup()


def erase_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Yes, erase"), callback_data=Nav(action="erase_yes"))
    builder.button(text=_("No, keep"), callback_data=Nav(action="erase_no"))
    return builder.as_markup()


# ---------------------------------------------------------------- intake
def intake_id(reporter: str, *parts: object) -> str:
    """Channel message id for intake: pseudonym-based, so no chat id reaches Redis in clear."""
    return ":".join([reporter, *(str(p) for p in parts)])


def telegram_message_id(stored_id: str) -> int | None:
    """The Telegram message id inside an intake id, if the message was the reporter's own."""
    parts = stored_id.split(":")
    return int(parts[1]) if len(parts) == 2 and parts[1].isdigit() else None


async def submit(
    runtime: Runtime,
    user_id: int,
    text: str,
    message_id: str,
    media_types: Sequence[str] = (),
) -> Intake:
    reporter = reporter_of(runtime.privacy, user_id)
    language = await asyncio.to_thread(runtime.store.get_pref, reporter, "lang")
    call = partial(
        runtime.intake.submit,
        channel=Channel.TELEGRAM,
        address=str(user_id),
        text=text,
        message_id=message_id,
        language=language,
        media_count=len(media_types),
        media_types=tuple(media_types),
    )
    return await asyncio.to_thread(call)


async def open_ref(runtime: Runtime, reporter: str) -> str | None:
    ref = await asyncio.to_thread(runtime.store.conversation_ref, Channel.TELEGRAM.value, reporter)
    if ref is None:
        return None
    case = await asyncio.to_thread(runtime.store.get, ref)
    return ref if case is not None and case.is_open and not case.erased else None


# ---------------------------------------------------------------- conversation steps
async def welcome(message: Message, state: FSMContext, runtime: Runtime, i18n: I18n) -> None:
    await message.answer(
        safety_note(runtime) + "\n\n" + _("Choose your language:"),
        reply_markup=picker_keyboard(i18n),
    )
    await state.update_data(welcomed=True)


async def case_created(
    message: Message, intake: Intake, state: FSMContext, runtime: Runtime, i18n: I18n
) -> None:
    """Reference first; then, if this chat never had it, the safety note and language
    picker (the report came before any /start); then the first question."""
    ref = intake.case.ref
    await state.update_data(ref=ref, lang=intake.case.language or current_locale())
    await message.answer(
        _(
            "Thank you. Your report is saved as case {ref}.\n"
            "Keep this reference: send /status {ref} at any time to see what is happening."
        ).format(ref=isolate(ref)),
        reply_markup=leave_keyboard(),
    )
    if not (await state.get_data()).get("welcomed"):
        await welcome(message, state, runtime, i18n)
    await ask(message, state, QUESTIONS[0])


async def ask(message: Message, state: FSMContext, field: str) -> None:
    sent = await message.answer(question_text(field), reply_markup=question_keyboard(field))
    await state.set_state(getattr(Report, field))
    await state.update_data(question_message=sent.message_id)


async def ask_next(message: Message, state: FSMContext, runtime: Runtime, field: str) -> None:
    following = QUESTIONS.index(field) + 1
    if following < len(QUESTIONS):
        await ask(message, state, QUESTIONS[following])
        return
    await state.set_state(None)
    ref = (await state.get_data()).get("ref", "")
    await message.answer(
        _(
            "Thank you. A trained responder will look at case {ref}.\n"
            "You can write more here at any time, or send a photo or voice note.\n"
            "If a child is in danger right now, call {numbers}."
        ).format(ref=isolate(ref), numbers=emergency_text(runtime)),
        reply_markup=leave_keyboard(),
    )


async def close_question(bot: Bot, chat_id: int, state: FSMContext, field: str, shown: str) -> None:
    """Replace the question's buttons by the answer, so old buttons cannot be pressed again."""
    message_id = (await state.get_data()).get("question_message")
    if not isinstance(message_id, int):
        return
    try:
        await bot.edit_message_text(
            chat_id=chat_id, message_id=message_id, text=f"{question_text(field)}\n→ {shown}"
        )
    except TelegramBadRequest:
        log.info("question message already gone; nothing to edit")


async def record_answer(
    runtime: Runtime, user_id: int, state: FSMContext, field: str, answer: str, message_id: str
) -> None:
    intake = await submit(runtime, user_id, f"{FIELD_LABEL_FOR_CASE[field]}: {answer}", message_id)
    await state.update_data(ref=intake.case.ref)


# ---------------------------------------------------------------- handlers: commands
async def on_start(message: Message, state: FSMContext, runtime: Runtime, i18n: I18n) -> None:
    await state.set_state(None)
    await welcome(message, state, runtime, i18n)


async def on_help(message: Message, runtime: Runtime) -> None:
    await message.answer(
        _(
            "/start: begin, or choose your language\n"
            "/status {example}: what is happening with your report\n"
            "/language: change the language\n"
            "/exit: clear this chat now\n"
            "/delete: erase your messages and data\n\n"
            "If a child is in danger right now, call {numbers}."
        ).format(example=isolate("K7Q-4TD"), numbers=emergency_text(runtime)),
        reply_markup=leave_keyboard(),
    )


async def on_language(message: Message, i18n: I18n) -> None:
    await message.answer(_("Choose your language:"), reply_markup=picker_keyboard(i18n))


async def on_status(
    message: Message, command: CommandObject, runtime: Runtime, reporter: str
) -> None:
    mine = await asyncio.to_thread(runtime.store.reporter_refs, reporter)
    ref = parse_ref(command.args or "")
    if ref is None:
        if not mine:
            text = _("You have no reports yet. Write what you saw and I will save it.")
        else:
            text = ngettext(
                "You have {count} report: {refs}. "
                "Send /status with a reference, e.g. /status {ref}.",
                "You have {count} reports: {refs}. "
                "Send /status with a reference, e.g. /status {ref}.",
                len(mine),
            ).format(
                count=number(len(mine)),
                refs=", ".join(isolate(r) for r in mine),
                ref=isolate(mine[0]),
            )
        await message.answer(text)
        return
    case = await asyncio.to_thread(runtime.store.get, ref) if ref in mine else None
    if case is None:
        # The same answer whether the case does not exist or is someone else's.
        await message.answer(
            _("I can't find case {ref} for this chat. Check the reference, e.g. {example}.").format(
                ref=isolate(ref), example=isolate("K7Q-4TD")
            )
        )
        return
    await message.answer(
        _("Case {ref}: {status}").format(ref=isolate(ref), status=status_text(case.status))
    )


async def on_delete(message: Message) -> None:
    await message.answer(
        _(
            "Erase your messages and the link between this chat and your reports?\n"
            "Responders keep only what they need to help the child, without your messages "
            "and without any link to you. This cannot be undone."
        ),
        reply_markup=erase_keyboard(),
    )


async def on_exit(
    message: Message, bot: Bot, state: FSMContext, trail: ChatTrail, reporter: str
) -> None:
    await clear_chat(bot, message.chat.id, reporter, state, trail)


async def on_unknown_command(message: Message) -> None:
    await message.answer(_("I don't know that command. Send /help to see what I can do."))


# ---------------------------------------------------------------- handlers: callbacks
async def on_language_chosen(
    query: CallbackQuery,
    callback_data: LanguageChoice,
    runtime: Runtime,
    reporter: str,
    state: FSMContext,
    i18n: I18n,
) -> None:
    code = callback_data.code
    if code not in i18n.available_locales:
        await query.answer()
        return
    await asyncio.to_thread(runtime.store.set_pref, reporter, "lang", code)
    await state.update_data(lang=code)
    with i18n.use_locale(code):
        has_case = await open_ref(runtime, reporter) is not None
        follow = (
            _("Language saved.") if has_case else _("Language saved. Now tell me what happened.")
        )
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.edit_text(
                safety_note(runtime) + "\n\n" + follow, reply_markup=leave_keyboard()
            )


async def on_answer_button(
    query: CallbackQuery,
    callback_data: Answer,
    bot: Bot,
    runtime: Runtime,
    reporter: str,
    state: FSMContext,
) -> None:
    field = callback_data.field
    current = await state.get_state()
    if field not in QUESTIONS or current != getattr(Report, field).state:
        await query.answer(_("This question is closed."))
        return
    await query.answer()
    message = query.message
    if not isinstance(message, Message):
        return
    if callback_data.value == "skip":
        shown = _("Skipped")
    else:
        english = ANSWER_FOR_CASE.get(field, {}).get(callback_data.value)
        if english is None:
            return
        shown = option_labels(field)[callback_data.value]
        await record_answer(
            runtime,
            query.from_user.id,
            state,
            field,
            english,
            intake_id(reporter, message.message_id, field),
        )
    await close_question(bot, message.chat.id, state, field, shown)
    await ask_next(message, state, runtime, field)


async def on_leave(
    query: CallbackQuery, bot: Bot, state: FSMContext, trail: ChatTrail, reporter: str
) -> None:
    # A toast, not a message: it vanishes by itself and leaves nothing in the chat.
    await query.answer(_("Chat cleared."))
    if isinstance(query.message, Message):
        await clear_chat(bot, query.message.chat.id, reporter, state, trail)


async def on_erase_confirmed(
    query: CallbackQuery, runtime: Runtime, reporter: str, state: FSMContext
) -> None:
    await asyncio.to_thread(runtime.store.erase_reporter, Channel.TELEGRAM.value, reporter)
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("Erased. Nothing here links to you any more. You can still write if you need help.")
        )


async def on_erase_cancelled(query: CallbackQuery) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("Nothing was erased."))


# ---------------------------------------------------------------- handlers: content
async def on_typed_answer(
    message: Message, bot: Bot, runtime: Runtime, reporter: str, state: FSMContext
) -> None:
    field = (await state.get_state() or "").rpartition(":")[2]
    text = message.text or ""
    await record_answer(
        runtime, user_id(message), state, field, text, intake_id(reporter, message.message_id)
    )
    await close_question(bot, message.chat.id, state, field, _("Saved"))
    await ask_next(message, state, runtime, field)


async def on_location(
    message: Message, bot: Bot, runtime: Runtime, reporter: str, state: FSMContext, i18n: I18n
) -> None:
    location = message.location
    if location is None:
        return
    area = coarse_area(location)
    mid = intake_id(reporter, message.message_id)
    if await state.get_state() == Report.where.state:
        await record_answer(runtime, user_id(message), state, "where", area, mid)
        await close_question(bot, message.chat.id, state, "where", _("Area saved"))
        await ask_next(message, state, runtime, "where")
        return
    intake = await submit(
        runtime, user_id(message), f"{FIELD_LABEL_FOR_CASE['where']}: {area}", mid
    )
    await acknowledge_joined(message, intake, state, runtime, i18n)


async def on_media(
    message: Message, runtime: Runtime, reporter: str, state: FSMContext, i18n: I18n
) -> None:
    kind = ContentType(message.content_type).value
    intake = await submit(
        runtime,
        user_id(message),
        message.caption or "",
        intake_id(reporter, message.message_id),
        media_types=(kind,),
    )
    if intake.event == "created":
        await case_created(message, intake, state, runtime, i18n)
        return
    count = intake.case.media_count
    await message.answer(
        ngettext(
            "Received, thank you. Case {ref} now has {count} photo, voice note or file. "
            "It stays in this chat; only the responder for your case can be shown it.",
            "Received, thank you. Case {ref} now has {count} photos, voice notes or files. "
            "They stay in this chat; only the responder for your case can be shown them.",
            count,
        ).format(ref=isolate(intake.case.ref), count=number(count))
    )


async def on_text(
    message: Message, runtime: Runtime, reporter: str, state: FSMContext, i18n: I18n
) -> None:
    text = message.text or ""
    if await open_ref(runtime, reporter) is None and not is_substantive(text):
        await welcome(message, state, runtime, i18n)
        return
    intake = await submit(runtime, user_id(message), text, intake_id(reporter, message.message_id))
    await acknowledge_joined(message, intake, state, runtime, i18n)


async def on_other_content(message: Message) -> None:
    await message.answer(
        _("I can read text, photos, voice notes and files. Please write what happened.")
    )


async def acknowledge_joined(
    message: Message, intake: Intake, state: FSMContext, runtime: Runtime, i18n: I18n
) -> None:
    await state.update_data(ref=intake.case.ref)
    if intake.event == "created":
        await case_created(message, intake, state, runtime, i18n)
        return
    await message.answer(_("Added to case {ref}.").format(ref=isolate(intake.case.ref)))


async def on_group_message(message: Message) -> None:
    await message.reply(
        _(
            "I only talk in private chats, so nobody else can see a report. "
            "Open a private chat with me and press Start."
        )
    )


# ---------------------------------------------------------------- shared actions
def user_id(message: Message) -> int:
    # In a private chat the chat id is the user's id; from_user can be absent on forwards.
    return message.from_user.id if message.from_user else message.chat.id


def coarse_area(location: Location) -> str:
    lat = round(location.latitude, LOCATION_DECIMALS)
    lon = round(location.longitude, LOCATION_DECIMALS)
    return f"shared location, rounded to ~11 km: {lat:.1f}, {lon:.1f}"


async def clear_chat(
    bot: Bot, chat_id: int, reporter: str, state: FSMContext, trail: ChatTrail
) -> int:
    """Delete every remembered message of this chat (the bot's and the reporter's)."""
    await state.clear()
    deleted = 0
    for message_id in await trail.take(reporter):
        try:
            await bot.delete_message(chat_id=chat_id, message_id=message_id)
            deleted += 1
        except TelegramAPIError as exc:
            # Older than 48 h or already gone: nothing more can be done for it.
            log.info("could not delete a message in a reporter chat: %s", type(exc).__name__)
    return deleted


async def copy_media_to(bot: Bot, runtime: Runtime, ref: str, responder_chat_id: int) -> int:
    """Show a case's photos, voice notes and files to a responder via copyMessage.

    A copy carries no "forwarded from" header, so the reporter is not revealed. Returns how
    many were copied; media the reporter deleted (Leave, /exit) can no longer be shown.
    """
    case = await asyncio.to_thread(runtime.store.get, ref)
    if case is None or case.erased:
        return 0
    token = await asyncio.to_thread(
        runtime.store.encrypted_address, Channel.TELEGRAM.value, case.reporter
    )
    address = runtime.privacy.decrypt(token) if token else None
    if address is None:
        return 0
    copied = 0
    for stored in await asyncio.to_thread(runtime.store.messages, ref):
        message_id = telegram_message_id(stored.id)
        if not stored.media_count or message_id is None:
            continue
        try:
            await bot.copy_message(
                chat_id=responder_chat_id, from_chat_id=int(address), message_id=message_id
            )
            copied += 1
        except TelegramBadRequest:
            log.info("media of case %s is no longer in the reporter's chat", ref)
    return copied


# ---------------------------------------------------------------- router
def build_reporter_router() -> Router:
    router = Router(name="reporter")
    router.message.filter(F.chat.type == "private")
    router.callback_query.filter(F.message.chat.type == "private")
    m, c = router.message, router.callback_query
    m.register(on_start, CommandStart())
    m.register(on_help, Command("help"))
    m.register(on_language, Command("language"))
    m.register(on_status, Command("status"))
    m.register(on_delete, Command("delete"))
    m.register(on_exit, Command("exit"))
    m.register(on_unknown_command, F.text.startswith("/"))
    c.register(on_language_chosen, LanguageChoice.filter())
    c.register(on_answer_button, Answer.filter())
    c.register(on_leave, Nav.filter(F.action == "leave"))
    c.register(on_erase_confirmed, Nav.filter(F.action == "erase_yes"))
    c.register(on_erase_cancelled, Nav.filter(F.action == "erase_no"))
    m.register(on_location, F.location)
    m.register(on_media, F.content_type.in_(MEDIA_TYPES))
    m.register(on_typed_answer, StateFilter(*[getattr(Report, f) for f in QUESTIONS]), F.text)
    m.register(on_text, F.text)
    m.register(on_other_content)
    return router


def build_group_router() -> Router:
    """Groups: a polite pointer to a private chat when addressed, silence otherwise."""
    router = Router(name="groups")
    router.message.filter(F.chat.type.in_({"group", "supergroup"}))
    router.message.register(on_group_message, Command("start", "help"))
    return router


async def send_flood_notice(message: Message, i18n: I18n, locale: str) -> None:
    """Sent once when a chat passes the flood limit; later messages that minute are dropped."""
    with i18n.context(), i18n.use_locale(locale):
        await message.answer(
            _("You are sending messages very fast. Please wait a minute, then write again.")
        )
