"""The text detector on values it must find and look-alikes it must leave alone."""

import itertools

import pytest

from veil import InputError, Policy, scan_text
from veil.text import TextDetector

DETECTOR = TextDetector()

FOUND = [
    # (text, value, entity)
    ("Mail me at jane.roe@example.org today", "jane.roe@example.org", "EMAIL_ADDRESS"),
    ("Call +1 (555) 010-2030 tonight", "+1 (555) 010-2030", "PHONE_NUMBER"),
    ("Ruf mich an: 030 12345678", "030 12345678", "PHONE_NUMBER"),
    ("Appelez le 01 23 45 67 89 svp", "01 23 45 67 89", "PHONE_NUMBER"),
    ("Llámame al +34 612 345 678", "+34 612 345 678", "PHONE_NUMBER"),
    ("card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111", "CREDIT_CARD"),
    ("Überweisung an DE89 3704 0044 0532 0130 00 bitte", "DE89 3704 0044 0532 0130 00",
     "IBAN_CODE"),
    ("IBAN FR1420041010050500013M02606 merci", "FR1420041010050500013M02606", "IBAN_CODE"),
    ("Donor Maria Garcia AB positive, 2 units", "Maria Garcia", "PERSON"),  # not a company "AB"
    ("Maestro card 5018 7483 3780 paid", "5018 7483 3780", "CREDIT_CARD"),  # 12 digits
    ("IBAN: ES91 2100 0418 4502 0005 1332\nNOMBRE: Ana", "ES91 2100 0418 4502 0005 1332",
     "IBAN_CODE"),
    ("ES9121000418450200051332 es mi cuenta", "ES9121000418450200051332", "IBAN_CODE"),
    ("SSN: 412-67-8934 on file", "412-67-8934", "US_SSN"),
    ("my social security number is 412678934", "412678934", "US_SSN"),
    ("server 192.168.10.24 is down", "192.168.10.24", "IP_ADDRESS"),
    ("host 2001:db8::8a2e:370:7334 answers", "2001:db8::8a2e:370:7334", "IP_ADDRESS"),
    ("see https://intranet.example.com/u/jroe?x=1.", "https://intranet.example.com/u/jroe?x=1",
     "URL"),
    ("Patient DOB: 04/12/1985", "04/12/1985", "DATE_OF_BIRTH"),
    ("Geburtsdatum: 12.03.1980", "12.03.1980", "DATE_OF_BIRTH"),
    ("née le 5 mars 1979 à Lyon", "5 mars 1979", "DATE_OF_BIRTH"),
    ("fecha de nacimiento: 3 de mayo de 1990", "3 de mayo de 1990", "DATE_OF_BIRTH"),
    ("Meeting on March 3, 2024 in the office", "March 3, 2024", "DATE_TIME"),
    ("passport number 912803456", "912803456", "US_PASSPORT"),
    ("driver's license D1234567", "D1234567", "US_DRIVER_LICENSE"),
    ("DEA number AB1234563", "AB1234563", "MEDICAL_LICENSE"),
    ("Dear Mr. John Smith, thank you", "John Smith", "PERSON"),
    ("PATIENT: JOHN SMITH  MRN 8812", "JOHN SMITH", "PERSON"),
    ("Name: Smith, John", "Smith, John", "PERSON"),
    ("Sehr geehrte Frau Anna Müller,", "Anna Müller", "PERSON"),
    ("Mme Claire Dubois a appelé", "Claire Dubois", "PERSON"),
    ("La Sra. Lucía Fernández llamó", "Lucía Fernández", "PERSON"),
    ("Ship to 4759 William Haven Apt. 194, West Corey, CA 90152",
     "4759 William Haven Apt. 194, West Corey, CA 90152", "ADDRESS"),
    ("wohnhaft Lindenstraße 12a, 10115 Berlin.", "Lindenstraße 12a, 10115 Berlin", "ADDRESS"),
    ("habite 12, rue de la Paix, 75002 Paris", "12, rue de la Paix, 75002 Paris", "ADDRESS"),
    ("vive en Calle de Alcalá 46, Madrid, 28014", "Calle de Alcalá 46, Madrid, 28014", "ADDRESS"),
    ("[14:05] anna: see you at eight", "anna", "PERSON"),
    ("Thanks, Olivia will bring the keys", "Olivia", "PERSON"),
    ("She moved to Hamburg last year", "Hamburg", "LOCATION"),
    ("Nous partons pour Allemagne demain", "Allemagne", "LOCATION"),
    ("Tel. 0612345678 après 18h", "0612345678", "PHONE_NUMBER"),
    ("IBAN ES4121000418990200051332 (national check digits wrong, mod 97 right)",
     "ES4121000418990200051332", "IBAN_CODE"),
    # Dates spaCy finds that the date patterns do not: a month with a year, no day.
    ("The lease was signed in March 2021 in the old office.", "March 2021", "DATE_TIME"),
    # Post-office boxes and US military mail.
    ("Please send the statement to P.O. Box 4417 instead.", "P.O. Box 4417", "ADDRESS"),
    ("Mail goes to PSC 4410, Box 2291\nAPO AE 09142 now.", "PSC 4410, Box 2291\nAPO AE 09142",
     "ADDRESS"),
    # A street without a street-type word, after an address cue or before a unit; the
    # address block's town, country and postcode lines belong to the finding.
    ("Her address: Kalevankatu 31, Oulu", "Kalevankatu 31, Oulu", "ADDRESS"),
    ("He lives at 22 Prinsengracht, Amsterdam.", "22 Prinsengracht, Amsterdam", "ADDRESS"),
    ("Ship to:\nKalevankatu 31 Apt. 5\nOulu\n\nFinland 90100\nThanks!",
     "Kalevankatu 31 Apt. 5\nOulu\n\nFinland 90100", "ADDRESS"),
    # Names introduced as names, in running text and greetings.
    ("My name is Zbyszek Wrona, I called yesterday.", "Zbyszek Wrona", "PERSON"),
    ("Hi Zbyszek,\nthe files are ready.", "Zbyszek", "PERSON"),
    # Places outside the gazetteer after a cue that a place follows, in any case.
    ("We moved here from Tjæreborg last year.", "Tjæreborg", "LOCATION"),
    ("Mr. White grew up in OSLO.", "OSLO", "LOCATION"),
    ("Sie wohnt in Kleinkleckersdorf seit 2010.", "Kleinkleckersdorf", "LOCATION"),
    ("Vivo en Villanueva de la Cañada desde 2019.", "Villanueva de la Cañada", "LOCATION"),
    # Phones with a label glued on or after them, an extension, a short local number
    # after a context word; an IP address near a phone word stays an IP address.
    ("0494 41 18 24-Office,806.578.7598-Fax", "806.578.7598", "PHONE_NUMBER"),
    ("189.490.5807 fax", "189.490.5807", "PHONE_NUMBER"),
    ("Desk 650-752-7354x549", "650-752-7354x549", "PHONE_NUMBER"),
    ("How can we reach you? You can call 61 60 34", "61 60 34", "PHONE_NUMBER"),
    ("just text me\nthe server at 91.69.4.172 is down", "91.69.4.172", "IP_ADDRESS"),
    # Streets of more languages, a closing ", Town", quoted address blocks, US city lines.
    ("Blasius lives at 461 Via Carlo Cattaneo 88, Vignale", "Via Carlo Cattaneo 88, Vignale",
     "ADDRESS"),
    ("The bus station is on Rua Loreto 26", "Rua Loreto 26", "ADDRESS"),
    ("He lives on the north side of Strepestraat 143.", "Strepestraat 143", "ADDRESS"),
    ("Please stop at Martin Linges veg 149.", "Martin Linges veg 149", "ADDRESS"),
    ("> 12 Main Street\n> Apt. 4\n> Springfield", "12 Main Street\n> Apt. 4\n> Springfield",
     "ADDRESS"),
    ("sent to 635 Michael Alley, Port\nChristopherhaven, WA 13451 within ten days",
     "635 Michael Alley, Port\nChristopherhaven, WA 13451", "ADDRESS"),
    ("the corner of 4308 Morris Street and Emma Terrace", "Emma Terrace", "ADDRESS"),
    # Names after a verb of speech or credit, before what only people do, above an address.
    ("I'm so jealous! said Naile to Caitlin", "Naile", "PERSON"),
    ("Directed By:    Lincoln Ingham", "Lincoln Ingham", "PERSON"),
    ("Maile Jaimes lives at 788 Fitjabraut 87, Keflavík", "Maile Jaimes", "PERSON"),
    ("Pertti Palander\n\n083 Favoritenstrasse 36\nKoppelstätt", "Pertti Palander", "PERSON"),
]


