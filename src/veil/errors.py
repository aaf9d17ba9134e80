"""Errors Veil raises. Their texts name files and reasons, never personal values."""


class VeilError(Exception):
    """Base of every error Veil raises on purpose."""


class PolicyError(VeilError):
    """The policy file is missing, unreadable or invalid."""


class InputError(VeilError):
    """An input cannot be processed: unreadable, corrupt, too large or unsupported."""


class DetectorError(VeilError):
    """A detector failed; the image is blocked rather than passed through (fail closed)."""


class VaultError(VeilError):
    """The pseudonym vault cannot be used: locked, corrupt, or unreadable."""


class VaultKeyError(VaultError):
    """The vault key is missing or does not match the vault (nothing is destroyed)."""


class SessionExpiredError(VaultError):
    """The session's time to live has passed; its pseudonyms can no longer be restored."""
