"""The engine: signal families per language, the GUIDE's hard cases, the API."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage import Assessment, Urgency, assess, assess_conversation
from triage.engine import Signal, fold_words
from triage.lexicon import split_words
from triage.normalize import fold_variants, readable_form

FAST = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

# One sentence per language and signal family, written for these tests (none
# comes from dev.jsonl): the rule named must fire on it.
FAMILY_CASES: list[tuple[str, str, str]] = [
    # English
    ("en", "they are moving the kids tonight", "time_now"),
    ("en", "a man is taking two girls onto the train", "movement"),
    ("en", "the boy is locked in the back room", "locked"),
    ("en", "the owner beats the small boy", "violence"),
    ("en", "the child is bleeding badly", "harm"),
    ("en", "help me please, I am 13", "self_report"),
    ("en", "young girls work at a brick kiln", "cat.forced_labour"),
    ("en", "no child is in danger, just asking", "negation"),
    ("en", "we are making a documentary for school", "awareness"),
    # Hindi
    ("hi", "आज रात लड़की को ले जाएंगे", "time_now"),
    ("hi", "एक आदमी बच्चों को ट्रेन में ले जा रहा है", "movement"),
    ("hi", "बच्ची को कमरे में बंद कर दिया है", "locked"),
    ("hi", "मालिक लड़के को रोज़ पीटता है", "violence"),
    ("hi", "मुझे बचाओ मैं 13 साल की हूँ", "self_report"),
    ("hi", "भट्ठे पर छोटे बच्चे ईंट बनाते हैं", "cat.forced_labour"),
    ("hi", "कोई बच्चा खतरे में नहीं है", "negation"),
    # Hindi, romanized
    ("hi-Latn", "aaj raat ladki ko le jayenge", "time_now"),
    ("hi-Latn", "ek aadmi bacchon ko bus me le ja raha hai", "movement"),
    ("hi-Latn", "bacchi ko kamre me band kar diya", "locked"),
    ("hi-Latn", "seth ladke ko peet ta hai", "violence"),
    ("hi-Latn", "mujhe bachao mai 14 saal ki hu", "self_report"),
    ("hi-Latn", "ladki ki shaadi kal hai", "cat.child_marriage"),
    ("hi-Latn", "koi khatra nahi hai bas puchna tha", "negation"),
    # Bengali
    ("bn", "আজ রাতে মেয়েটাকে নিয়ে যাবে", "time_now"),
    ("bn", "একটা লোক বাচ্চাদের ট্রেনে নিয়ে যাচ্ছে", "movement"),
    ("bn", "মেয়েটাকে ঘরে তালা দিয়ে রেখেছে", "locked"),
    ("bn", "আমাকে বাঁচান আমি ১৪ বছরের", "self_report"),
    ("bn", "ছোট ছেলেরা ইটভাটায় কাজ করে", "cat.forced_labour"),
    ("bn", "কোনো সমস্যা নেই, শুধু জানতে চাই", "negation"),
    # Bengali, romanized
    ("bn-Latn", "aj rate meye ta ke niye jabe", "time_now"),
    ("bn-Latn", "lok ta bacchader train e niye jacche", "movement"),
    ("bn-Latn", "amake bachan ami 14 bochorer", "self_report"),
    ("bn-Latn", "meyer biye dicche", "cat.child_marriage"),
    # Nepali
    ("ne", "भोलि बिहान केटीलाई लैजाँदैछ", "time_now"),
    ("ne", "केटीहरूलाई बसमा लैजाँदैछन्", "movement"),
    ("ne", "बच्चालाई कोठामा थुनेर राखेको छ", "locked"),
    ("ne", "मलाई बचाउनुस् म १४ वर्षकी हुँ", "self_report"),
    ("ne", "केटीको बिहे गर्दैछन्", "cat.child_marriage"),
    # Nepali, romanized
    ("ne-Latn", "aja rati keti lai laijadaicha", "time_now"),
    ("ne-Latn", "ketaketi lai bus ma laijadai chan", "movement"),
    ("ne-Latn", "malai bachau ma 13 barsa ki", "self_report"),
    ("ne-Latn", "sahuji le keta lai kutcha", "violence"),
    # Urdu
    ("ur", "آج رات بچی کو لے جائیں گے", "time_now"),
    ("ur", "بچے کو کمرے میں بند کر دیا", "locked"),
    ("ur", "مجھے بچاؤ میں 12 سال کا ہوں", "self_report"),
    ("ur", "بھٹے پر بچے اینٹیں بناتے ہیں", "cat.forced_labour"),
    # Urdu, romanized
    ("ur-Latn", "aaj raat bachi ko le ja rahe hain", "time_now"),
    ("ur-Latn", "bachay ko andar band kar ke gaya", "locked"),
    ("ur-Latn", "mujhe bachao mai 12 saal ka hoon", "self_report"),
    ("ur-Latn", "bhattay pe bachay kaam karte hain", "cat.forced_labour"),
    # Tamil
    ("ta", "இன்று இரவு சிறுமியை அழைத்து செல்கிறார்கள்", "time_now"),
    ("ta", "சிறுவனை அறையில் பூட்டி வைத்திருக்கிறார்கள்", "locked"),
    ("ta", "என்னை காப்பாற்றுங்கள் எனக்கு 13 வயது", "self_report"),
    ("ta", "சிறுவர்கள் செங்கல் சூளையில் வேலை செய்கிறார்கள்", "cat.forced_labour"),
    # Sinhala
    ("si", "අද රෑ ළමයාව අරන් යනවා", "time_now"),
    ("si", "ළමයාව කාමරයේ හිරකරලා", "locked"),
    ("si", "මට උදව් කරන්න මට අවුරුදු 14", "self_report"),
    ("si", "දැරියගේ විවාහය හෙට", "cat.child_marriage"),
    # Telugu
    ("te", "ఈ రాత్రి అమ్మాయిని తీసుకెళ్తున్నారు", "time_now"),
    ("te", "పిల్లవాడిని గదిలో బంధించారు", "locked"),
    ("te", "నన్ను కాపాడండి నాకు 13 ఏళ్ళు", "self_report"),
    ("te", "పిల్లలు ఇటుక బట్టీలో పని చేస్తున్నారు", "cat.forced_labour"),
    # Marathi
    ("mr", "आज रात्री मुलीला घेऊन जाणार", "time_now"),
    ("mr", "मुलाला खोलीत कोंडून ठेवले", "locked"),
    ("mr", "मला वाचवा मी १४ वर्षांची आहे", "self_report"),
    ("mr", "मुलं वीटभट्टीवर काम करतात", "cat.forced_labour"),
    # Pashto
    ("ps", "نن شپه نجلۍ بیايي", "time_now"),
    ("ps", "ما وژغورئ زه 13 کلنه یم", "self_report"),
    ("ps", "ماشومان په خښتو بټۍ کې کار کوي", "cat.forced_labour"),
    # Dari
    ("fa", "امشب دختر را می برند", "time_now"),
    ("fa", "پسر را در اتاق قفل کرده اند", "locked"),
    ("fa", "کمکم کنید من ۱۳ ساله هستم", "self_report"),
    ("fa", "عروسی دختر ۱۲ ساله فردا است", "cat.child_marriage"),
    # Dhivehi
    ("dv", "މިރޭ ކުއްޖާ ގެންދަނީ", "time_now"),
    ("dv", "ކުއްޖާ ކޮޓަރީގައި ތަޅުލައިފި", "locked"),
    ("dv", "ކުއްޖާގެ ކައިވެނި މާދަމާ", "cat.child_marriage"),
    # Dutch
    ("nl", "ze nemen het meisje vanavond mee", "time_now"),
    ("nl", "de jongen zit opgesloten in de kelder", "locked"),
    ("nl", "help me ik ben 15", "self_report"),
    ("nl", "niemand is in gevaar hoor", "negation"),
]


def _rules(result: Assessment) -> set[str]:
    return {signal.rule for signal in result.signals}


@pytest.mark.parametrize(("lang", "text", "rule"), FAMILY_CASES)
def test_signal_family_fires(lang: str, text: str, rule: str) -> None:
    result = assess(text)
    assert rule in _rules(result), f"{lang}: {rule} not in {_rules(result)}"


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("A man is taking a 12 year old girl across the border tonight", Urgency.CRITICAL),
        ("help me i am 14, the owner locked me in the kitchen", Urgency.CRITICAL),
        ("The boy is bleeding from the head at the construction site", Urgency.CRITICAL),
        ("Two girls of 13 work every day at the hotel and are not allowed out", Urgency.HIGH),
        ("I am 15 and my employer does not pay me, please help me", Urgency.HIGH),
        (
            "Last year a broker took girls from our village, I heard he is recruiting",
            Urgency.MEDIUM,
        ),
        (
            "The neighbours are thinking of sending their 13 year old to a placement agency",
            Urgency.MEDIUM,
        ),
        ("Nobody is in danger, how do I report anonymously?", Urgency.LOW),
        ("We are making a film about child trafficking for school", Urgency.LOW),
        ("hello", Urgency.LOW),
        ("lol my kids kidnapped my phone again 😂 wrong chat", Urgency.LOW),
        ("My sister is 26 and wants to work abroad, is the agency registered?", Urgency.LOW),
        ("My cousin is 24, her employer took her passport and locks her in", Urgency.MEDIUM),
        # A child writing about being beaten or taken away: critical (GUIDE).
        ("i am 13, i work at a dhaba, the owner beats me every night", Urgency.CRITICAL),
        ("please i am 15, my uncle is taking me to another city tomorrow", Urgency.CRITICAL),
        # Somebody pushed into a van, reporter alarmed, no word for "child": a report.
        ("URGENT a man is dragging two teens into a white van at the pump", Urgency.CRITICAL),
    ],
)
def test_guide_hard_cases(text: str, level: Urgency) -> None:
    assert assess(text).urgency is level


def test_time_beats_thin_details() -> None:
    assert assess("kid on the train right now with a stranger, pls").urgency is Urgency.CRITICAL


def test_language_without_lexicon_still_gets_a_verdict() -> None:
    result = assess("અમારા ગામમાં 😭 14 🆘")
    assert result.language == "und"
    assert result.urgency in set(Urgency)
    assert {"distress", "plea"} <= _rules(result)


def test_facts_are_read() -> None:
    result = assess("a girl (14) at Howrah station, the train to Delhi leaves at 9:30 pm")
    assert 14 in result.facts.ages
    assert "station" in result.facts.transport
    assert "train" in result.facts.transport
    assert any("9:30" in time for time in result.facts.times)
    assert "delhi" in result.facts.places


def test_signals_quote_the_reporters_words() -> None:
    result = assess("Abhee station pe LARKI ko le ja raha hai plzzz")
    matched = {word for signal in result.signals for word in signal.matched}
    assert {"abhee", "larki", "plzzz"} <= matched


def test_lang_argument_sets_the_language() -> None:
    assert assess("bachao", lang="ur-Latn").language == "ur-Latn"


def test_conversation_is_one_report() -> None:
    messages = ["hello?", "anyone there", "a man is taking 3 kids onto the bus, it leaves now"]
    joined = assess_conversation(messages)
    assert joined.urgency is Urgency.CRITICAL
    assert assess(messages[0]).urgency is Urgency.LOW


def test_assessment_to_dict_is_json_ready() -> None:
    data = assess("brick kiln owner beats the children every day").to_dict()
    assert set(data) == {"urgency", "score", "categories", "language", "signals", "facts"}
    assert json.loads(json.dumps(data)) == data
    assert set(data["facts"]) == {"ages", "places", "transport", "times"}
    assert 0 <= data["score"] <= 100


def test_records_are_frozen() -> None:
    result = assess("test")
    with pytest.raises(AttributeError):
        result.score = 3  # type: ignore[misc]
    assert Signal("plea", 8, ("pls",)).to_dict() == {
        "rule": "plea",
        "weight": 8,
        "matched": ["pls"],
    }


def test_low_verdicts_carry_no_categories() -> None:
    assert assess("saw a documentary about brick kilns, just curious").categories == ()


@FAST
@given(st.text())
def test_folding_word_by_word_equals_folding_the_text(text: str) -> None:
    readable = readable_form(text)
    assert fold_words(split_words(readable)) == split_words(fold_variants(readable))


def test_hindi_sun_listen_is_not_english_soon() -> None:
    """'sun' (listen) folds like English 'soon'; it must not settle a report as not-now."""
    result = assess("sun, abhi ek ladki ko bus me le ja rahe hain")
    assert result.urgency is Urgency.CRITICAL
    assert "time_soon" not in _rules(result)


def test_a_count_of_children_is_not_an_adult_age() -> None:
    result = assess("right now men are putting around 20 kids on a fishing boat at the jetty")
    assert result.urgency is Urgency.CRITICAL
    assert 20 not in result.facts.ages


def test_a_report_ending_in_how_do_i_report_this_is_not_dismissed() -> None:
    report = assess("girls are brought to the lodge at night, how do i report this?")
    assert report.urgency is not Urgency.LOW
    assert assess("the factory owner locks them in at night, how do i report this?").urgency in {
        Urgency.CRITICAL,
        Urgency.HIGH,
    }
    assert assess("is the helpline open at night?").urgency is Urgency.LOW


@pytest.mark.parametrize(
    "report",
    [
        "a 40 year old man is taking a little girl to the bus stand right now",
        "a 45 yr old man is marrying a small girl from our lane tomorrow morning",
        "a man took the girl to the station just now, he is 40 years old",
        "ek 40 saal ka aadmi abhi ek choti ladki ko bus me le ja raha hai",
    ],
)
def test_an_adults_age_does_not_make_a_child_an_adult(report: str) -> None:
    """The age is the man's; the girl is a child (GUIDE: unknown ages are children)."""
    result = assess(report)
    assert result.urgency is Urgency.CRITICAL
    assert "adult_age" in _rules(result)


