"""People's names: after cues (greetings, titles, labels, speech verbs), from name lists,
above a postal address, and the speakers of a chat."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence

from veil.regions import Span
from veil.text import lexicon
from veil.text import patterns as tp
from veil.text.recognizer import (
    FunctionRecognizer,
    Passage,
    PassageRecognizer,
    Pattern,
    PatternRecognizer,
)
from veil.text.recognizers import rare_names

EN_DE_FR_ES = ("en", "de", "fr", "es")
CUED_NAME = PatternRecognizer("cued-name", "PERSON", (Pattern(tp.CUED_NAME, 0.65, 1),),
                              EN_DE_FR_ES)
SAID_NAME = PatternRecognizer("said-name", "PERSON", (Pattern(tp.SAID_NAME, 0.6, 1),), ("en",))
NAME_BEFORE_VERB = PatternRecognizer("name-before-verb", "PERSON",
                                     (Pattern(tp.NAME_BEFORE_VERB, 0.6, 1),), ("en",))
TITLED_NAME = PatternRecognizer("titled-name", "PERSON", (Pattern(tp.TITLED_NAME, 0.7, 1),),
                                EN_DE_FR_ES)
LABELLED_NAME = PatternRecognizer("labelled-name", "PERSON",
                                  (Pattern(tp.LABELLED_NAME, 0.75, 1),), EN_DE_FR_ES)


def chat_speakers(passage: Passage, prior: Sequence[Span] = ()) -> list[Span]:
    """The name opening a chat line ("anna: ..."): a known first name, or, where two lines
    or more open with a speaker, a speaker whose words are names or rare (not labels such
    as "Support", "Subject" or "Geburtsort": ``rare_names.kind``)."""
    text = passage.text
    first = tp.name_lists()[0]
    found = [m.span(1) for m in tp.CHAT_SPEAKER.finditer(text)]
    chat = len(found) >= 2
    language = passage.language(lexicon.SURE) if chat else None
    spans = []
    for start, end in found:
        value = text[start:end].rstrip(".,;:")
        if not value:
            continue
        score = 0.3
        if value.split()[0].casefold() in first:
            score = 0.8
        elif chat and all(rare_names.kind(w, language) != "word" for w in value.split()):
            score = 0.5
        spans.append(Span(start, start + len(value), "PERSON", score, "chat-speaker"))
    return spans


def listed_names(text: str, prior: Sequence[Span] = ()) -> list[Span]:
    """Runs of capitalised or upper-case words ("JOHN SMITH", "Smith, John") that hold a
    known first name and one more word, trimmed of greetings and labels at either end."""
    first, last = tp.name_lists()
    names = tp.all_names()
    trim = tp.trim_words()
    spans = [Span(m.start(), m.start() + len(w), "PERSON", 0.5, "name-list")
             for m in tp.LONE_WORD.finditer(text)
             if (w := tp.POSSESSIVE.sub("", m.group(0)).casefold()) in first
             and w not in trim]  # "Sandra's" -> "Sandra"
    for run_start, run_text in _runs(text):
        words = [(m.start(), m.end(), m.group(0).casefold())
                 for m in re.finditer(r"[^\s,]+", run_text)]
        while words and words[0][2] not in names:
            words.pop(0)
        while words and words[-1][2] in trim and words[-1][2] not in names:
            words.pop()
        folded = [w[2] for w in words]
        if len(words) < 2 or not any(f in first for f in folded):
            continue
        score = 0.85 if any(f in last for f in folded) else 0.6
        end = run_start + words[-1][1]
        if possessive := tp.POSSESSIVE.search(text, end - 2, end):  # "Anna Roe's"
            end = possessive.start()
        spans.append(Span(run_start + words[0][0], end, "PERSON", score, "name-list"))
    return spans


def _runs(text: str) -> list[tuple[int, str]]:
    """Runs of capitalised words (start, text); a run whose comma parts are two words or
    more each is a list of names ("Ingeborg Roe, Piotr Nowak"), each part a run, while one
    word before a comma is a surname first ("Roe, Jane")."""
    out = []
    for run in tp.NAME_RUN.finditer(text):
        parts = [(run.start() + m.start(), m.group(0)) for m in re.finditer(r"[^,]+",
                                                                           run.group(0))]
        parts = [(start + len(part) - len(part.lstrip()), part.strip()) for start, part in parts]
        if len(parts) > 1 and all(len(part.split()) >= 2 for _, part in parts):
            out += parts
        else:
            out.append((run.start(), run.group(0)))
    return out


def names_above(text: str, prior: Sequence[Span] = ()) -> list[Span]:
    """A line of two to four capitalised words just above a postal address found before
    (in ``prior``): the name of a mailing label or letter head ("Anna Kowalska\\n12 Main
    Street")."""
    trim = tp.trim_words()
    spans = []
    for address in (s for s in prior if s.entity == "ADDRESS"):
        line = text.rfind("\n", 0, address.start) + 1
        if not tp.LINE_OPENING.fullmatch(text, line, address.start):
            continue  # the address does not open its line
        m = tp.NAME_LINE.search(text, max(0, line - 120), line)
        if m and not any(w.casefold() in trim for w in m.group(1).split()):
            spans.append(Span(*m.span(1), "PERSON", 0.6, "name-above-address"))
    return spans


CHAT_SPEAKER = PassageRecognizer("chat-speaker", ("PERSON",), chat_speakers)
NAME_LIST = FunctionRecognizer("name-list", ("PERSON",), listed_names)
NAME_ABOVE_ADDRESS = FunctionRecognizer("name-above-address", ("PERSON",), names_above)


# --- names in other scripts ----------------------------------------------------------------

_SPACED_LOCALES = ("ru_RU", "uk_UA", "bg_BG", "el_GR", "ar_AA", "ar_SA", "fa_IR", "he_IL")
_CJK_LOCALES = (("zh_CN", "zh_TW"), ("ja_JP",), ("ko_KR",))
_SCRIPT_WORD = (r"[\u0400-\u04FF\u0370-\u03FF\u1F00-\u1FFF\u0590-\u05FF\u0600-\u06FF]"
                r"[\u0400-\u04FF\u0370-\u03FF\u1F00-\u1FFF\u0590-\u05FF\u0600-\u06FF\u064B-\u065F'-]*")
_SCRIPT_TOKEN = re.compile(rf"(?<![^\W\d_]){_SCRIPT_WORD}")


def _faker_names(locales: Sequence[str]) -> tuple[frozenset[str], frozenset[str]]:
    import importlib

    first: set[str] = set()
    last: set[str] = set()
    for locale in locales:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attr, bucket in (("first_names", first), ("last_names", last)):
            bucket.update(str(n) for n in getattr(provider, attr, ()))
    return frozenset(first), frozenset(last)


@functools.cache
def _spaced_lists() -> tuple[frozenset[str], frozenset[str]]:
    """First and last names of Cyrillic, Greek, Arabic and Hebrew script (Faker's lists),
    case-folded, words of several-word names apart."""
    first, last = _faker_names(_SPACED_LOCALES)
    return (frozenset(w.casefold() for n in first for w in n.split()),
            frozenset(w.casefold() for n in last for w in n.split()))


@functools.cache
def _cjk_regexes() -> tuple[re.Pattern[str], ...]:
    """A family name followed by a given name, written without a space, per CJK language."""
    out = []
    for locales in _CJK_LOCALES:
        first, last = _faker_names(locales)
        out.append(re.compile(rf"(?:{_alternatives(last)})(?:{_alternatives(first)})"))
    return tuple(out)


def _alternatives(names: frozenset[str]) -> str:
    return "|".join(map(re.escape, sorted(names, key=len, reverse=True)))


def script_names(text: str, prior: Sequence[Span] = ()) -> list[Span]:
    """Names in Cyrillic, Greek, Arabic and Hebrew script (two or three capitalised words,
    all known names, one of them a first name; or a known first name and another word), and
    Chinese, Japanese and Korean names (a family name and a given name from the lists)."""
    spans = []
    if any("\u0370" <= c <= "\u06ff" or "\u1f00" <= c <= "\u1fff" for c in text):
        first, last = _spaced_lists()
        tokens = [m for m in _SCRIPT_TOKEN.finditer(text)
                  if m.group(0)[0].isupper() or not m.group(0)[0].islower()]  # capitalised
        taken: set[int] = set()
        for n, strict in ((3, True), (2, True), (2, False)):
            for i in range(len(tokens) - n + 1):
                run = tokens[i : i + n]
                if taken & set(range(i, i + n)) or any(
                        text[a.end():b.start()].strip(" \t") or a.end() == b.start()
                        for a, b in itertools.pairwise(run)):
                    continue
                folded = [m.group(0).casefold() for m in run]
                known = [f in first or f in last for f in folded]
                if not any(f in first for f in folded) or (strict and not all(known)) or (
                        not strict and (folded[0] not in first or min(map(len, folded)) < 3)):
                    continue
                spans.append(Span(run[0].start(), run[-1].end(), "PERSON",
                                  0.85 if strict else 0.6, "name-list-scripts"))
                taken |= set(range(i, i + n))
    if any("\u3040" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af" for c in text):
        for regex in _cjk_regexes():
            spans += [Span(m.start(), m.end(), "PERSON", 0.6, "name-list-scripts")
                      for m in regex.finditer(text)]
    return spans


NAME_LIST_SCRIPTS = FunctionRecognizer("name-list-scripts", ("PERSON",), script_names)
