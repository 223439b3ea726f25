"""Administrator password hashing: Argon2id (RFC 9106) through argon2-cffi.

Parameters: RFC 9106 §4, second recommended option ("if much less memory is available"):
Argon2id, t = 3 passes, p = 4 lanes, m = 64 MiB, 16-byte random salt, 32-byte tag. This is above
the OWASP Password Storage Cheat Sheet's minimums (e.g. m = 19 MiB, t = 2, p = 1). The PHC
string stores the parameters beside the hash, so raising them later rehashes each account on
its next successful login (``needs_rehash``). About 0.2 s per hash on this 2-core machine.

Passwords are NFKC-normalised before hashing (NIST SP 800-63B-4 §3.1.1.2 SHOULD), never
truncated, and case is kept (ASVS 6.2.8). At most ``MAX_CONCURRENT_HASHES`` hashes run at a
time per process, so a flood of login attempts cannot take 64 MiB per worker thread.
"""

from __future__ import annotations

import functools
import threading
import unicodedata

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

PARAMETERS = profiles.RFC_9106_LOW_MEMORY
MAX_CONCURRENT_HASHES = 2
_slots = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@functools.cache
def _hasher() -> PasswordHasher:
    return PasswordHasher.from_parameters(PARAMETERS)


def hash_password(password: str) -> str:
    with _slots:
        return _hasher().hash(normalise(password))


def verify_password(stored: str, password: str) -> bool:
    """True if ``password`` matches ``stored``; any malformed hash is simply False."""
    with _slots:
        try:
            return _hasher().verify(stored, normalise(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def needs_rehash(stored: str) -> bool:
    try:
        return _hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return True


@functools.cache
def dummy_hash() -> str:
    """A hash of nothing anyone knows, with the same parameters: verified for unknown users so
    that they cost the same time as known ones (ASVS 6.3.8; SEC-02)."""
    return hash_password("netid dummy password for unknown users")