@pytest.mark.parametrize(
    "report",
    [
        "a 22 year old girl is being held in a flat and forced to work",
        "a girl aged 22 is locked in a room by her employer",
        "my brother is 27 years old, he is going to dubai through an agent, is the visa real?",
    ],
)
def test_an_age_that_describes_the_person_still_means_adults_only(report: str) -> None:
    assert assess(report).urgency in {Urgency.MEDIUM, Urgency.LOW}


# Told as it happens, with no word for now, or with a word the rules once missed:
# critical (GUIDE: moved, sold or hurt right now).
HAPPENING_NOW = [
    pytest.param(
        "two men just pushed a boy of about 10 into a white van outside the temple", id="pushed"
    ),
    pytest.param(
        "pls help a small girl is screaming inside a car at the petrol pump, a man is hitting her",
        id="hitting",
    ),
    pytest.param("a man is taking a girl away, she is crying", id="taking-en"),
    pytest.param("ek aadmi ladki ko le ja rha h, wo ro rahi hai", id="taking-hi-Latn"),
    pytest.param("एक आदमी लड़की को ले जा रहा है, वो रो रही है", id="taking-hi"),
    pytest.param("ایک آدمی لڑکی کو لے جا رہا ہے، وہ رو رہی ہے", id="taking-ur"),
    pytest.param("একটা লোক মেয়েটাকে নিয়ে যাচ্ছে, মেয়েটা কাঁদছে", id="taking-bn"),
    pytest.param("ekta lok meye take niye jacche, meye ta kadche", id="taking-bn-Latn"),
    pytest.param("एक माणूस मुलीला घेऊन जातोय, ती रडतेय", id="taking-mr"),
    pytest.param("एउटा मान्छेले केटीलाई लैजाँदैछ, केटी रोइरहेकी छ", id="taking-ne"),
    pytest.param("euta manche keti lai lagdai cha, keti roi rahechi", id="taking-ne-Latn"),
    pytest.param("kidnappers took my son from the park 20 minutes ago", id="minutes-ago"),
    pytest.param(
        "someone is trying to sell a newborn baby at the hospital gate for 50000",
        id="trying-to-sell",
    ),
]


