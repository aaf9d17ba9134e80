"""E-mail addresses, URLs, IP addresses and phone numbers."""

from __future__ import annotations

from collections.abc import Sequence

import phonenumbers

from veil.regions import Span
from veil.text import patterns as tp
from veil.text.recognizer import (
    CONTEXT_BOOST,
    FunctionRecognizer,
    Pattern,
    PatternRecognizer,
    context_boost,
)
from veil.text.validators import PHONE_REGIONS

EMAIL = PatternRecognizer("email", "EMAIL_ADDRESS", (Pattern(tp.EMAIL, 1.0),), validator="email",
                          cut=False)
# As sure as an e-mail address, and longer: a URL with a user in it
# ("http://jo:secret@example.com") is hidden whole, not only its "jo:secret@..." tail.
URL = PatternRecognizer("url", "URL", (Pattern(tp.URL, 1.0),), validator="url_host")
DOMAIN = PatternRecognizer("domain", "URL", (Pattern(tp.BARE_DOMAIN, 0.7),))
IPV4 = PatternRecognizer("ipv4", "IP_ADDRESS", (Pattern(tp.IPV4, 0.9),), validator="ip")
IPV6 = PatternRecognizer("ipv6", "IP_ADDRESS", (Pattern(tp.IPV6, 0.9), Pattern(tp.IPV6_V4, 0.9)),
                         validator="ip", strip=".,;")


def obfuscated_emails(text: str, prior: Sequence[Span] = ()) -> list[Span]:
    """E-mail addresses written to dodge harvesters: "jo.roe [at] example [dot] com",
    "jo (at) example.org", "jo at example dot com"."""
    return [Span(m.start(), m.end(), "EMAIL_ADDRESS", 0.9, "email-obfuscated")
            for m in tp.EMAIL_OBFUSCATED.finditer(text) if tp.OBFUSCATION.search(m.group(0))]


EMAIL_OBFUSCATED = FunctionRecognizer("email-obfuscated", ("EMAIL_ADDRESS",), obfuscated_emails)


def phone_spans(text: str, prior: Sequence[Span] = ()) -> list[Span]:
    """Numbers that dial in one of PHONE_REGIONS. Valid numbers score high, possible ones
    written like a phone lower, bare digit runs only with context words before them or a
    label after them ("office", "fax"). Candidates glued to letters, "#" or other digits
    (order, invoice, tracking numbers, IBAN tails) and those overlapping a date found
    before (in ``prior``) are not phones."""
    if not tp.PHONE_HINT.search(text):
        return []
    dates = [s for s in prior if s.entity in ("DATE_TIME", "DATE_OF_BIRTH")]
    spans = []
    for m in tp.PHONE_CANDIDATE.finditer(text):
        start, end, raw = m.start(), m.end(), m.group(0)
        if (tp.PHONE_BAD_BEFORE.search(text, max(0, start - 3), start)
                or tp.PHONE_BAD_AFTER.match(text, end) or _not_a_phone(raw)
                or any(start < d.end and d.start < end for d in dates)):
            continue
        boost = context_boost(text, start, tp.PHONE_CONTEXT)
        if not boost and tp.PHONE_LABEL_AFTER.match(text, end):
            boost = CONTEXT_BOOST
        base = _phone_score(raw, cued=boost > 0)
        if base is None:
            continue
        spans.append(Span(start, end, "PHONE_NUMBER", min(1.0, base + boost), "phone"))
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


PHONE = FunctionRecognizer("phone", ("PHONE_NUMBER",), phone_spans)
