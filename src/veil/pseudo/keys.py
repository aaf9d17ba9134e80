"""Key-encryption keys for the vault's envelope encryption, and 32-byte key files.

The vault seals values with data keys it generates itself; each data key is stored only
wrapped by a key-encryption key (KEK) that the vault's database never holds. The KEK sits
behind ``KeyProvider``: the interface a cloud KMS client implements (``key_id``, ``wrap``,
``unwrap``). ``LocalKeyProvider`` is the one Veil ships: a 32-byte KEK from
``$VEIL_VAULT_KEY``, a key file, or given directly; it wraps with AES-256-GCM.

A provider of your own is named ``package.module:factory`` ($VEIL_VAULT_KEY_PROVIDER or
``--key-provider``); ``factory()`` returns the provider.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from veil.errors import VaultKeyError

_WRAP_AD = b"veil vault data key v1"


@runtime_checkable
class KeyProvider(Protocol):
    """A key-encryption key: wraps and unwraps the vault's data keys."""

    @property
    def key_id(self) -> str:
        """Names the KEK (never reveals it), stored beside each wrapped key."""
        ...

    def wrap(self, key: bytes) -> bytes:
        """``key`` encrypted and authenticated under the KEK."""
        ...

    def unwrap(self, wrapped: bytes) -> bytes:
        """The key inside ``wrapped``; VaultKeyError when this KEK did not wrap it."""
        ...


class LocalKeyProvider:
    """A 32-byte KEK held in this process; wraps with AES-256-GCM."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != 32:
            raise VaultKeyError("vault key must be 32 bytes")
        self.kek = kek
        fingerprint = hmac.new(kek, b"veil key id", hashlib.sha256).hexdigest()[:16]
        self._id = f"local:{fingerprint}"
        self._aead = AESGCM(kek)

    @property
    def key_id(self) -> str:
        return self._id

    def wrap(self, key: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, key, _WRAP_AD)

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:12], wrapped[12:], _WRAP_AD)
        except InvalidTag:
            raise VaultKeyError("vault key does not match the vault") from None


def generate_key() -> bytes:
    """A fresh random 32-byte key."""
    return os.urandom(32)


def decode_key(text: str, source: str) -> bytes:
    """The 32 bytes of an urlsafe-base64 key; VaultKeyError naming ``source`` otherwise."""
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        key = b""
    if len(key) != 32:
        raise VaultKeyError(f"{source} is not urlsafe base64 of 32 bytes")
    return key


def read_key_file(path: Path, *, create: bool, what: str = "vault key") -> bytes:
    """The key in ``path``; when it is missing and ``create``, a new key written there
    (0600 from birth with O_EXCL: never world-readable, never overwriting a key)."""
    try:
        return decode_key(path.read_text("ascii"), f"{what} file {path}")
    except FileNotFoundError:
        if not create:
            raise VaultKeyError(f"{what} file missing: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VaultKeyError(f"cannot read {what} file: {path} ({type(exc).__name__})") from None
    fresh = generate_key()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(base64.urlsafe_b64encode(fresh).decode() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise VaultKeyError(f"cannot create {what} file: {path} ({exc.strerror})") from None
    return fresh


def load_provider(spec: str) -> KeyProvider:
    """The provider made by ``package.module:factory``."""
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
        provider = factory()
    except Exception as exc:
        raise VaultKeyError(f"key provider {spec!r} cannot be loaded "
                            f"({type(exc).__name__})") from None
    if not isinstance(provider, KeyProvider):
        raise VaultKeyError(f"key provider {spec!r} has no key_id, wrap and unwrap")
    return provider


def resolve_provider(*, key: bytes | None = None, key_file: str | Path | None = None,
                     provider: KeyProvider | str | None = None,
                     default_file: Path | None = None, create: bool = False) -> KeyProvider:
    """The KEK: ``provider`` (or $VEIL_VAULT_KEY_PROVIDER), else ``key``, else
    $VEIL_VAULT_KEY, else the key file (``key_file``, $VEIL_VAULT_KEY_FILE or
    ``default_file``; created when missing and ``create``)."""
    if isinstance(provider, str):
        return load_provider(provider)
    if provider is not None:
        return provider
    if key is not None:
        return LocalKeyProvider(key)
    if spec := os.environ.get("VEIL_VAULT_KEY_PROVIDER"):
        return load_provider(spec)
    if env := os.environ.get("VEIL_VAULT_KEY"):
        return LocalKeyProvider(decode_key(env, "VEIL_VAULT_KEY"))
    path = key_file or os.environ.get("VEIL_VAULT_KEY_FILE") or default_file
    if path is None:
        raise VaultKeyError("a database vault needs its key: set $VEIL_VAULT_KEY, "
                            "$VEIL_VAULT_KEY_FILE or $VEIL_VAULT_KEY_PROVIDER")
    return LocalKeyProvider(read_key_file(Path(path), create=create))