@pytest.mark.parametrize("report", HAPPENING_NOW)
def test_a_child_harmed_taken_or_sold_as_it_is_told_is_critical(report: str) -> None:
    assert assess(report).urgency is Urgency.CRITICAL


@pytest.mark.parametrize(
    "report",
    [
        "agle hafte wo ladkiyon ko mumbai le ja rahe hain",
        "wo roz bachon ko kaam pe le ja rahe hain",
        "next week he is taking the girls to mumbai",
    ],
)
def test_taking_away_next_week_or_every_day_is_not_critical(report: str) -> None:
    assert assess(report).urgency is not Urgency.CRITICAL


@pytest.mark.parametrize(
    "report",
    [
        "મદદ કરો, 12 વર્ષની છોકરીને હમણાં 9:30 બસમાં લઈ જાય છે 🚨😭",
        "Помогите, девочку увозят сейчас на вокзал 21:00",
        "ਮਦਦ 🆘 12 ਸਾਲ ਦੀ ਕੁੜੀ Delhi station",
    ],
)
def test_an_alarm_in_a_script_no_lexicon_reads_reaches_a_human(report: str) -> None:
    """No lexicon can show the case, but a plea, fear or clock time is never dismissed."""
    assert assess(report).urgency is Urgency.MEDIUM


