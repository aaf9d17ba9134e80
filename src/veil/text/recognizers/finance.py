"""Payment cards and bank accounts."""

from __future__ import annotations

from veil.text import patterns as tp
from veil.text.recognizer import Pattern, PatternRecognizer

CARD = PatternRecognizer(
    "credit-card", "CREDIT_CARD",
    # 12 digits (Maestro's shortest) are also the length of UPC codes: a card only by context.
    (Pattern(tp.CARD, 0.95), Pattern(tp.CARD_SHORT, 0.3)),
    context=tp.CARD_CONTEXT, validator="card")
CARD_GROUPED = PatternRecognizer(
    "card-any-issuer", "CREDIT_CARD", (Pattern(tp.CARD_GROUPED, 0.8), Pattern(tp.CARD, 0.3)),
    context=tp.CARD_CONTEXT, validator="luhn", cut=False)
"""Card numbers of any issuer, Luhn the only check: written in a card's groups, or after a
card word."""
IBAN = PatternRecognizer("iban", "IBAN_CODE", (Pattern(tp.IBAN, 1.0),), validator="iban")
MASKED_CARD = PatternRecognizer("masked-card", "CREDIT_CARD", (Pattern(tp.MASKED_CARD, 0.9),),
                                strip="")
"""Card numbers with all but their last digits masked: "**** **** **** 1234",
"XXXX-XXXX-XXXX-1234", "************1234"."""
