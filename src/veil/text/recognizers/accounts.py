"""Account names in technical text: they name a person as surely as a name does.

- the user folder of a home-directory path: ``C:\\Users\\jkowalczyk\\...``,
  ``/home/jkowalczyk/...``, ``/Users/jkowalczyk/...``;
- the owner and group columns of a long directory listing (``ls -l``, as pasted or as
  seen in a screenshot): ``-rw-r--r-- 1 drew staff 2615 Jan 18 2014 notes.txt``;
- the user of a shell prompt: ``drew@laptop:~$``.

Shared accounts (``root``, ``staff``, ``Public``, ...) and placeholders (``%USERNAME%``,
``<user>``) are left alone. Each finding is a PERSON span (recognizer ``account``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from veil.regions import Span
from veil.text.recognizer import FunctionRecognizer

SOURCE = "account"
_NAME_CHAR = r"[^\\/:*?\"<>|\s]"
_HOME = re.compile(
    r"(?:(?<![A-Za-z0-9])[A-Za-z]:[\\/]+(?:Users|Documents and Settings)[\\/]+"
    r"|(?<![\w.~/-])/(?:home|Users)/+)"
    rf"(?P<name>{_NAME_CHAR}+(?: {_NAME_CHAR}+){{0,3}}(?=[\\/])|{_NAME_CHAR}+)",
    re.IGNORECASE,
)
_ACCOUNT = r"[A-Za-z_][\w.-]{0,31}"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_LISTING = re.compile(
    rf"(?m)^[ \t]*(?P<mode>[-dlcbps][-rwxsStT]{{9}}[.+@]?[ \t]+\d+[ \t]+)?"
    rf"(?P<owner>{_ACCOUNT})(?:[ \t]+(?P<group>{_ACCOUNT}))?[ \t]+\d+(?:[.,]\d+)?[KMGT]?"
    rf"[ \t]+{_MONTH}[ \t]+\d{{1,2}}[ \t]+(?:\d{{4}}|\d{{1,2}}:\d{{2}})[ \t]+\S"
)
"""A long listing's line; without its mode column (cut off in a screenshot) only lower-case
accounts count, and only where two lines or more look so (a ledger line does not)."""
_PROMPT = re.compile(rf"(?<![\w.@-])(?P<user>{_ACCOUNT})@[A-Za-z0-9][\w.-]*:[~/]")
SHARED = frozenset({
    "public", "default", "default user", "all users", "shared", "guest", "defaultapppool",
    "administrator", "admin", "root", "user", "users", "username", "yourname", "your_name",
    "your-name", "name", "me", "you", "...", "staff", "wheel", "nobody", "nogroup", "daemon",
    "www-data", "sys", "bin", "adm", "sudo", "docker", "ubuntu", "debian", "pi", "git",
    "everyone", "system", "localadmin",
})
_PLACEHOLDER = tuple("%$<{[")


def account_spans(text: str, prior: Sequence[Span] = ()) -> list[Span]:
    """PERSON spans for the account names in ``text``."""
    found = [(m.start("name"), m["name"]) for m in _HOME.finditer(text)]
    listing = list(_LISTING.finditer(text))
    bare = [m for m in listing if m["mode"] is None and m["owner"].islower()
            and (m["group"] is None or m["group"].islower())]
    for m in [m for m in listing if m["mode"] is not None] + (bare if len(bare) >= 2 else []):
        found += [(m.start(g), m[g]) for g in ("owner", "group") if m[g] is not None]
    found += [(m.start("user"), m["user"]) for m in _PROMPT.finditer(text)]
    return [Span(start, start + len(name), "PERSON", 0.9, SOURCE)
            for start, name in found
            if len(name) <= 64 and name.casefold() not in SHARED
            and not name.startswith(_PLACEHOLDER) and not name.isdigit()]


ACCOUNT = FunctionRecognizer(SOURCE, ("PERSON",), account_spans)