@pytest.mark.parametrize("report", ["Привет", "નમસ્તે", "12345"])
def test_a_script_no_lexicon_reads_without_an_alarm_stays_low(report: str) -> None:
    assert assess(report).urgency is Urgency.LOW


def test_an_adult_word_beside_a_child_is_not_adults_only() -> None:
    """'wife' is an adult word, but the report is about the little girl she locks in."""
    result = assess("seth ki biwi chhoti ladki ko kamre me band kar ke rakhti hai")
    assert result.urgency is Urgency.CRITICAL


def test_a_child_in_fear_on_the_way_is_critical() -> None:
    """No word for now, but the girls are afraid and the bus is on its way."""
    report = "बसमा एउटा मान्छे ३ जना स-साना केटीहरू लिएर बसेको छ, केटीहरू डराएका छन्, बस भैरहवा जाँदैछ"
    assert assess(report).urgency is Urgency.CRITICAL
    habit = "every week a man takes small girls on the bus to the city, they are scared"
    assert assess(habit).urgency is not Urgency.CRITICAL


def test_being_sold_in_a_question_is_not_now_unless_the_child_is_situated() -> None:
    asked = assess("what should I do if I see a child being sold?")
    assert asked.urgency in {Urgency.MEDIUM, Urgency.LOW}
    seen = assess("a girl is being sold at the bus stand, what should i do?")
    assert seen.urgency is Urgency.CRITICAL


