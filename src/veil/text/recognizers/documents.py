"""Documents written as text: labelled fields ("Patient ID: 88231-A", "SURNAME:\nDOE")
and the machine-readable zones of passports and ID cards. The same labels read the form
fields of images (``veil.detect.image_text``)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from veil.regions import Span
from veil.text import patterns as tp
from veil.text.recognizer import FunctionRecognizer

FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "PERSON": (
        "name", "full name", "surname", "last name", "family name", "first name", "first names",
        "given name", "given names", "forename", "forenames", "patient name", "cardholder",
        "account holder", "nom", "nom complet", "nom de famille", "prénom", "prénoms",
        "name/vorname", "vorname", "vornamen", "nachname", "familienname",
        "vollständiger name", "nombre", "nombres", "nombre completo", "apellido", "apellidos",
        "titular", "owner", "owner name", "holder", "patient", "nome", "cognome", "naam",
        "achternaam", "voornaam", "apelido", "nazwisko", "imię",
    ),
    "ID_NUMBER": (
        "id", "id no", "id number", "id nr", "id #", "patient id", "pid", "mrn",
        "medical record number", "passport", "passport no", "passport number", "passport nr",
        "document number", "ausweisnummer", "passnummer",
        "dokumentnummer", "personalausweisnummer", "n° du document", "no du document",
        "numéro de document", "numéro du document", "numéro de passeport",
        "número de documento", "número de pasaporte", "dni", "nie", "nif",
    ),
    "DATE_OF_BIRTH": (
        "dob", "d.o.b", "birth", "date of birth", "birth date", "birthdate", "born",
        "geburtsdatum", "geb", "geboren", "date de naissance", "né le", "née le", "né(e) le",
        "fecha de nacimiento", "f. nac", "nacimiento", "data di nascita", "nato il",
        "nata il", "geboortedatum", "data de nascimento", "data urodzenia",
    ),
    "PHONE_NUMBER": (
        "phone", "tel", "telephone", "mobile", "cell", "phone number", "telefon",
        "telefonnummer", "handy", "mobil", "téléphone", "tél", "portable", "teléfono",
        "móvil", "celular", "telefono", "cellulare", "telefoon", "mobiel", "telefone",
        "telemóvel", "numer telefonu", "komórka",
    ),
    "ADDRESS": (
        "address", "home address", "street address", "adresse", "anschrift", "wohnanschrift",
        "dirección", "domicilio", "indirizzo", "adres", "morada", "endereço",
    ),
    "DATE_TIME": ("study", "study date", "acq", "acquisition date", "exam date",
                  "series date"),
    "IBAN_CODE": ("iban", "account no", "account number", "kontonummer", "numéro de compte",
                  "número de cuenta"),
    "CREDIT_CARD": ("card", "card no", "card number", "credit card", "karte", "kartennummer",
                    "carte", "numéro de carte", "tarjeta", "número de tarjeta"),
}
LABEL_OF = {label: entity for entity, labels in FIELD_LABELS.items() for label in labels}
_LABEL_WORDS = 5
"""A label may go on for a few words ("IBAN for payout", "Date of birth (dd/mm/yyyy)")."""
_LABEL_END = re.compile(r"\s*[:.#]*\s*")
_DIGIT_LIKE = str.maketrans("OoQDlIi|SBZ", "00001111582")
_VALUE_OK = {
    "PERSON": re.compile(r"(?:[^\W\d_][\w'\u2019.-]*,?)(?: [^\W\d_][\w'\u2019.-]*,?){0,3}"),
    "ID_NUMBER": re.compile(r"(?=.*\d)[A-Z0-9][A-Z0-9 /-]{3,18}[A-Z0-9]"),
    "DATE_OF_BIRTH": re.compile(r"(?=(?:\D*\d){2})[\w ./-]{6,24}"),
    "PHONE_NUMBER": re.compile(r"\+?(?=(?:\D*\d){6})[\d ()./-]{6,24}"),
    "ADDRESS": re.compile(r"(?=.*[^\W\d_])(?=.*\d).{6,100}"),
    "IBAN_CODE": re.compile(r"[A-Z]{2}\d{2}[A-Z0-9 ]{8,36}"),
    "CREDIT_CARD": re.compile(r"(?=(?:\D*\d){12})[\d -]{12,23}"),
}
"""What the value of each field looks like, OCR slips aside (letters read for digits
are taken as digits in the fields of ``_OCR_DIGITS``)."""
_OCR_DIGITS = frozenset({"DATE_OF_BIRTH", "PHONE_NUMBER", "CREDIT_CARD"})
_DAY_MON_YEAR = re.compile(r"\d{1,2}-[A-Za-z]{3,4}-\d{4}")
_COMPACT_DATE = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")


def label(text: str) -> tuple[str, int] | None:
    """The field a segment's text starts with, and where its label ends: the longest
    label of at most ``_LABEL_WORDS`` words, matched case-insensitively."""
    words = list(re.finditer(r"[^\s:]+:?", text))
    for n in range(min(_LABEL_WORDS, len(words)), 0, -1):
        head = text[: words[n - 1].end()].casefold().rstrip(":.#")
        for k in range(n, 0, -1):  # "IBAN for payout": the label, then a few more words
            if k < n and not words[n - 1].group(0).endswith(":"):
                continue  # more words count only up to a colon: "Patient: Harold Whitfield"
            entity = LABEL_OF.get(" ".join(w.group(0) for w in words[:k]).casefold()
                                   .rstrip(":.#"))
            if entity is not None and not re.search(r"\d", head):
                tail = text[words[n - 1].end():]
                end = words[n - 1].end() + _LABEL_END.match(tail).end()  # type: ignore[union-attr]
                return entity, end
    return None


def value_ok(entity: str, value: str) -> bool:
    value = value.strip(" ,;")
    if entity == "PERSON":
        # One word alone may be any heading; a known name, or a run of capitalised words.
        words = value.replace(",", " ").split()
        known = any(w.casefold() in tp.all_names() for w in words)
        if not known and (len(words) < 2 or value.isupper()):
            return False
    if entity == "DATE_TIME":
        return any(tp.plausible_date(m) for r in tp.DATES if (m := r.fullmatch(value))
                   ) or bool(_COMPACT_DATE.fullmatch(value) or _DAY_MON_YEAR.fullmatch(value))
    if entity in _OCR_DIGITS:
        value = value.translate(_DIGIT_LIKE)
    return bool(_VALUE_OK[entity].fullmatch(value))


_LINE = re.compile(r"[^\n]+")
_ALL_LABELS = "|".join(re.escape(x) for x in sorted(LABEL_OF, key=len, reverse=True))
_LABELLED = re.compile(rf"(?i)[ \t]*(?:[-*\u2022][ \t]*)?({_ALL_LABELS})[ \t]*"
                       r"(?:\([^)\n]{0,24}\))?[ \t]*(?:[:#]|n[or]\.?(?=[ \t]))[ \t]*")
_LABEL_ALONE = re.compile(rf"(?i)[ \t]*({_ALL_LABELS})[ \t]*:?[ \t]*")
_NAME_WORDS = re.compile(r"[^\W\d_][\w'\u2019.-]*(?:,? [^\W\d_][\w'\u2019.-]*){0,3},?")


def _field_value(entity: str, value: str) -> bool:
    """A field's value in written text: a name under a name label may be upper case or a
    single word ("SURNAME: DOE"), unless it opens with a common word ("Name: the file")."""
    if entity == "PERSON":
        words = value.replace(",", " ").split()
        trim = tp.trim_words()
        common = [w.casefold() in trim and w.casefold() not in tp.all_names() for w in words]
        return bool(_NAME_WORDS.fullmatch(value)) and not (common[0] or all(common))
    return value_ok(entity, value)


def labelled_fields(text: str, prior: Sequence[Span] = ()) -> list[Span]:
    """The value after a field's label and a colon ("Patient ID: 88231-A", "Nachname:
    Müller"), or on the line below a label standing alone ("OWNER NAME" / "JANE DOE")."""
    lines = list(_LINE.finditer(text))
    out = []
    for i, line in enumerate(lines):
        head = _LABELLED.match(line.group(0))
        if head is not None:
            entity = LABEL_OF[head.group(1).casefold()]
            value, start = line.group(0)[head.end():], line.start() + head.end()
        elif (alone := _LABEL_ALONE.fullmatch(line.group(0))) is not None:
            if i + 1 == len(lines) or lines[i + 1].start() != line.end() + 1:
                continue  # the value must be on the very next line
            entity = LABEL_OF[alone.group(1).casefold()]
            nxt = lines[i + 1].group(0)
            value, start = nxt.lstrip(), lines[i + 1].start() + len(nxt) - len(nxt.lstrip())
            if _LABEL_ALONE.fullmatch(value) or _LABELLED.match(value):
                continue
        else:
            continue
        value = value.rstrip(" \t,;.")
        if value and _field_value(entity, value):
            out.append(Span(start, start + len(value), entity, 0.85, "labelled-field"))
    return out


