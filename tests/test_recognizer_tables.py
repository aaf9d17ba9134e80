# ruff: noqa: RUF001  (texts in Greek, Chinese and other scripts hold look-alike letters)
"""Per recognizer: values it must find and look-alikes it must leave alone, in each
supported language (en, de, fr, es, it, nl, pt, pl) and in text without spaces (zh, ja)."""

import pytest

from veil.text import TextDetector

DETECTOR = TextDetector(ner=False)

FOUND = {
    # recognizer: [(text, value, entity)]
    "email": [
        ("Write to jane.roe@example.org", "jane.roe@example.org", "EMAIL_ADDRESS"),
        ("Schreib an müller@example.de bitte", "müller@example.de", "EMAIL_ADDRESS"),
        ("Écrivez à françois.dupré@exemple.fr", "françois.dupré@exemple.fr", "EMAIL_ADDRESS"),
        ("请联系jane@example.org谢谢", "jane@example.org", "EMAIL_ADDRESS"),
        ("メールはtaro.yamada@example.jpまで", "taro.yamada@example.jp", "EMAIL_ADDRESS"),
    ],
    "email-obfuscated": [
        ("mail john.doe[at]example[dot]com", "john.doe[at]example[dot]com", "EMAIL_ADDRESS"),
        ("scrivimi: mario (at) esempio.it", "mario (at) esempio.it", "EMAIL_ADDRESS"),
        ("jan at voorbeeld dot nl", "jan at voorbeeld dot nl", "EMAIL_ADDRESS"),
    ],
    "domain": [
        ("Look it up on microsoft.com today", "microsoft.com", "URL"),
        ("siehe beispiel.de/impressum.", "beispiel.de/impressum", "URL"),
        ("veja exemplo.com.br", "exemplo.com.br", "URL"),
    ],
    "ipv6": [
        ("client ::ffff:192.0.2.1 connected", "::ffff:192.0.2.1", "IP_ADDRESS"),
        ("host 2001:db8::8a2e:370:7334.", "2001:db8::8a2e:370:7334", "IP_ADDRESS"),
    ],
    "card-any-issuer": [
        ("pay with 8699 1234 5678 904", "8699 1234 5678 904", "CREDIT_CARD"),
        ("card number 869912345678904", "869912345678904", "CREDIT_CARD"),
    ],
    "credit-card": [
        ("卡号4111111111111111谢谢", "4111111111111111", "CREDIT_CARD"),
        ("UATP 122000000000003", "122000000000003", "CREDIT_CARD"),
    ],
    "iban": [
        ("IBAN DE89-3704-0044-0532-0130-00", "DE89-3704-0044-0532-0130-00", "IBAN_CODE"),
        ("IBAN IT60 X054 2811 1010 0000 0123 456", "IT60 X054 2811 1010 0000 0123 456",
         "IBAN_CODE"),
        ("IBAN NL91 ABNA 0417 1643 00", "NL91 ABNA 0417 1643 00", "IBAN_CODE"),
        ("IBAN PT50 0002 0123 1234 5678 9015 4", "PT50 0002 0123 1234 5678 9015 4", "IBAN_CODE"),
        ("IBAN PL61 1090 1014 0000 0712 1981 2874", "PL61 1090 1014 0000 0712 1981 2874",
         "IBAN_CODE"),
    ],
    "date": [
        ("Vaccinated 5-May-2021", "5-May-2021", "DATE_TIME"),
        ("Termin am 21.5.21", "21.5.21", "DATE_TIME"),
        ("DOB 12-JAN-1980", "12-JAN-1980", "DATE_OF_BIRTH"),
        ("nato il 5 maggio 1979", "5 maggio 1979", "DATE_OF_BIRTH"),
        ("geboren op 3 maart 1990", "3 maart 1990", "DATE_OF_BIRTH"),
        ("data de nascimento: 7 de março de 1985", "7 de março de 1985", "DATE_OF_BIRTH"),
        ("urodzona 12 maja 1988", "12 maja 1988", "DATE_OF_BIRTH"),
        ("生于1985年4月12日", "1985年4月12日", "DATE_TIME"),
    ],
    "phone": [
        ("Chiamami al +39 06 6988 4857", "+39 06 6988 4857", "PHONE_NUMBER"),
        ("Bel me op +31 20 624 1111", "+31 20 624 1111", "PHONE_NUMBER"),
        ("Ligue para +351 21 321 3000", "+351 21 321 3000", "PHONE_NUMBER"),
        ("Zadzwoń: +48 22 694 2501", "+48 22 694 2501", "PHONE_NUMBER"),
        ("电话+86 138 0013 8000谢谢", "+86 138 0013 8000", "PHONE_NUMBER"),
    ],
    "masked-card": [
        ("Paid with **** **** **** 4242", "**** **** **** 4242", "CREDIT_CARD"),
        ("Karte XXXX-XXXX-XXXX-1234", "XXXX-XXXX-XXXX-1234", "CREDIT_CARD"),
    ],
    "labelled-field": [
        ("Patient ID: 88231-A", "88231-A", "ID_NUMBER"),
        ("SURNAME: DOE", "DOE", "PERSON"),
        ("OWNER NAME\nWOJCIECH ZIELIŃSKI", "WOJCIECH ZIELIŃSKI", "PERSON"),
        ("Cognome: Bianchi", "Bianchi", "PERSON"),
        ("Achternaam: Visser", "Visser", "PERSON"),
        ("Nazwisko: Wiśniewska", "Wiśniewska", "PERSON"),
        ("Passport No. X1234567", "X1234567", "ID_NUMBER"),
    ],
    "name-list-scripts": [
        ("Меня зовут Иван Смирнов, позвоните мне.", "Иван Смирнов", "PERSON"),
        ("Ο Γιώργος Παπαδόπουλος μένει εδώ.", "Γιώργος Παπαδόπουλος", "PERSON"),
        ("اسمي أحمد محمد وأنا هنا", "أحمد محمد", "PERSON"),
        ("我叫王伟，住在上海。", "王伟", "PERSON"),
        ("佐藤篤司さんに連絡してください", "佐藤篤司", "PERSON"),
        ("김민준 씨에게 전화하세요", "김민준", "PERSON"),
    ],
    "mrz": [
        ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
         "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "MRZ"),
        ("L898902C36UTO7408122F1204159ZE184226B<<<<<10",
         "L898902C36UTO7408122F1204159ZE184226B<<<<<10", "MRZ"),
    ],
}

