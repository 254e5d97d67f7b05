"""Whole reporter conversations over webhook, against the Bot API stand-in."""

from __future__ import annotations

import json

import pytest
from rq import Queue

from bot.jobs import QUEUE_NAME
from bot.models import URGENCY_RANK, Channel
from bot.runtime import Runtime
from handlers.telegram.middlewares import reporter_of
from tests.handlers.telegram.conftest import Reporter
from tests.support.telegram_standin import BotAPIStandIn
from triage import assess_conversation

NATIVE_NAMES = ("हिन्दी", "বাংলা", "नेपाली", "اردو", "தமிழ்", "සිංහල", "English")

CONVERSATIONS = {
    "en": {
        "pick": "English",
        "report": "A man took a 13 year old girl from our village to Delhi by train last night",
        "case_reply": "Your report is saved as case",
        "where_q": "Where did this happen?",
        "place": "Gaya district, Bihar",
        "when_q": "When did this happen?",
        "today": "Today",
        "age_q": "About how old is the child?",
        "age": "10 to 14",
        "present_q": "Is the child there right now?",
        "yes": "Yes, now",
        "done": "A trained responder will look at case",
    },
    "hi": {
        "pick": "हिन्दी",
        "report": "एक आदमी हमारे गाँव की 13 साल की लड़की को रात में ट्रेन से दिल्ली ले गया",
        "case_reply": "आपकी रिपोर्ट केस",
        "where_q": "यह कहाँ हुआ?",
        "place": "गया ज़िला, बिहार",
        "when_q": "यह कब हुआ?",
        "today": "आज",
        "age_q": "बच्चे की उम्र लगभग कितनी है?",
        "age": "10 से 14",
        "present_q": "क्या बच्चा अभी वहाँ है?",
        "yes": "हाँ, अभी",
        "done": "एक प्रशिक्षित रिस्पॉन्डर केस",
    },
    # No language picked: Bengali is detected from the report itself.
    "bn": {
        "pick": None,
        "report": "একজন লোক আমাদের গ্রামের ১৩ বছরের একটি মেয়েকে রাতে ট্রেনে করে কলকাতা নিয়ে গেছে",
        "case_reply": "আপনার রিপোর্ট কেস",
        "where_q": "এটা কোথায় হয়েছে?",
        "place": "মুর্শিদাবাদ জেলা",
        "when_q": "এটা কখন হয়েছে?",
        "today": "আজ",
        "age_q": "শিশুটির বয়স আনুমানিক কত?",
        "age": "10 থেকে 14",
        "present_q": "শিশুটি কি এখন সেখানে আছে?",
        "yes": "হ্যাঁ, এখন",
        "done": "একজন প্রশিক্ষিত সাহায্যকারী কেস",
    },
}


@pytest.mark.parametrize("lang", sorted(CONVERSATIONS))
async def test_whole_conversation(
    lang: str, reporter: Reporter, standin: BotAPIStandIn, tg_runtime: Runtime
) -> None:
    c = CONVERSATIONS[lang]
    if c["pick"] is not None:
        (welcome,) = await reporter.say("/start")
        picker = welcome.buttons()
        assert all(name in picker for name in NATIVE_NAMES)
        assert "1098" in welcome.text  # India's child helpline, from bot/data/emergency.toml
        await reporter.press(picker[c["pick"]], welcome.message_id)
        assert standin.of("answerCallbackQuery")
        assert standin.of("editMessageText")[-1].params["message_id"] == welcome.message_id

    replies = await reporter.say(c["report"])
    created, where = replies[0], replies[-1]
    if c["pick"] is None:
        # A report before any /start: the safety note and picker come after the reference.
        first_contact = replies[1]
        assert all(name in first_contact.buttons() for name in NATIVE_NAMES)
        assert "1098" in first_contact.text
    assert len(replies) == (3 if c["pick"] is None else 2)
    assert c["case_reply"] in created.text
    ref = next(
        w.strip(".।,")
        for w in created.text.split()
        if len(w.strip(".।,")) == 7 and w.strip(".।,")[3] == "-"
    )
    assert c["where_q"] in where.text and "Skip" not in where.text

    (when,) = await reporter.say(c["place"])
    assert standin.of("editMessageText")[-1].params["message_id"] == where.message_id
    assert c["when_q"] in when.text
    (age,) = await reporter.press(when.buttons()[c["today"]], when.message_id)
    assert c["age_q"] in age.text
    (present,) = await reporter.press(age.buttons()[c["age"]], age.message_id)
    assert c["present_q"] in present.text
    (done,) = await reporter.press(present.buttons()[c["yes"]], present.message_id)
    assert c["done"] in done.text and ref in done.text

    case = tg_runtime.store.require(ref)
    assert case.channel is Channel.TELEGRAM
    assert case.language == lang
    assert case.message_count == 5  # the report and four answers
    assert case.urgency in ("critical", "high")
    assert 13 in case.facts["ages"]
    texts = [m.text for m in tg_runtime.store.messages(ref)]
    assert texts[0] == c["report"]
    assert f"Where: {c['place']}" in texts
    assert "When: today" in texts and "Child's age: 10 to 14" in texts
    assert "Child there now: yes, there now" in texts
    # The stored triage is the engine's verdict on the whole stored conversation.
    picked = tg_runtime.store.get_pref(reporter_of(tg_runtime.privacy, reporter.user_id), "lang")
    verdict = json.loads(json.dumps(assess_conversation(texts, lang=picked).to_dict()))
    assert case.facts == verdict["facts"]
    assert set(verdict["categories"]) <= set(case.categories)
    assert URGENCY_RANK[case.urgency] <= URGENCY_RANK[verdict["urgency"]]  # never lowered
    assert case.score >= verdict["score"]
    jobs = Queue(QUEUE_NAME, connection=tg_runtime.redis).job_ids
    assert any(j.startswith(f"route_{ref.replace('-', '')}") or ref in j for j in jobs), jobs
    for text in standin.texts():
        assert Reporter.first_name not in text and Reporter.username not in text
