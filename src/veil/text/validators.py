"""Named validators: checks a pattern's match must pass to be reported.

A recognizer (built in or written in a policy) names its validator: one of ``NAMED`` or
``stdnum.<module>`` for any identifier python-stdnum knows (``stdnum.de.idnr``,
``stdnum.es.nie``), whose ``is_valid`` runs on the value as written.
"""

from __future__ import annotations

import functools
import importlib
import ipaddress
import pkgutil
import re
import urllib.parse
from collections.abc import Callable

import phonenumbers
from stdnum import iban, luhn
from stdnum.fi import hetu
from stdnum.us import ssn

from veil.text import patterns as tp

Validator = Callable[[str], bool]
PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "PT", "PL")


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def card(value: str) -> bool:
    """An issuer's prefix and length, and the Luhn check."""
    digits = _digits(value)
    brand = any(prefix.match(digits) and len(digits) in lengths
                for prefix, lengths in tp.CARD_BRANDS)
    return brand and luhn.is_valid(digits)


def luhn_ok(value: str) -> bool:
    digits = _digits(value)
    return len(digits) >= 2 and luhn.is_valid(digits)


def iban_ok(value: str) -> bool:
    """The IBAN's own mod-97 check; national check digits inside it are not required."""
    return bool(iban.is_valid(re.sub(r"[\s-]", "", value).upper(), check_country=False))


def us_ssn(value: str) -> bool:
    digits = _digits(value)
    return len(digits) == 9 and bool(ssn.is_valid(digits))


def ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def dea(value: str) -> bool:
    """DEA registration number: 2 letters, 7 digits, the last a checksum."""
    d = [int(c) for c in value[2:]]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


def phone(value: str) -> bool:
    """Valid as a phone number of one of PHONE_REGIONS (or in international form)."""
    return any(phonenumbers.is_valid_number(n) for n in tp.phone_parses(value, PHONE_REGIONS))


def us_npi(value: str) -> bool:
    """US National Provider Identifier: Luhn over the digits with the prefix 80840."""
    digits = _digits(value)
    return len(digits) == 10 and luhn.is_valid("80840" + digits)


def au_medicare(value: str) -> bool:
    """Australian Medicare card number: weights 1 3 7 9 1 3 7 9 on the first eight digits,
    mod 10, give the ninth."""
    d = [int(c) for c in _digits(value)]
    if len(d) not in (10, 11) or not 2 <= d[0] <= 6:
        return False
    return sum(w * x for w, x in zip((1, 3, 7, 9, 1, 3, 7, 9), d, strict=False)) % 10 == d[8]


def mac(value: str) -> bool:
    """A device's MAC address: the first octet's lowest bit (IEEE 802's I/G bit) is 0; a
    group address (multicast, broadcast) names no device. Manufacturers are not looked up:
    a registry copy ages, and a new device's address must still be found."""
    return int(re.sub(r"[^0-9A-Fa-f]", "", value)[:2], 16) % 2 == 0


def fi_hetu(value: str) -> bool:
    """Finnish personal identity code, temporary ones (individual number 900-999, given
    to people not yet registered, e.g. in hospitals) included."""
    return bool(hetu.is_valid(value, allow_temporary=True))


def de_rvnr(value: str) -> bool:
    """German pension insurance number (Rentenversicherungsnummer): area (2 digits), birth
    date DDMMYY, the birth name's initial, serial (2 digits), check digit. The letter counts
    as its place in the alphabet (two digits); weights 2 1 2 5 7 1 2 1 2 1 2 1, the digit
    sums of the products added, mod 10, give the check digit."""
    m = re.fullmatch(r"(\d{8})([A-Z])(\d{3})", re.sub(r"\s", "", value).upper())
    if m is None:
        return False
    digits = m.group(1) + f"{ord(m.group(2)) - 64:02d}" + m.group(3)[:2]
    total = sum(sum(divmod(int(c) * w, 10)) for c, w in
                zip(digits, (2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1), strict=True))
    return total % 10 == int(m.group(3)[2])


_NRIC_LETTERS = {"S": "JZIHGFEDCBA", "T": "GFEDCBAJZIH", "F": "XWUTRQPNMLK",
                 "G": "TRQPNMLKXWU", "M": "KLJNPQRTUWX"}


