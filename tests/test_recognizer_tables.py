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
        ("Write to o'brien@example.com today", "o'brien@example.com", "EMAIL_ADDRESS"),
        ("Mail a&b.team@example.org please", "a&b.team@example.org", "EMAIL_ADDRESS"),
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
    "url": [
        ("log in at http://jo:s3cret@example.com:8080/ now", "http://jo:s3cret@example.com:8080/",
         "URL"),
        ("get ftp://files.example.org/pub/cv.pdf", "ftp://files.example.org/pub/cv.pdf", "URL"),
        ("open file:///home/share/report", "file:///home/share/report", "URL"),
        ("wiki http://intranet/people/Jane_Roe here", "http://intranet/people/Jane_Roe", "URL"),
        ("shop at https://münchen.de/anna", "https://münchen.de/anna", "URL"),
        ("local http://[::1]:8080/me", "http://[::1]:8080/me", "URL"),
    ],
    "ipv6": [
        ("client ::ffff:192.0.2.1 connected", "::ffff:192.0.2.1", "IP_ADDRESS"),
        ("route 1:2:3:4:5:6:7:: here", "1:2:3:4:5:6:7::", "IP_ADDRESS"),
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
        # any grouping a bank prints: a space after the country, dots, short groups
        ("Kontonummer: NO 93 86011117947", "NO 93 86011117947", "IBAN_CODE"),
        ("IBAN NO93.8601.1117.947 bitte", "NO93.8601.1117.947", "IBAN_CODE"),
        ("IBAN NO93 8601 1117 947", "NO93 8601 1117 947", "IBAN_CODE"),
        ("iban gb27west10203040506070", "gb27west10203040506070", "IBAN_CODE"),
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
    "th-tnin": [
        ("PIN 1 1017 00203 45 0", "1 1017 00203 45 0", "TH_TNIN"),
        ("Thai personal identification number 1101700203450", "1101700203450", "TH_TNIN"),
    ],
    "de-tax-number": [
        ("Steuernummer 123/456/78901", "123/456/78901", "DE_TAX_NUMBER"),
        ("St.-Nr. 2181081508155", "2181081508155", "DE_TAX_NUMBER"),
        ("Finanzamt, Steuernummer 21 815 08150", "21 815 08150", "DE_TAX_NUMBER"),
    ],
    "de-social-security": [
        ("Versicherungsnummer 53 240578 K 001", "53 240578 K 001", "DE_SOCIAL_SECURITY"),
    ],
    "de-postcode": [
        ("Versand nach D-80331 München", "D-80331", "DE_PLZ"),
    ],
    "kr-rrn": [  # a 7th digit of 9 or 0: born in the 1800s
        ("주민등록번호 850314-9000002", "850314-9000002", "KR_RRN"),
        ("RRN 9001010000003", "9001010000003", "KR_RRN"),
    ],
    "kr-brn": [
        ("BRN 2118601230", "2118601230", "KR_BRN"),
        ("business registration 211 86 01230", "211 86 01230", "KR_BRN"),
    ],
    "za-id-number": [  # passes Luhn and starts like a card: its context word decides
        ("ID number 6203155000080", "6203155000080", "ZA_ID_NUMBER"),
    ],
    "za-income-tax-number": [
        ("TIN 0123456709", "0123456709", "ZA_INCOME_TAX_NUMBER"),
        ("income tax 0123/456/70/9", "0123/456/70/9", "ZA_INCOME_TAX_NUMBER"),
    ],
    "pl-nip": [
        ("NIP PL 7382145616", "PL 7382145616", "PL_NIP"),
        ("NIP 7382145616", "7382145616", "PL_NIP"),
        ("NIP: 738 214 56 16", "738 214 56 16", "PL_NIP"),
    ],
    "pt-citizen-card": [
        ("CC 13345678 0 ZX 3", "13345678 0 ZX 3", "PT_CC"),
    ],
    "se-organisationsnummer": [
        ("Orgnr 5566771233", "5566771233", "SE_ORGANISATIONSNUMMER"),
    ],
    "se-personnummer": [
        ("Personnummer 7902143218", "7902143218", "SE_PERSONNUMMER"),
    ],
    "es-nif": [  # K, L and M: Spanish minors, Spaniards abroad, foreigners without an NIE
        ("NIF L4821937X", "L4821937X", "ES_NIF"),
        ("DNI M-4821937-X", "M-4821937-X", "ES_NIF"),
    ],
    "fr-nir": [  # born overseas: a 3-digit department, a 2-digit commune
        ("sécurité sociale 2 87 05 971 14 403 42", "2 87 05 971 14 403 42", "FR_NIR"),
    ],
    "es-nie": [
        ("NIE y1234567x", "y1234567x", "ES_NIE"),
    ],
    "fi-personal-identity-code": [
        ("hetu 220388a1239", "220388a1239", "FI_PERSONAL_IDENTITY_CODE"),
        ("henkilötunnus 150772-951K", "150772-951K", "FI_PERSONAL_IDENTITY_CODE"),  # temporary
    ],
    "au-abn": [
        ("ABN 5 1824 7535 56", "5 1824 7535 56", "AU_ABN"),
    ],
    "mac-address": [
        ("MAC address d0:50:99:84:a2:a0", "d0:50:99:84:a2:a0", "MAC_ADDRESS"),
        ("MAC address 0050.5684.a2a0", "0050.5684.a2a0", "MAC_ADDRESS"),
    ],
    "crypto-bitcoin": [  # bech32 may be written all upper case (BIP 173)
        ("Bitcoin BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
         "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "CRYPTO"),
    ],
    "tr-national-id": [  # "C." is not a Spanish street with a number cut from the digits
        ("T.C. Kimlik No 38264519020", "38264519020", "TR_NATIONAL_ID"),
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
    "email": ["the @example handle", "price 3@4.50", "bounce a@invalid-.com",
              "bounce a@-invalid.com", "too long " + "x" * 65 + "@example.com"],
    "email-obfuscated": ["look at example.com", "meet me at home"],
    "domain": ["run main.py now", "see README.md", "version 1.2.3", "open report.pdf"],
    "ipv4": ["Appelez le 01.79.75.98.55", "version 10.2.3.4.5"],
    "card-any-issuer": ["order 869912345678904 shipped", "pay 8699 1234 5678 903"],
    "iban": ["ref DE89-3704-0044-0532-0130-01", "IBAN QQ93 1234 5678 9012"],
    "de-social-security": ["Build 53240578K002 failed", "Versicherungsnummer 53 240578 K 002"],
    "mac-address": ["MAC d0:50:99:84:a2:a0:ff", "MAC address 01:00:5e:00:00:fb",
                    "broadcast ff:ff:ff:ff:ff:ff"],
    "street-address": ["Pedido C. Lopez 123456789 enviado"],
    "url": ["see http://## for details", "path http:///a", "broken link http://?q",
            "typo http://shop..example", "no host http://-a.b.co", "four parts http://127.0.0/a",
            "octet http://127.12.0.260", "numeric tld http://foobar.12"],
    "de-postcode": ["Release DE-80331x shipped", "Ticket D-80331 closed"],
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
