"""The text detector a policy asks for: built-in recognizers less those switched off, the
policy's own recognizers and deny lists, and its allow list."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from typing import Protocol

from veil.regions import Span
from veil.text.detector import TextDetector
from veil.text.recognizer import FunctionRecognizer, Recognizer
from veil.text.registry import Registry, default_registry
from veil.text.spec import RecognizerSpec

BASE_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "pl")


class DenyEntry(Protocol):
    @property
    def entity(self) -> str: ...

    @property
    def values(self) -> tuple[str, ...]: ...


class TextConfig(Protocol):
    """What ``veil.policy.TextPolicy`` holds (kept a protocol: the policy imports this
    package, not the other way round)."""

    @property
    def recognizers(self) -> tuple[RecognizerSpec, ...]: ...

    @property
    def deny(self) -> Sequence[DenyEntry]: ...

    @property
    def allow(self) -> tuple[str, ...]: ...

    @property
    def languages(self) -> dict[str, bool]: ...

    @property
    def disable(self) -> tuple[str, ...]: ...

    def model_dump_json(self) -> str: ...


def known_languages() -> tuple[str, ...]:
    """Languages a policy may switch: Veil's eight and those of any recognizer."""
    extra = sorted({lang for r in default_registry() for lang in r.languages}
                   - set(BASE_LANGUAGES))
    return (*BASE_LANGUAGES, *extra)


def deny_recognizer(entries: Sequence[DenyEntry]) -> Recognizer:
    """Values a policy always hides, with their entity: found whole-word, in any case,
    with any run of spaces between their words."""
    compiled = [(e.entity, re.compile(
        r"(?<!\w)" + r"\s+".join(map(re.escape, v.split())) + r"(?!\w)", re.IGNORECASE))
        for e in entries for v in e.values]

    def find(text: str, prior: Sequence[Span]) -> list[Span]:
        return [Span(m.start(), m.end(), entity, 1.0, "deny-list")
                for entity, regex in compiled for m in regex.finditer(text)]

    return FunctionRecognizer("deny-list", tuple(sorted({e.entity for e in entries})), find)


def registry_for(config: TextConfig) -> Registry:
    off = {lang for lang, on in config.languages.items() if not on}
    disabled = set(config.disable)
    keep: list[Recognizer] = [r for r in default_registry() if r.name not in disabled
                              and not (r.languages and set(r.languages) <= off)]
    extra: Iterable[Recognizer] = [spec.build() for spec in config.recognizers
                                   if not (spec.languages and set(spec.languages) <= off)]
    if config.deny:
        extra = [*extra, deny_recognizer(config.deny)]
    return Registry([*keep, *extra])


_lock = threading.Lock()
_detectors: dict[str, TextDetector] = {}


def detector_for(config: TextConfig | None) -> TextDetector:
    """The text detector for ``config`` (None: the built-in one), one per process for
    each distinct configuration, so models and lists load once."""
    key = config.model_dump_json() if config is not None else ""
    with _lock:
        if key not in _detectors:
            _detectors[key] = (TextDetector() if config is None else TextDetector(
                registry=registry_for(config), allow=config.allow))
        return _detectors[key]