_MRZ = re.compile(r"[A-Z0-9<]{28,46}")
_MRZ_STARTS = frozenset({"P<", "I<", "ID", "IP", "AC", "V<", "VI", "C<", "A<"})


def mrz_lines(text: str, prior: Sequence[Span] = ()) -> list[Span]:
    """Each line of a machine-readable zone (TD1, TD2, TD3): the whole line is personal. A
    line is one when, spaces left out, it is 28 to 46 capitals, digits and fillers ("<")
    with two fillers or more, or opens like a document's first line and holds digits."""
    out = []
    for line in _LINE.finditer(text):
        compact = re.sub(r"\s", "", line.group(0)).upper()
        if _MRZ.fullmatch(compact) and (compact.count("<") >= 2 or (
                compact[:2] in _MRZ_STARTS and sum(c.isdigit() for c in compact) >= 5)):
            value = line.group(0).strip()
            start = line.start() + line.group(0).index(value)
            out.append(Span(start, start + len(value), "MRZ", 1.0, "mrz"))
    return out


LABELLED_FIELD = FunctionRecognizer(
    "labelled-field", ("PERSON", "ID_NUMBER", "DATE_OF_BIRTH", "PHONE_NUMBER", "ADDRESS",
                       "DATE_TIME", "IBAN_CODE", "CREDIT_CARD"), labelled_fields)
MRZ = FunctionRecognizer("mrz", ("MRZ",), mrz_lines)
