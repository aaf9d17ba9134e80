"""Recognizers written as data: the built-in identifier list and a policy's own.

A ``RecognizerSpec`` is a name, an entity, patterns (regex + score), context words, an
optional validator named from ``veil.text.validators`` and languages. Unless
``bounded`` is false, each regex is matched only where no ASCII letter or digit touches
it on either side, so a value is found in text written without spaces (Chinese,
Japanese) as well as between words.
"""

from __future__ import annotations

import difflib
import functools
import re
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from veil.text import validators
from veil.text.recognizer import Pattern, PatternRecognizer

_BOUND = ("(?<![A-Za-z0-9])(?:", ")(?![A-Za-z0-9])")
_FLAGS = re.compile(r"\A\(\?[aiLmsux]+\)")


def suggest(word: str, known: list[str] | frozenset[str] | tuple[str, ...]) -> str:
    """" (did you mean 'x'?)" for the closest of ``known`` to ``word``, or ""."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class PatternSpec(BaseModel):
    """One regex of a recognizer and the score of its matches (before context)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    regex: str = Field(min_length=1)
    score: float = Field(ge=0.0, le=1.0)
    group: int = Field(default=0, ge=0)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class RecognizerSpec(BaseModel):
    """A pattern recognizer as data (see the module's docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    entity: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")
    patterns: tuple[PatternSpec, ...] = Field(min_length=1)
    context: tuple[str, ...] = ()
    validator: str | None = None
    languages: tuple[str, ...] = ()
    bounded: bool = True

    @field_validator("validator")
    @classmethod
    def _known_validator(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                validators.get(value)
            except KeyError:
                known = validators.known()
                raise ValueError(f"unknown validator {value!r}{suggest(value, known)}; "
                                 f"known: {', '.join(validators.NAMED)} or stdnum.<module>"
                                 ) from None
        return value

    @field_validator("context")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(w.lower() for w in value if w.strip())

    def build(self) -> PatternRecognizer:
        def compiled(p: PatternSpec) -> Pattern:
            flags = _FLAGS.match(p.regex)
            head = flags.group(0) if flags else ""
            body = p.regex[len(head):]
            regex = head + (body.join(_BOUND) if self.bounded else body)
            return Pattern(re.compile(regex), p.score, p.group)

        return PatternRecognizer(self.name, self.entity, tuple(map(compiled, self.patterns)),
                                 self.languages, self.context, self.validator)


@functools.cache
def builtin_specs(resource: str) -> tuple[RecognizerSpec, ...]:
    """The recognizers listed in ``veil/text/data/<resource>``."""
    text = resources.files("veil.text").joinpath("data", resource).read_text(encoding="utf-8")
    return tuple(RecognizerSpec.model_validate(item) for item in yaml.safe_load(text))
