"""``veil serve``: an OpenAI-compatible privacy gateway in front of a vision-language model.

``create_app(settings)`` (``veil.server.app``) builds the FastAPI app; ``Settings``
(``veil.server.settings``) holds the upstream, policy, vault and audit log paths. Both are
imported on first use, so that ``veil`` commands that do not serve never load FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from veil.server.app import create_app
    from veil.server.settings import Settings

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from veil.server.app import create_app

        return create_app
    if name == "Settings":
        from veil.server.settings import Settings

        return Settings
    raise AttributeError(f"module 'veil.server' has no attribute {name!r}")
