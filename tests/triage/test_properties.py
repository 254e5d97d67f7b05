"""Properties the GUIDE promises, checked with generated and paired inputs."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage import Urgency, assess

# Modest and reproducible: the whole triage suite must stay under a minute.
FAST = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

# "Right now" and a negation of the whole report, in each language.
RIGHT_NOW = {
    "en": "right now", "hi": "अभी अभी", "hi-Latn": "abhi abhi", "bn": "এখনই",
    "bn-Latn": "ekhuni", "ne": "अहिले नै", "ne-Latn": "ahile nai", "ur": "ابھی ابھی",
    "ur-Latn": "abhi abhi", "ta": "இப்போதே", "si": "දැන්ම", "te": "ఇప్పుడే", "mr": "आत्ताच",
    "fa": "همین حالا", "ps": "همدا اوس", "dv": "މިހާރުން މިހާރަށް", "nl": "nu meteen",
}  # fmt: skip
WHOLE_NEGATION = {
    "en": "This is not real, nothing happened, no child is in danger:",
    "hi": "ये सच नहीं है, कुछ नहीं हुआ, कोई बच्चा खतरे में नहीं है:",
    "hi-Latn": "ye sach nahi, kuch nahi hua, koi khatra nahi hai:",
    "bn": "এটা সত্যি না, কিছু হয়নি, কোনো বাচ্চা বিপদে নেই:",
    "bn-Latn": "eta sotti na, kichu hoyni, kono bacha bipode nei:",
    "ne": "यो साँचो होइन, केही भएको छैन, कुनै बच्चा खतरामा छैन:",
    "ne-Latn": "yo sacho haina, kei bhako chaina, kunai baccha khatara ma chaina:",
    "ur": "یہ سچ نہیں، کچھ نہیں ہوا، کوئی بچہ خطرے میں نہیں:",
    "ur-Latn": "ye sach nahi, kuch nahi hua, koi bacha khatray mein nahi:",
    "ta": "இது உண்மை இல்லை, ஒன்றும் நடக்கவில்லை, எந்த குழந்தையும் ஆபத்தில் இல்லை:",
    "si": "මේක ඇත්ත නෙවෙයි, මුකුත් වුණේ නෑ, කිසිම ළමයෙක් අනතුරක නෑ:",
    "te": "ఇది నిజం కాదు, ఏమీ జరగలేదు, ఏ పిల్లలు ప్రమాదంలో లేరు:",
    "mr": "हे खरं नाही, काही झालं नाही, कोणतंही मूल धोक्यात नाही:",
    "fa": "این راست نیست، چیزی نشده، هیچ طفل در خطر نیست:",
    "ps": "دا رښتیا نه ده، هیڅ نه دي شوي، هیڅ ماشوم په خطر کې نه دی:",
    "dv": "މިއީ ތެދެއް ނޫން، އެއްވެސް ކަމެއް ނުވޭ، އެއްވެސް ކުއްޖަކު ނުރައްކަލެއްގައި ނެތް:",
    "nl": "Het is niet echt, er is niets gebeurd, niemand is in gevaar:",
}
RANK = {Urgency.LOW: 0, Urgency.MEDIUM: 1, Urgency.HIGH: 2, Urgency.CRITICAL: 3}

# Concrete reports written for these tests, one or more per language.
CONCRETE_REPORTS: list[tuple[str, str]] = [
    ("en", "a 13 year old girl works as a maid in the house opposite and is not allowed out"),
    ("en", "a broker is taking three boys of 14 to the border"),
    ("hi", "सामने वाले घर में 12 साल की लड़की नौकरानी का काम करती है, बाहर नहीं जाने देते"),
    ("hi-Latn", "dhabe pe 11 saal ka ladka kaam karta hai, malik paise nahi deta"),
    ("bn", "পাশের বাসায় ১২ বছরের একটা মেয়ে কাজ করে, বাইরে যেতে দেয় না"),
    ("bn-Latn", "pasher barite 12 bochorer meye kaj kore, bahire jete dey na"),
    ("ne", "होटलमा १३ वर्षको केटा काम गर्छ, साहुले पैसा दिँदैन"),
    ("ne-Latn", "hotel ma 13 barsa ko keta kaam garcha, sahu le paisa didaina"),
    ("ur", "ساتھ والے گھر میں 12 سال کی بچی نوکرانی ہے، باہر نہیں جانے دیتے"),
    ("ur-Latn", "bhattay pe 10 saal ke bachay kaam karte hain, malik paise nahi deta"),
    ("ta", "ஹோட்டலில் 12 வயது சிறுவன் வேலை செய்கிறான், சம்பளம் இல்லை"),
    ("si", "හෝටලයක අවුරුදු 13 ළමයෙක් වැඩ කරනවා, පඩි නෑ"),
    ("te", "హోటల్‌లో 12 ఏళ్ల అబ్బాయి పని చేస్తున్నాడు, జీతం లేదు"),
    ("mr", "हॉटेलमध्ये १२ वर्षांचा मुलगा काम करतो, पगार नाही"),
    ("fa", "در یک دکان یک پسر ۱۲ ساله کار می کند، معاش نمی دهند"),
    ("ps", "په دوکان کې یو ۱۲ کلن هلک کار کوي، معاش نه ورکوي"),
    ("dv", "ފިހާރައެއްގައި 12 އަހަރުގެ ކުއްޖަކު މަސައްކަތް ކުރަނީ، މުސާރަ ނުދޭ"),
    ("nl", "een meisje van 13 werkt de hele dag in een restaurant en krijgt geen loon"),
]


def _rank(text: str) -> int:
    return RANK[assess(text).urgency]


@FAST
@given(st.text())
def test_any_unicode_gets_a_verdict(text: str) -> None:
    result = assess(text)
    assert result.urgency in RANK
    assert 0 <= result.score <= 100


@FAST
@given(st.text())
def test_assess_is_deterministic(text: str) -> None:
    assert assess(text) == assess(text)


@pytest.mark.parametrize(("lang", "report"), CONCRETE_REPORTS)
def test_right_now_never_lowers_urgency(lang: str, report: str) -> None:
    assert _rank(f"{report} {RIGHT_NOW[lang]}") >= _rank(report)


@FAST
@given(st.sampled_from(CONCRETE_REPORTS), st.sampled_from(["", " ", "!!", " pls", "\n"]))
def test_right_now_with_noise_never_lowers_urgency(case: tuple[str, str], noise: str) -> None:
    lang, report = case
    assert _rank(f"{report}{noise} {RIGHT_NOW[lang]}") >= _rank(report + noise)


@pytest.mark.parametrize(("lang", "report"), CONCRETE_REPORTS)
def test_negating_the_whole_report_never_raises_it(lang: str, report: str) -> None:
    assert _rank(f"{WHOLE_NEGATION[lang]} {report}") <= _rank(report)


@pytest.mark.parametrize(("lang", "report"), CONCRETE_REPORTS)
def test_concrete_reports_are_not_low(lang: str, report: str) -> None:
    assert _rank(report) >= RANK[Urgency.MEDIUM], lang


@FAST
@given(st.sampled_from(CONCRETE_REPORTS))
def test_case_and_spacing_do_not_change_the_level(case: tuple[str, str]) -> None:
    _, report = case
    assert _rank(report.upper()) == _rank(report) == _rank("  " + report.replace(" ", "  "))


def test_same_report_in_two_scripts_gets_the_same_level(dev_records: list[dict[str, Any]]) -> None:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in dev_records:
        if "pair" in record:
            groups[record["pair"]].append(record)
    assert len(groups) >= 30
    mismatched = []
    for pair, records in sorted(groups.items()):
        levels = {assess(record["text"]).urgency for record in records}
        if len(levels) > 1:
            mismatched.append((pair, sorted(level.value for level in levels)))
    # The bar: at least 90 % of the pair groups agree across every script.
    assert len(mismatched) <= len(groups) // 10, mismatched
