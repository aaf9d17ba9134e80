"""Canonical forms: values that differ only in case, spacing or formatting are one value."""

from __future__ import annotations

import re

import phonenumbers

from veil.text.patterns import phone_parses

_REGIONS = (None, "US", "GB", "DE", "FR", "ES")
_COMPACT = {"CREDIT_CARD", "US_SSN", "IBAN_CODE", "US_PASSPORT", "US_DRIVER_LICENSE",
            "MEDICAL_LICENSE"}
_LOWER = {"EMAIL_ADDRESS", "URL", "IP_ADDRESS"}


def canonical(entity: str, value: str) -> str:
    """The form under which ``value`` is looked up: "+1 (555) 010-2030" and
    "555-010-2030" are the same phone, "Smith, John" and "JOHN SMITH" the same person."""
    if entity == "LITERAL":
        return value
    if entity == "PHONE_NUMBER":
        return _phone(value)
    if entity in _COMPACT:
        return re.sub(r"[^0-9A-Za-z]", "", value).upper()
    if entity in _LOWER:
        return value.strip().lower()
    if entity == "PERSON" and value.count(",") == 1:  # "Smith, John" is "John Smith"
        last, first = value.split(",")
        value = f"{first} {last}"
    return " ".join(re.findall(r"\w+", value.casefold()))


def _phone(value: str) -> str:
    for number in phone_parses(value, _REGIONS):
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return re.sub(r"\D", "", value)


def all_canonicals(value: str, entities: tuple[str, ...]) -> set[str]:
    """Every canonical form ``value`` may have been stored under, for erasure."""
    return {canonical(entity, value) for entity in entities}
