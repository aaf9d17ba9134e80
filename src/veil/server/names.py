"""Does a word that follows a name across a part or message boundary continue the name?

"My name is Johanna" + "Kowalczyk." read together is one name; "Best, Jane Roe" +
"Write to her." is a name and then an instruction. A word at the start of the next text
continues the name unless it is a known common word (stop words and labels of en, de,
fr, es, and everyday English words) that is not also a known first or last name. Unknown
words count as names: a surname must not be left in clear (fail closed).
"""

from __future__ import annotations

import functools

from veil.text import patterns as tp

_EVERYDAY = frozenset({
    "thanks", "thank", "please", "sure", "ok", "okay", "yes", "no", "yeah", "great", "cool",
    "fine", "good", "nice", "perfect", "hello", "hey", "write", "summarise", "summarize",
    "translate", "explain", "tell", "give", "show", "list", "make", "find", "help", "check",
    "send", "draft", "create", "describe", "compare", "read", "answer", "reply", "fix", "add",
    "remove", "update", "review", "rewrite", "could", "would", "should", "can", "will", "may",
    "might", "what", "why", "how", "when", "where", "who", "which",
})


@functools.cache
def _common() -> frozenset[str]:
    from faker.providers.lorem.en_US import Provider

    words = {w.casefold() for w in Provider.word_list} | _EVERYDAY | tp.trim_words()
    return frozenset(words - tp.all_names())


def continues_name(word: str) -> bool:
    """Whether ``word`` (capitalised, after a name) is read as part of the name."""
    return word[:1].isupper() and word.casefold() not in _common()