def sg_nric(value: str) -> bool:
    """Singapore NRIC / FIN: a prefix letter, seven digits, a check letter."""
    value = value.upper()
    if not re.fullmatch(r"[STFGM]\d{7}[A-Z]", value):
        return False
    total = sum(w * int(c) for w, c in zip((2, 7, 6, 5, 4, 3, 2), value[1:8], strict=True))
    total += {"T": 4, "G": 4, "M": 3}.get(value[0], 0)
    return _NRIC_LETTERS[value[0]][total % 11] == value[8]


def icao(value: str) -> bool:
    """ICAO 9303 check digit (weights 7 3 1) as the last character: passports, ID cards."""
    value = re.sub(r"[\s<]", "", value.upper())

    def num(c: str) -> int:
        return int(c) if c.isdigit() else ord(c) - 55

    if len(value) < 2 or not value[-1].isdigit() or not value.isalnum():
        return False
    body = value[:-1]
    return sum(num(c) * (7, 3, 1)[i % 3] for i, c in enumerate(body)) % 10 == int(value[-1])


_HOST_CHAR = r"[A-Za-z0-9]|[^\x00-\x7f\s\ufffd]"  # internationalised names: any non-ASCII
_LABEL = re.compile(rf"(?:{_HOST_CHAR})(?:(?:{_HOST_CHAR}|-){{0,61}}(?:{_HOST_CHAR}))?")
_TOP_LABEL = re.compile(r"[A-Za-z]{2,63}|xn--[a-z0-9-]{2,59}|[^\x00-\x7f\s\ufffd]+")


def url_host(value: str) -> bool:
    """Whether a link's host is one (RFC 3986 and 1123): a name of labels of letters,
    digits and inner hyphens under an alphabetic top-level domain (or one label, an
    intranet host), a dotted IPv4 address
    of four parts, or a bracketed IPv6 one; "http://foobar..com", "http://127.0.0",
    "http://-a.b.co" are no links. ``file://`` needs no host."""
    if value.casefold().startswith("file://"):
        return True
    if "//[" in value and "]" not in value:
        value += "]"  # the bracket closing an IPv6 host is left out of the finding
    try:
        parts = urllib.parse.urlsplit(value if "://" in value else f"//{value}")
        host, _ = parts.hostname, parts.port  # .port raises on a malformed port
    except ValueError:
        return False
    if not host:
        return False
    if ":" in host or host.replace(".", "").isdigit():
        return ip(host)
    labels = host.split(".")  # one label: an intranet host ("http://wiki/Jane_Roe")
    return all(_LABEL.fullmatch(label) for label in labels) and (
        len(labels) == 1 or _TOP_LABEL.fullmatch(labels[-1]) is not None)


def email(value: str) -> bool:
    """Whether an e-mail address can be one (RFC 5321): a local part of at most 64
    characters and a domain of valid labels ("a@invalid-.com" is none)."""
    local, _, domain = value.rpartition("@")
    labels = domain.split(".")
    return (0 < len(local) <= 64 and len(labels) >= 2
            and all(_LABEL.fullmatch(label) for label in labels)
            and _TOP_LABEL.fullmatch(labels[-1]) is not None)


NAMED: dict[str, Validator] = {
    "card": card, "luhn": luhn_ok, "iban": iban_ok, "us_ssn": us_ssn, "ip": ip, "dea": dea,
    "phone": phone, "us_npi": us_npi, "au_medicare": au_medicare, "sg_nric": sg_nric,
    "icao": icao, "de_rvnr": de_rvnr, "mac": mac, "fi_hetu": fi_hetu, "url_host": url_host,
    "email": email,
}


@functools.cache
def get(name: str) -> Validator:
    """The validator called ``name``; KeyError if there is none."""
    if name in NAMED:
        return NAMED[name]
    if name.startswith("stdnum.") and name in stdnum_names():
        module = importlib.import_module(name)
        if not hasattr(module, "is_valid"):
            raise KeyError(name)
        check: Callable[[str], bool] = module.is_valid
        return lambda value: bool(check(value))
    raise KeyError(name)


@functools.cache
def stdnum_names() -> frozenset[str]:
    """``stdnum.<module>`` for every python-stdnum module with an ``is_valid``."""
    import stdnum

    names = set()
    for info in pkgutil.walk_packages(stdnum.__path__, "stdnum."):
        if info.ispkg or info.name.rsplit(".", 1)[-1] in ("util", "exceptions", "numdb"):
            continue
        names.add(info.name)
    return frozenset(names)


def known() -> list[str]:
    """Every validator name a recognizer may use."""
    return sorted(NAMED) + sorted(stdnum_names())