@pytest.mark.parametrize(("text", "value", "entity"), FOUND, ids=[f[2] for f in FOUND])
def test_finds_personal_values(text: str, value: str, entity: str) -> None:
    spans = DETECTOR.scan(text)
    hits = [(text[s.start : s.end], s.entity) for s in spans]
    assert (value, entity) in hits, hits


NOT_PERSONAL = [
    "Version 3.10.2 released with 45 fixes.",
    "The total is $45.99, order #A-77812.",
    "card 4111 1111 1111 1112 failed",  # fails Luhn
    "IBAN DE89 3704 0044 0532 0130 01",  # fails mod 97
    "SSN 000-12-3456 is not a valid number",  # area 000
    "SSN 666-12-3456 is not valid either",
    "SSN 078-05-1120 is the famous wallet-card number, never a real one",
    "the build 123456789 passed",  # nine digits without SSN or passport context
    "Meet me in the lobby.",
    "Order #4930271845 and invoice INV-2024-123456 are paid.",
    "Tracking 1Z999AA10123456784 arrives on Monday.",
    "We meet at 10:30 in room 4.",
    "Upgrade to v1.02.03 today.",
    "During 2000, the firm grew.",  # "-ring" ends English words, not only German streets
    "Revenue grew by 12 % in 2022.",  # a bare year or weekday identifies no one
    "Could you forward this before Friday?",
    "Vitals: BP 120/80, pulse 72.",
    "Dear Sir or Madam,\nplease find the report attached.",
    "I'm in Love with this song.",  # a place cue before a common word
    "I work for Japan Asia Group Limited.",  # a place inside a company's name
    "Philip Morris International Inc. reported profits.",  # a name inside one
    "Scores were 61 60 34 this week.",  # a short number without a phone word
    "UPC 501874833780 on the box",  # 12 digits, Luhn-valid: a card only beside a card word
    "He said Monday would work.",
    "",
]


