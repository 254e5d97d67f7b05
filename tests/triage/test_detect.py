"""Language and script detection."""

from __future__ import annotations

import pytest

from triage import detect_language
from triage.detect import scripts_in
from triage.normalize import normalize


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("There is a small boy crying at the bus stand, please send someone", "en"),
        ("मेरी बहन को एक आदमी स्टेशन पर ले जा रहा है", "hi"),
        ("meri behen ko ek aadmi station pe le ja raha hai, jaldi karo", "hi-Latn"),
        ("আমার বোনকে একটা লোক স্টেশনে নিয়ে যাচ্ছে", "bn"),
        ("amar bon ke ekta lok station e niye jacche, ki korbo", "bn-Latn"),
        ("मेरो बहिनीलाई एउटा मान्छेले बसपार्कमा लैजाँदैछ, छिटो गर्नुहोस्", "ne"),
        ("mero bahini lai euta manche le buspark ma laijadai cha", "ne-Latn"),
        ("میری بہن کو ایک آدمی اسٹیشن پر لے جا رہا ہے", "ur"),
        ("meri behn ko aik aadmi lari adda pe le ja raha hai, bohat dar lag raha", "ur-Latn"),
        ("என் தங்கையை ஒருவன் பேருந்து நிலையத்துக்கு அழைத்து செல்கிறான்", "ta"),
        ("මගේ නංගිව එක මිනිහෙක් බස් එකේ අරන් යනවා", "si"),
        ("నా చెల్లిని ఒక వ్యక్తి బస్సులో తీసుకెళ్తున్నాడు", "te"),
        ("माझ्या बहिणीला एक माणूस स्टेशनवर घेऊन जात आहे", "mr"),
        ("زما خور یو سړی په موټر کې بیايي", "ps"),
        ("یک مرد خواهرم را با موتر می برد، لطفا کمک کنید", "fa"),
        ("އަހަރެންގެ ކޮއްކޮ އެއް މީހަކު ބޯޓުގައި ގެންދަނީ", "dv"),
        ("Een man neemt mijn zusje mee naar het station, help", "nl"),
    ],
)
def test_detects_language_and_romanization(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["", "   ", "12345", "😭😭", "!!!"])
def test_no_letters_is_undetermined(text: str) -> None:
    assert detect_language(text) == "und"


def test_script_without_lexicon_is_undetermined() -> None:
    assert detect_language("મારી બહેનને એક માણસ લઈ જાય છે") == "und"


def test_code_mixed_text_reads_both_scripts() -> None:
    assert set(scripts_in(normalize("मेरे area में एक modelling agency है"))) == {"Deva", "Latn"}
