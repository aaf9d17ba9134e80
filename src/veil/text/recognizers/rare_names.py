"""Names that no list holds and no cue announces, told from words by how rare they are.

In running text a person's name is a run of capitalised words that are not words of the
language: "Le rendez-vous avec Heloísa Barros", "Zugewiesen an Laís Moraes". Veil's name
lists cannot hold every name of every country, and only English has a packaged NER
model, so this rule stands in everywhere: two to four capitalised words, each a known
name or rare (``veil.text.lexicon``) in the text's language and in English, are a name;
one capitalised word inside a sentence is a name when it is very rare. Places from the
gazetteer, street types, labels, titles and German compound nouns ("Restbetrag") are
words; camel-case product names ("GitHub") and acronyms are left alone, and so are words
next to a number (a street, "Höfðastígur 86", or a town after its postcode).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from veil.regions import Span
from veil.text import lexicon
from veil.text import patterns as tp
from veil.text.recognizer import Passage, PassageRecognizer
from veil.text.recognizers.ner import NAME as NER_NAME

NAME = "rare-name"
RARE = 3.0
"""Zipf frequency under which a capitalised word of a run may be part of a name: about
one occurrence per million words. Words of everyday text lie above (German "Rechnung"
4.6, French "compte" 5.6), names from other countries below (Polish "Nowak" 3.2 in
German text is the edge)."""
VERY_RARE = 2.0
"""Zipf frequency under which one capitalised word inside a sentence is a name."""
PARTICLES = frozenset({"van", "von", "der", "den", "de", "del", "della", "di", "da", "das",
                       "do", "dos", "du", "la", "le", "ter", "ten", "y", "bin", "ibn", "al",
                       "ní", "nic", "mac", "ó", "ua"})
"""Words that may sit inside a name ("Carlijn van Riet", "Ana de Souza", "Siobhán Ní
Bhraonáin"), in either case."""
ARTICLES = {"en": frozenset({"the", "a", "an"}),
            "de": frozenset({"der", "die", "das", "den", "dem", "des", "ein", "eine", "einen",
                             "einem", "einer"}),
            "fr": frozenset({"le", "la", "les", "l", "un", "une", "du"}),
            "es": frozenset({"el", "la", "los", "las", "un", "una", "unos", "unas"})}
"""Articles by language ("a" is one only in English: "a Tereza" is "to Tereza" in
Spanish): a word after one is not a person's name."""
_TOKEN = re.compile(r"(?<![\w@#/.:+'\u2019-])([^\W\d_]+(?:[-'\u2019][^\W\d_]+)*?)"
                    r"(?:['\u2019]s)?(?![\w@/'\u2019-]|\.\w)")
"""A word (group 1) without a possessive "'s" ("Sandra's"), not part of an e-mail
address, a handle or a domain."""
_LAST_WORD = re.compile(r"(?:^|[^\w'\u2019])(\w+)['\u2019 \t]+$")
_OPENERS = " \t\"'\u00ab\u201c\u201e(*-"
_NUMBER_BEFORE = re.compile(r"\d[\w/-]*[ \t]$")
_NUMBER_AFTER = re.compile(r"[ \t]\d")

Kind = Literal["name", "rare", "word"]
Word = tuple[int, int, str]
"""A word's start, end and text."""


def rare_names(passage: Passage, prior: Sequence[Span] = ()) -> list[Span]:
    """Runs of rare capitalised (or all upper-case) words, and lone very rare capitalised
    ones inside sentences."""
    text, language = passage.text, passage.language(lexicon.SURE)
    # what rules found before, but names (a longer run wins over a lone first name) and
    # NER's findings (checked later)
    taken = [(s.start, s.end) for s in prior if s.entity != "PERSON" and s.source != NER_NAME]
    spans: list[Span] = []
    run: list[Word] = []
    case = ""
    for m in (*_TOKEN.finditer(text), None):
        word = (m.start(1), m.end(1), m.group(1)) if m is not None else None
        if word is not None and run and _joins(text, run[-1], word, case):
            run.append(word)
            continue
        if run:
            spans += _judge(text, run, language, taken, upper=case == "upper")
        case = _case(word[2]) if word is not None else ""
        run = [word] if word is not None and case else []
    return spans


def capitalised(text: str, start: int = 0, end: int | None = None) -> list[Word]:
    """The capitalised and upper-case words of ``text[start:end]``."""
    return [(m.start(1), m.end(1), m.group(1))
            for m in _TOKEN.finditer(text, start, len(text) if end is None else end)
            if _case(m.group(1))]


def kind(word: str, language: str | None) -> Kind:
    """"name" (in Veil's lists), "rare" (may be a name) or "word" (of the language, a
    place, a label, a title, a street type or a German compound noun)."""
    folded = word.casefold()
    if _label_or_place(word):
        return "word"
    if folded in tp.all_names():
        return "name"
    if len(word) < 3 or lexicon.commonness(word, language) >= RARE or lexicon.compound_noun(
            word, language):
        return "word"
    return "rare"


def _joins(text: str, last: Word, word: Word, case: str) -> bool:
    """Whether ``word`` continues the run ending in ``last``: one space apart, in the
    run's case or a name particle; in upper case also after a comma, as forms write a
    name ("KAUFMANN, JOHANNA")."""
    gap = text[last[1] : word[0]]
    if case == "upper" and gap == ", ":
        return _case(word[2]) == case
    return gap == " " and (_case(word[2]) == case or word[2].casefold() in PARTICLES)


def _case(word: str) -> str:
    """"title" for a capitalised word (lower-case after the first letter, except after a
    hyphen or apostrophe, "Jean-Luc", "O'Neil", or in Mc/Mac, "McKenzie"), "upper" for
    an upper-case word of three letters or more, "" otherwise ("GitHub", "de")."""
    if len(word) < 2 or not word[0].isupper():
        return ""
    if word.isupper():
        return "upper" if len(word) >= 3 else ""
    rest = re.sub(r"(?:(?<=[-'\u2019])|(?<=^Mc)|(?<=^Mac))\w", "", word)[1:]
    return "title" if rest.islower() or not rest else ""


def _judge(text: str, run: list[Word], language: str | None, taken: list[tuple[int, int]],
           upper: bool) -> list[Span]:
    """The name in a run of capitalised words, if any. Upper-case runs need two words or
    more, none a word of the language, or a surname and a known first name after a comma
    ("KAUFMANN, JOHANNA"); a sentence's first word counts only when rare (it is capitalised
    anyway); one word alone must be very rare and inside a sentence."""
    while run and run[-1][2].casefold() in PARTICLES:
        run = run[:-1]
    words = [w for w in run if w[2].casefold() not in PARTICLES]
    if not words or len(words) > 4:
        return []
    start, end = run[0][0], run[-1][1]
    if any(a < end and start < b for a, b in taken) or _numbered(text, start, end):
        return []
    kinds = [kind(w[2], language) for w in words]
    opens = _opens_sentence(text, start)
    if upper:  # no capital says "name" here: every word a name or rare, one a first name
        first = tp.name_lists()[0]
        named = len(words) >= 2 and "word" not in kinds and (
            "rare" in kinds or any(w[2].casefold() in first for w in words))
        inverted = (len(words) == 2 and text[words[0][1] : words[1][0]] == ", "
                    and words[1][2].casefold() in first and not _label_or_place(words[0][2]))
        return [Span(start, end, "PERSON", 0.55, NAME)] if named or inverted else []
    if opens and kinds[0] != "rare" and len(words) > 1:
        return _judge(text, run[run.index(words[0]) + 1 :], language, taken, upper)
    if "word" in kinds or "rare" not in kinds:
        return []
    if len(words) > 1:
        return [Span(start, end, "PERSON", 0.55, NAME)]
    if opens or _after_article(text, start, language) or lexicon.commonness(
            words[0][2], language) >= VERY_RARE:
        return []
    return [Span(start, end, "PERSON", 0.45, NAME)]


def _after_article(text: str, start: int, language: str | None) -> bool:
    """Whether an article of the text's language stands right before ("the Daodejing",
    "un cluster Proxmox"): people's names take none. Not judged when the language is not
    known ("an" is English and German)."""
    m = _LAST_WORD.search(text, max(0, start - 8), start)
    return m is not None and m.group(1).casefold() in ARTICLES.get(language or "", ())


def _numbered(text: str, start: int, end: int) -> bool:
    """Whether a number stands right before or after the words: a street ("Höfðastígur
    86", "7584 Main"), a town after its postcode, a product and its model."""
    return bool(_NUMBER_BEFORE.search(text, max(0, start - 12), start)
                or _NUMBER_AFTER.match(text, end))


def _opens_sentence(text: str, start: int) -> bool:
    """Whether the word at ``start`` opens a sentence, a line or a field's value, where it
    is capitalised whatever it is."""
    before = text[max(0, start - 12) : start].rstrip(_OPENERS)
    if not before:
        return start <= 12
    return before[-1] in ".!?:;\n\u2026"


def _label_or_place(word: str) -> bool:
    folded = word.casefold()
    return folded in tp.trim_words() or folded in tp.STREET_TYPES or tp.is_place(word)


RARE_NAME = PassageRecognizer(NAME, ("PERSON",), rare_names)
