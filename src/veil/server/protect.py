"""Protecting one request: texts pseudonymised in the caller's session.

Runs in a worker thread (CPU-bound); images are redacted in the worker processes of
``veil.server.images``. What it learns for restoring the answer is kept per request:
pseudonym -> (original, entity) for the values of this request only, so an answer can only
be restored with values the caller sent.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from veil.pipeline import Redactor
from veil.policy import Policy, Role
from veil.pseudo.engine import ENTITIES, LITERAL, Pseudonymizer, protected
from veil.pseudo.restore import TOKEN, token_key
from veil.report import Report
from veil.server.document import (
    SPACED,
    TIGHT,
    DocSpan,
    TextDocument,
    clip_explained,
    clip_glued,
    from_view,
    merge,
    propagate,
    subtract,
)
from veil.server.names import continues_name
from veil.server.schemas import ApiError, FixedSlot

_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^,;]*)*),",
                       re.ASCII)


def role_policy(policy: Policy, role: Role, kinds: Iterable[str]) -> Policy:
    """``policy`` with the kinds the role does not protect switched off (never on). Only
    single kinds are switched off, never a family, so that the family's other members stay
    as the policy has them; a kind Veil does not know of stays protected."""
    kinds = list(kinds)
    leaves = [k for k in kinds if not any(o.startswith(f"{k}.") for o in kinds)]
    off = {k: policy.rule(k).model_copy(update={"enabled": False})
           for k in leaves if not role.protects(k)}
    return policy.model_copy(update={"kinds": {**policy.kinds, **off}}) if off else policy


def known_kinds(redactor: Redactor) -> list[str]:
    """Every kind the gateway can find: text entities and the redactor's detector kinds."""
    kinds = [f"text.{e}" for e in sorted(ENTITIES) if e != LITERAL]
    for detector in redactor.detectors:
        kinds.extend(k for k in detector.kinds if k not in kinds)
    return kinds


@dataclass(slots=True)
class Findings:
    """What was found and done in one request: kinds and counts, never values."""

    found: Counter[str] = field(default_factory=Counter)
    operators: Counter[str] = field(default_factory=Counter)
    metadata_removed: set[str] = field(default_factory=set)
    images: int = 0


