"""A key provider loaded by name in the tests, as a cloud KMS client would be: it wraps
with a key of its own (here a local one; a KMS would call its service)."""

from veil.pseudo.keys import LocalKeyProvider


def make() -> LocalKeyProvider:
    return LocalKeyProvider(bytes(range(200, 232)))
