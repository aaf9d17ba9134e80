"""How common a word is in a language, from wordfreq's frequency lists (many corpora:
Wikipedia, subtitles, books, web text), for telling an unknown name from a word.

A capitalised word that is rare both in the text's language and in English is more
likely a proper name than a word; a German noun made of common words ("Restbetrag",
"Wartungsfenster") is rare as a whole but not a name.
"""

from __future__ import annotations

import functools

LANGUAGES = ("en", "de", "fr", "es")
"""The languages whose frequency lists are consulted: the text's own and English, or all
of these when the text does not say which it is. Only these: a language's list holds its
own people's names as words (Polish "Kowalski", Dutch "Jansen")."""
SURE = 3
"""Stop words of one language a text needs before its words are judged by that
language's list alone (with English); a form of labels and values says too little."""
COMPOUND_TAIL = 4
"""Shortest last part of a German compound that counts ("Rest|betrag")."""
COMMON_TAIL = 3.0
"""Zipf frequency from which a compound's last part counts as a word of the language."""
HEAD = 3
"""Shortest first part of a compound ("Rest|betrag")."""
COMMON_HEAD = 2.5
"""Zipf frequency from which a compound's first part counts as a word ("anmelde" 2.6)."""


@functools.lru_cache(maxsize=65536)
def commonness(word: str, language: str | None) -> float:
    """Zipf frequency of ``word`` (log10 of occurrences per billion words; 0 for unseen,
    about 7 for "the") in ``language`` or English, whichever is higher; in every language
    of ``LANGUAGES`` when the text's language is not known (a form of labels and values)."""
    from wordfreq import zipf_frequency

    langs = ("en", language) if language in LANGUAGES else LANGUAGES
    return max(zipf_frequency(word, lang) for lang in langs)


def compound_noun(word: str, language: str | None) -> bool:
    """Whether ``word`` reads as a German compound of common parts ("Referenz|nummer",
    "Wartungs|fenster", "Rück|sende|etikett"): capitalised German nouns are rare as a
    whole, while a name such as "Takkelenburg" is not made of words. Asked of German text
    and of text whose language is not known."""
    if language not in ("de", None) or len(word) < 2 * COMPOUND_TAIL:
        return False
    return _compound(word.casefold(), depth=2)


def _compound(folded: str, depth: int) -> bool:
    from wordfreq import zipf_frequency

    return any(zipf_frequency(folded[i:], "de") >= COMMON_TAIL and _part(folded[:i], depth)
               for i in range(HEAD, len(folded) - COMPOUND_TAIL + 1))


def _part(head: str, depth: int) -> bool:
    """Whether ``head`` is a word, a word with a linking "s" ("Wartungs-"), or, ``depth``
    allowing, a compound itself."""
    from wordfreq import zipf_frequency

    return (zipf_frequency(head, "de") >= COMMON_HEAD
            or (head.endswith("s") and zipf_frequency(head[:-1], "de") >= COMMON_HEAD)
            or (depth > 1 and len(head) >= HEAD + COMPOUND_TAIL and _compound(head, depth - 1)))
