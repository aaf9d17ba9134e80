"""The user folder in a home-directory path is a person's name or login.

``C:\\Users\\jkowalczyk\\...``, ``/home/jkowalczyk/...`` and ``/Users/jkowalczyk/...``
name their user; the gateway treats that folder name as a PERSON value. Shared folders
(``Public``, ``Default``, ...) and placeholders (``%USERNAME%``, ``<user>``) are left alone.
"""

from __future__ import annotations

import re

from veil.regions import Span

_NAME_CHAR = r"[^\\/:*?\"<>|\s]"
HOME = re.compile(
    r"(?:(?<![A-Za-z0-9])[A-Za-z]:[\\/]+(?:Users|Documents and Settings)[\\/]+"
    r"|(?<![\w.~/-])/(?:home|Users)/+)"
    rf"(?P<name>{_NAME_CHAR}+(?: {_NAME_CHAR}+){{0,3}}(?=[\\/])|{_NAME_CHAR}+)",
    re.IGNORECASE,
)
_SHARED = frozenset({"public", "default", "default user", "all users", "shared", "guest",
                     "defaultapppool", "administrator", "admin", "root", "user", "username",
                     "yourname", "your_name", "your-name", "name", "me", "you", "..."})
_PLACEHOLDER = tuple("%$<{[")


def home_folders(text: str) -> list[Span]:
    """PERSON spans for the user folders of home-directory paths in ``text``."""
    spans = []
    for m in HOME.finditer(text):
        name = m["name"]
        if len(name) > 64 or name.casefold() in _SHARED or name.startswith(_PLACEHOLDER):
            continue
        spans.append(Span(m.start("name"), m.end("name"), "PERSON", 0.9, "home-folder"))
    return spans
