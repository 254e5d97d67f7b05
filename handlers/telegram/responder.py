"""Responders on Telegram: Accept / Can't take / Resolved buttons, /mycases, /case, /note.

Every handler here is filtered to chats registered as responders (HMAC index, no clear
ids); anyone else falls through to the reporter router, which comes after this one.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.actions import handle_responder_text, parse_callback, perform, urgency_label
from bot.i18n import translations
from bot.models import Case, parse_ref
from bot.oncall import assigned_refs
from bot.responders import Responder, responder_for_telegram
from bot.runtime import Runtime

MAX_LISTED = 30


class RegisteredResponder(Filter):
    """Passes registered responders, handing the ``responder`` to the handler."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def __call__(self, event: TelegramObject) -> bool | dict[str, Any]:
        chat_id: int | None = None
        if isinstance(event, Message):
            chat_id = event.chat.id
        elif isinstance(event, CallbackQuery):
            chat_id = event.message.chat.id if event.message else event.from_user.id
        if chat_id is None:
            return False
        responder = responder_for_telegram(self.runtime, chat_id)
        return {"responder": responder} if responder is not None else False


def case_summary(case: Case, responder: Responder) -> str:
    _ = translations("alerts", responder.language).gettext
    return _("{ref}: {urgency}, {status}, {categories}").format(
        ref=case.ref,
        urgency=urgency_label(_, case.urgency),
        status=case.status.value,
        categories=", ".join(case.categories) or "-",
    )


def case_detail(runtime: Runtime, case: Case, responder: Responder) -> str:
    _ = translations("alerts", responder.language).gettext
    view = runtime.store.view(case.ref)
    lines = [case_summary(case, responder)]
    lines.append(_("Assigned to: {who}").format(who=case.assignee or "-"))
    if case.signals:
        why = "; ".join(f"{s.rule} ({', '.join(s.matched)})" for s in case.signals[:8])
        lines.append(_("Why: {signals}").format(signals=why))
    if view is not None:
        for message in view.messages[-5:]:
            lines.append("» " + (message.text if not message.erased else _("[erased]")))
        for entry in view.audit[-5:]:
            lines.append(f"{entry.at:%Y-%m-%d %H:%M} {entry.actor}: {entry.action} {entry.detail}")
    return "\n".join(lines)


def build_responder_router(runtime: Runtime) -> Router:
    router = Router(name="responders")
    registered = RegisteredResponder(runtime)
    router.message.filter(registered)
    router.callback_query.filter(registered)

    @router.callback_query(F.data.startswith("sj:"))
    async def on_button(query: CallbackQuery, responder: Responder) -> None:
        _ = translations("alerts", responder.language).gettext
        parsed = parse_callback(query.data or "")
        if parsed is None:
            await query.answer(_("This button is no longer valid."), show_alert=True)
            return
        action, ref = parsed
        result = perform(runtime, responder, action, ref)
        await query.answer(result.reply[:200], show_alert=not result.ok)
        if result.ok and isinstance(query.message, Message) and query.message.text:
            await query.message.edit_text(
                query.message.text + "\n\n" + result.reply, reply_markup=None
            )

    @router.message(Command("mycases"))
    async def my_cases(message: Message, responder: Responder) -> None:
        _ = translations("alerts", responder.language).gettext
        cases = [
            c
            for ref in assigned_refs(runtime.redis, responder.id)
            if (c := runtime.store.get(ref)) is not None and c.is_open
        ]
        if not cases:
            await message.answer(_("You have no open cases."))
            return
        lines = [case_summary(c, responder) for c in cases[:MAX_LISTED]]
        await message.answer("\n".join(lines))

    @router.message(Command("case"))
    async def show_case(message: Message, command: CommandObject, responder: Responder) -> None:
        _ = translations("alerts", responder.language).gettext
        ref = parse_ref(command.args or "")
        case = runtime.store.get(ref) if ref else None
        if case is None:
            await message.answer(_("Send /case followed by a reference, e.g. /case K7Q-4TD."))
            return
        runtime.store.append_audit(case.ref, f"responder:{responder.id}", "viewed", "telegram")
        await message.answer(case_detail(runtime, case, responder))

    @router.message(Command("note"))
    async def add_note(message: Message, command: CommandObject, responder: Responder) -> None:
        text = f"NOTE {command.args or ''}"
        await message.answer(handle_responder_text(runtime, responder, text))

    @router.message(F.text)
    async def reply_code(message: Message, responder: Responder) -> None:
        await message.answer(handle_responder_text(runtime, responder, message.text or ""))

    return router