class Protector:
    """Protects the texts of one request in one session and counts what its images had
    (images are redacted by ``veil.server.images``)."""

    def __init__(self, pseudonymizer: Pseudonymizer, session: str) -> None:
        self._pseudo, self._session = pseudonymizer, session
        self._session_tokens: dict[tuple[str, int], tuple[str, str]] | None = None
        self.originals: dict[str, tuple[str, str]] = {}
        """pseudonym -> (original, entity), first seen in this request."""
        self.findings = Findings()
        self.found_values: list[tuple[str, str]] = []
        """(entity, value) found in the texts, to check fields that cannot be rewritten."""

    def texts(self, texts: Sequence[str]) -> list[str]:
        """``texts`` (the strings of one request, in the order the model reads them) with
        every protected value replaced by the session's pseudonym.

        The texts are scanned as one document (``TextDocument``), so a value split across
        two parts or messages is found and replaced in each part it touches. Pseudonyms of
        this session already in the texts (a pseudonymised answer sent back as history) are
        kept as they are, so the model sees one name for one value; other token-like text
        is protected as the user's own literal.
        """
        doc = TextDocument(texts)
        if not doc.tight.strip():
            return list(texts)
        tokens = self._tokens(doc)
        tight = from_view(doc, TIGHT, self._pseudo.scan(doc.tight, self._session))
        spaced: list[DocSpan] = []
        if doc.spaced != doc.tight:
            seen = self._pseudo.scan(doc.spaced, self._session)
            spaced = [c for s in from_view(doc, SPACED, seen)
                      if (c := clip_glued(doc, s, continues_name))]
        found = merge(doc, clip_explained(doc, tight, spaced) + spaced)
        found = merge(doc, found + propagate(doc, found))
        spans = sorted(tokens + subtract(doc, found, tokens), key=lambda s: s.start)
        self.found_values.extend((s.entity, s.value) for s in spans
                                 if s.entity != LITERAL and not s.keep)
        return doc.rewrite(spans, [self._pseudonym(s) for s in spans])

    def flagged(self, fixed: Sequence[FixedSlot]) -> list[tuple[FixedSlot, str]]:
        """The fields among ``fixed`` (names, ids: never rewritten) that hold a personal
        value, with its entity: found by the detector in the field alone (dates aside: a
        model's snapshot date is no one's), or a value (or part of a name) found in the
        request's texts, between non-alphanumerics ("send_to_kowalczyk")."""
        if not fixed:
            return []
        values = [slot.value for slot in fixed]
        detector, policy = self._pseudo.detector, self._pseudo.policy
        found = [protected(spans, policy) for spans in detector.scan_many(values)]
        known = _known_values(self.found_values)
        out = []
        for slot, spans in zip(fixed, found, strict=True):
            entities = [s.entity for s in spans if s.entity != "DATE_TIME"]
            if not entities and known is not None:
                m = known[0].search(slot.value)
                if m is not None:
                    entities = [known[1].get(m.group(0).casefold(), "PERSON")]
            if entities:
                out.append((slot, entities[0]))
        return out

    def _tokens(self, doc: TextDocument) -> list[DocSpan]:
        """Token-like text: the session's own pseudonyms (kept), or the user's literals."""
        spans = []
        for m in TOKEN.finditer(doc.tight):
            if m["name"].upper() not in ENTITIES:
                continue
            key = token_key(m.group(0))
            known = self._known_tokens().get(key) if key is not None else None
            if known is not None and key is not None:
                pseudonym, original = known
                self.originals.setdefault(pseudonym, (original, key[0]))
            spans.append(DocSpan(m.start(), m.end(), LITERAL, 2.0, m.group(0),
                                 keep=known is not None))
        return spans

    def _pseudonym(self, span: DocSpan) -> str | None:
        """The pseudonym written for ``span``; None keeps it as written."""
        if span.keep:
            return None
        pseudonym = self._pseudo.pseudonym_for(span.entity, span.value, self._session)
        self.originals.setdefault(pseudonym, (span.value, span.entity))
        self.findings.found[span.entity if span.entity == LITERAL
                            else f"text.{span.entity}"] += 1
        self.findings.operators["pseudonym"] += 1
        return pseudonym

    def count_image(self, report: Report) -> None:
        """Add what was found and done in one redacted image to the findings."""
        self.findings.images += 1
        self.findings.found.update(report.counts())
        self.findings.operators.update(a.operator for a in report.actions)
        self.findings.metadata_removed.update(report.metadata_removed)

    def add_image_pseudonyms(self) -> None:
        """After images were processed with the ``replace`` operator: the session's token
        pseudonyms, which now include those written into the images, become restorable."""
        for pseudonym, original in self._pseudo.vault.originals(self._session).items():
            key = token_key(pseudonym)
            if key is not None and key[0] != LITERAL:
                self.originals.setdefault(pseudonym, (original, key[0]))

    def _known_tokens(self) -> dict[tuple[str, int], tuple[str, str]]:
        """The session's token pseudonyms: (ENTITY, n) -> (pseudonym, original)."""
        if self._session_tokens is None:
            self._session_tokens = {}
            for pseudonym, original in self._pseudo.vault.originals(self._session).items():
                key = token_key(pseudonym)
                if key is not None and key[0] != LITERAL:
                    self._session_tokens[key] = (pseudonym, original)
        return self._session_tokens


def _known_values(found: Sequence[tuple[str, str]]
                  ) -> tuple[re.Pattern[str], dict[str, str]] | None:
    """A pattern matching any found value or name part (3+ characters) between
    non-alphanumerics, and the entity of each (case-folded)."""
    entities: dict[str, str] = {}
    for entity, value in found:
        if entity == "DATE_TIME":
            continue  # as in the fields themselves: a snapshot date is no one's
        words = re.findall(r"[^\W_]{3,}", value) if entity == "PERSON" else []
        for item in (value.strip(), *words):
            if len(item) >= 3:
                entities.setdefault(item.casefold(), entity)
    if not entities:
        return None
    pattern = re.compile(r"(?<![^\W_])(?:" + "|".join(
        map(re.escape, sorted(entities, key=len, reverse=True))) + r")(?![^\W_])",
        re.IGNORECASE)
    return pattern, entities


def decode_data_url(url: str, number: int) -> bytes:
    """The bytes of a base64 ``data:image/...`` URL."""
    m = _DATA_URL.match(url)
    if m is None or ";base64" not in m["params"].lower():
        raise ApiError(400, f"image {number}: data URL must be base64 ('data:image/...;base64,')",
                       "invalid_image_url")
    mime = (m["mime"] or "").lower()
    if not mime.startswith("image/"):
        raise ApiError(400, f"image {number}: data URL is not an image ({mime[:40] or 'no type'})",
                       "invalid_image")
    try:
        return base64.b64decode(url[m.end() :], validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"image {number}: data URL is not valid base64",
                       "invalid_image_url") from None
