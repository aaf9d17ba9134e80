"""Protecting one request: texts pseudonymised in the caller's session, images redacted.

Runs in a worker thread (CPU-bound). What it learns for restoring the answer is kept per
request: pseudonym -> (original, entity) for the values of this request only, so an answer
can only be restored with values the caller sent.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from veil.errors import InputError
from veil.images import Picture, decode_image, encode_image, to_display
from veil.pipeline import Redactor
from veil.policy import Policy, Role
from veil.pseudo.engine import ENTITIES, LITERAL, Pseudonymizer
from veil.pseudo.restore import TOKEN, token_key
from veil.server.schemas import ApiError

_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
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
    """Protects the texts and images of one request in one session."""

    def __init__(self, pseudonymizer: Pseudonymizer, redactor: Redactor, session: str) -> None:
        self._pseudo, self._redactor, self._session = pseudonymizer, redactor, session
        self._session_tokens: dict[tuple[str, int], tuple[str, str]] | None = None
        self.originals: dict[str, tuple[str, str]] = {}
        """pseudonym -> (original, entity), first seen in this request."""
        self.findings = Findings()

    def text(self, text: str) -> str:
        """``text`` with every protected value replaced by the session's pseudonym.

        Pseudonyms of this session already in the text (a pseudonymised answer sent back as
        history) are kept as they are, so the model sees one name for one value; other
        token-like text is protected by the Pseudonymizer as the user's own literal.
        """
        matches = [m for m in TOKEN.finditer(text) if m["name"].upper() in ENTITIES]
        if not matches:
            return self._pseudonymize(text)
        known = self._known_tokens()
        out: list[str] = []
        last = 0
        for m in matches:
            key = token_key(m.group(0))
            if key is None or key not in known:
                continue
            pseudonym, original = known[key]
            out.append(self._pseudonymize(text[last : m.start()]))
            out.append(m.group(0))
            self.originals.setdefault(pseudonym, (original, key[0]))
            last = m.end()
        out.append(self._pseudonymize(text[last:]))
        return "".join(out)

    def image(self, data: bytes, number: int) -> str:
        """The image redacted, upright and without metadata, as a data URL."""
        policy = self._redactor.policy
        try:
            picture = decode_image(data, policy.limits)
        except InputError as exc:
            raise ApiError(400, f"image {number}: {exc}", "invalid_image") from None
        # DetectorError here blocks the request; text hidden in the image by the replace
        # operator gets the session's pseudonyms, as the prompt does.
        out, report = self._redactor.redact(picture, self._session)
        upright = Picture(to_display(out.pixels, out.orientation), out.mode,
                          _forward_format(out), 1, out.icc_profile, ())
        encoded = encode_image(upright, policy.jpeg_quality)
        self.findings.images += 1
        self.findings.found.update(report.counts())
        self.findings.operators.update(a.operator for a in report.actions)
        self.findings.metadata_removed.update(report.metadata_removed)
        return f"data:{_MIME[upright.format]};base64,{base64.b64encode(encoded).decode()}"

    def add_image_pseudonyms(self) -> None:
        """After images were processed with the ``replace`` operator: the session's token
        pseudonyms, which now include those written into the images, become restorable."""
        for pseudonym, original in self._pseudo.vault.originals(self._session).items():
            key = token_key(pseudonym)
            if key is not None and key[0] != LITERAL:
                self.originals.setdefault(pseudonym, (original, key[0]))

    def _pseudonymize(self, text: str) -> str:
        if not text:
            return text
        result = self._pseudo.pseudonymize(text, self._session)
        for r in result.replacements:
            self.originals.setdefault(r.pseudonym, (text[r.start : r.end], r.entity))
            self.findings.found[r.entity if r.entity == LITERAL else f"text.{r.entity}"] += 1
            self.findings.operators["pseudonym"] += 1
        return result.text

    def _known_tokens(self) -> dict[tuple[str, int], tuple[str, str]]:
        """The session's token pseudonyms: (ENTITY, n) -> (pseudonym, original)."""
        if self._session_tokens is None:
            self._session_tokens = {}
            for pseudonym, original in self._pseudo.vault.originals(self._session).items():
                key = token_key(pseudonym)
                if key is not None and key[0] != LITERAL:
                    self._session_tokens[key] = (pseudonym, original)
        return self._session_tokens


def _forward_format(picture: Picture) -> str:
    """A format every vision model reads: JPEG, PNG, WebP and GIF stay, others become PNG."""
    if picture.format in _MIME:
        return picture.format
    return "JPEG" if picture.mode == "CMYK" else "PNG"


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