LEFT = {
    "email": ["the @example handle", "price 3@4.50"],
    "email-obfuscated": ["look at example.com", "meet me at home"],
    "domain": ["run main.py now", "see README.md", "version 1.2.3", "open report.pdf"],
    "ipv4": ["Appelez le 01.79.75.98.55", "version 10.2.3.4.5"],
    "card-any-issuer": ["order 869912345678904 shipped", "pay 8699 1234 5678 903"],
    "iban": ["ref DE89-3704-0044-0532-0130-01"],
    "date": ["Python 3.10.12 is out", "version 1.2.21", "ratio 45/67/2020"],
    "masked-card": ["Articles : 20 x XXX-9432-ZP", "code ***-12"],
    "labelled-field": ["Name the file report.txt", "Name: the file", "Phone: call me later"],
    "name-list-scripts": ["Это просто текст без имён.", "Мы живём в Москве и любим Август.",
                          "今天天气很好，我们去公园。", "Η Αθήνα είναι όμορφη πόλη."],
    "mrz": ["IDENTIFICATION OF THE PATIENT IS DONE HERE", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF"],
}


@pytest.mark.parametrize(("recognizer", "text", "value", "entity"),
                         [(r, *case) for r, cases in FOUND.items() for case in cases])
def test_found(recognizer: str, text: str, value: str, entity: str) -> None:
    found = {text[s.start:s.end]: (s.entity, s.source) for s in DETECTOR.scan(text)}
    assert found.get(value) == (entity, recognizer), found


@pytest.mark.parametrize(("recognizer", "text"),
                         [(r, text) for r, texts in LEFT.items() for text in texts])
def test_left_alone(recognizer: str, text: str) -> None:
    assert [text[s.start:s.end] for s in DETECTOR.scan(text) if s.source == recognizer] == []