@pytest.mark.parametrize("text", NOT_PERSONAL)
def test_leaves_look_alikes_alone(text: str) -> None:
    assert [(text[s.start : s.end], s.entity) for s in DETECTOR.scan(text)] == []


def test_names_in_columns_two_spaces_apart_are_two_people() -> None:
    """A table pasted as text: each column's name is a person of its own, so each gets
    its own pseudonym (joined, "Sara Lind" alone later would not restore to itself)."""
    text = "Owner       Deputy\nSara Lind  Tomas Berg\n"
    people = [text[s.start : s.end] for s in TextDetector().scan(text) if s.entity == "PERSON"]
    assert people == ["Sara Lind", "Tomas Berg"]


def test_spans_are_ordered_and_do_not_overlap() -> None:
    text = "John Smith <john.smith@example.com> +1 202 555 0143, 10 Main Street, Boston"
    spans = DETECTOR.scan(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
    assert all(0 <= s.start < s.end <= len(text) for s in spans)


def test_scan_many_equals_scan_one_by_one() -> None:
    texts = [f for f, _, _ in FOUND[:8]]
    assert DETECTOR.scan_many(texts) == [DETECTOR.scan(t) for t in texts]


def test_mixed_scripts_and_long_texts() -> None:
    text = "Контакт: jane.roe@example.org 電話 +44 20 7946 0958 " + "filler text " * 5000
    found = {(text[s.start : s.end], s.entity) for s in DETECTOR.scan(text)}
    assert ("jane.roe@example.org", "EMAIL_ADDRESS") in found
    assert ("+44 20 7946 0958", "PHONE_NUMBER") in found


def test_policy_limits_and_disabled_entities() -> None:
    policy = Policy.from_dict({"kinds": {"text.PHONE_NUMBER": {"enabled": False}}})
    text = "jane.roe@example.org +44 20 7946 0958"
    assert [s.entity for s in scan_text(text, policy)] == ["EMAIL_ADDRESS"]
    with pytest.raises(InputError, match="above the limit"):
        scan_text("x" * 101, Policy.from_dict({"limits": {"max_text_chars": 100}}))


def test_place_names_used_as_field_labels_are_not_places() -> None:
    text = "Mobile: +44 20 7946 0958"
    assert [s.entity for s in DETECTOR.scan(text)] == ["PHONE_NUMBER"]


def test_german_street_suffix_needs_a_stem() -> None:
    for text, value in (("Ditschlerinplatz 53, 56405 Bremen", "Ditschlerinplatz 53, 56405 Bremen"),
                        ("Am Kaiserring 4", "Kaiserring 4")):
        hits = [(text[s.start : s.end], s.entity) for s in DETECTOR.scan(text)]
        assert any(v == value or value in v for v, e in hits if e == "ADDRESS"), hits


def test_cues_and_labels_that_are_not_names_or_places() -> None:
    for text, value in (("She was born in March.", "March"),
                        ("Ship To\n12 Main Street", "Ship"),
                        ("Kíra is from Fred. Olsen Energy Ltd", "Fred")):
        hits = [(text[s.start : s.end], s.entity) for s in DETECTOR.scan(text)]
        assert not any(v == value and e in ("PERSON", "LOCATION") for v, e in hits), hits


def test_the_ner_model_reads_only_sentences_the_rules_left_unjudged() -> None:
    from veil.text.recognizers.ner import unexplained

    rules = TextDetector(ner=False)
    text = ("Please call me on +44 20 7946 0958. Thanks a lot.\n"
            "Rose Hill and Will Carter met there.")
    first, second = text.split("\n")
    windows = unexplained(text, rules.scan(text))
    assert [text[a:b].strip() for a, b in windows] == [second]  # "Rose", "Will": words
    assert unexplained(first, rules.scan(first)) == []


def test_a_name_ending_in_a_combining_mark_is_hidden_whole() -> None:
    # Yoruba tone marks are often written as combining characters (o, dot below, grave)
    name = "Adébáyo\u0323\u0300"
    text = f"Bonjour, je suis Oyelaran {name} et je vous écris."
    found = [text[s.start : s.end] for s in TextDetector().scan(text) if s.entity == "PERSON"]
    assert found == [f"Oyelaran {name}"]