def test_a_hypothetical_question_about_a_child_is_low() -> None:
    assert assess("if a child is being trafficked what is the helpline number").urgency is (
        Urgency.LOW
    )


def test_a_plan_for_today_is_now() -> None:
    report = "my neighbours plan to marry off their 13 year old today after the night prayer"
    assert assess(report).urgency is Urgency.CRITICAL
    assert assess("they plan to marry off their 13 year old next year").urgency is not (
        Urgency.CRITICAL
    )


def test_a_question_about_a_series_watched_last_night_is_low() -> None:
    """'kal raat' dates the watching; the question is about fiction."""
    series = (
        "kal raat ek web series dekhi jisme ladkiyon ko truck me bhar ke border paar le jaate "
        "hai, kya ye sach me hota hai?"
    )
    assert assess(series).urgency is Urgency.LOW
    seen = (
        "I saw a news report about trafficking, and right now a man is pulling a girl "
        "into a car at the station"
    )
    assert assess(seen).urgency is Urgency.CRITICAL


def test_verbs_that_say_now_are_not_listed_as_times() -> None:
    facts = assess("a man is taking a little girl to the bus stand right now").facts
    assert facts.times == ("right now",)
    assert "tonight" in assess("the bus leaves at 9 tonight with the girls").facts.times
