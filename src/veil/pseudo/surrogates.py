"""Realistic surrogates: fake values of the same shape as the originals.

Each call draws fresh randomness, so two sessions never share a surrogate by design;
the vault keeps the one drawn first, so a session stays consistent.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Callable

from faker import Faker
from stdnum import iban, luhn

_rng = random.SystemRandom()


def surrogate(entity: str, original: str) -> str:
    """A fake value for ``entity`` shaped like ``original`` (case, separators, length)."""
    make = _MAKERS.get(entity, _same_shape)
    for _ in range(20):
        value = make(original)
        if value.casefold() != original.casefold():
            return value
    return _same_shape(original)


def _faker() -> Faker:
    fake = Faker(["en_US", "de_DE", "fr_FR", "es_ES"])
    fake.seed_instance(secrets.randbits(64))
    return fake


def _person(original: str) -> str:
    fake = _faker()
    words = re.findall(r"[^\s,]+", original)
    if "," in original:
        value = f"{fake.last_name()}, {fake.first_name()}"
    elif len(words) == 1:
        value = fake.first_name()
    else:
        value = f"{fake.first_name()} {fake.last_name()}"
    return value.upper() if original.isupper() else value


def _email(original: str) -> str:
    fake = _faker()
    user = re.sub(r"[^a-z0-9.]", "", f"{fake.first_name()}.{fake.last_name()}".lower())
    return f"{user}{_rng.randint(1, 99)}@example.{_rng.choice(['com', 'org', 'net'])}"


def _digits(original: str, keep: int = 0) -> str:
    """Replace every digit after the first ``keep`` by a random one."""
    out, seen = [], 0
    for ch in original:
        if ch.isdigit():
            out.append(ch if seen < keep else str(_rng.randint(0, 9)))
            seen += 1
        else:
            out.append(ch)
    return "".join(out)


def _phone(original: str) -> str:
    keep = 3 if original.lstrip().startswith(("+", "00")) else 1
    return _digits(original, keep)


def _card(original: str) -> str:
    value = list(_digits(original, keep=1))
    places = [i for i, ch in enumerate(value) if ch.isdigit()]
    value[places[-1]] = luhn.calc_check_digit("".join(value[i] for i in places[:-1]))
    return "".join(value)


def _iban(original: str) -> str:
    compact = original.replace(" ", "").upper()
    body = compact[:2] + "00" + re.sub(r"\d", lambda _: str(_rng.randint(0, 9)), compact[4:])
    fixed = body[:2] + iban.calc_check_digits(body) + body[4:]
    if " " not in original:
        return fixed
    return " ".join(fixed[i : i + 4] for i in range(0, len(fixed), 4))


def _ssn(original: str) -> str:
    area = _rng.choice([n for n in range(1, 900) if n != 666])
    sep = "-" if "-" in original else (" " if " " in original else "")
    return f"{area:03d}{sep}{_rng.randint(1, 99):02d}{sep}{_rng.randint(1, 9999):04d}"


def _date(original: str) -> str:
    def number(m: re.Match[str]) -> str:
        text = m.group(0)
        if len(text) == 4:
            return str(int(text) + _rng.choice([-1, 1]) * _rng.randint(1, 15))
        value = int(text)
        new = _rng.randint(1, 12) if value <= 12 else _rng.randint(13, 28)
        return f"{new:0{len(text)}d}"

    return re.sub(r"\d+", number, original)


def _ip(original: str) -> str:
    if ":" in original:
        return f"2001:db8::{_rng.randint(1, 0xFFFF):x}:{_rng.randint(1, 0xFFFF):x}"
    return f"198.51.100.{_rng.randint(1, 254)}"


def _sex(original: str) -> str:
    """The other sex marker, in the same case and brackets ("[M]" -> "[F]")."""
    swaps = {"male": "female", "female": "male", "m": "f", "f": "m"}
    core = original.strip("[]() ")
    other = swaps.get(core.lower(), core)
    other = other.upper() if core.isupper() else other.capitalize() if core[:1].isupper() else other
    return original.replace(core, other)


def _same_shape(original: str) -> str:
    def swap(ch: str) -> str:
        if ch.isdigit():
            return str(_rng.randint(0, 9))
        if ch.isalpha() and ch.isascii():
            letter = _rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
            return letter if ch.isupper() else letter.lower()
        return ch

    return "".join(swap(c) for c in original)


_MAKERS: dict[str, Callable[[str], str]] = {
    "PERSON": _person,
    "EMAIL_ADDRESS": _email,
    "PHONE_NUMBER": _phone,
    "CREDIT_CARD": _card,
    "IBAN_CODE": _iban,
    "US_SSN": _ssn,
    "DATE_TIME": _date,
    "DATE_OF_BIRTH": _date,
    "IP_ADDRESS": _ip,
    "URL": lambda _: f"https://example.com/{secrets.token_hex(4)}",
    "LOCATION": lambda _: _faker().city(),
    "ADDRESS": lambda _: _faker().street_address(),
    "GENDER": _sex,
}
