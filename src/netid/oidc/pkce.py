"""PKCE (RFC 7636), S256 only. Pure.

docs/decisions/0006: PKCE is required on every authorization request and only ``S256`` is
accepted — ``plain`` (RFC 7636 §4.2) gives no protection against an attacker who reads the
authorization request, and RFC 9700 §2.1.1 says to use S256. Failures raise
:class:`PkceError` with a ``reason``; the service answers ``invalid_request`` (RFC 7636 §4.4.1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Final

S256: Final = "S256"
# RFC 7636 §4.1: code-verifier = 43*128unreserved; unreserved = ALPHA / DIGIT / "-" / "." /
# "_" / "~".
VERIFIER_RE: Final = re.compile(r"^[A-Za-z0-9\-._~]{43,128}\Z")
# RFC 7636 §4.2: for S256 the challenge is BASE64URL(SHA256(verifier)) without padding, which
# is always 43 characters; the last one carries 4 bits and 2 zero bits (RFC 4648 §3.5), so only
# 16 letters can end a canonical encoding.
CHALLENGE_S256_RE: Final = re.compile(r"^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]\Z")


class PkceError(ValueError):
    """``reason``: ``missing`` | ``plain_not_allowed`` | ``unsupported_method`` | ``malformed``.

    The message is the reason only: it never repeats the (attacker-chosen) parameter values.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_verifier(value: object) -> bool:
    """Whether ``value`` follows the RFC 7636 §4.1 code_verifier grammar."""
    return isinstance(value, str) and VERIFIER_RE.match(value) is not None


def s256_challenge(verifier: str) -> str:
    """RFC 7636 §4.2: ``BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))``."""
    if not is_verifier(verifier):
        raise PkceError("malformed")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify_s256(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6: the server recomputes the challenge from the verifier and compares.

    A verifier outside the §4.1 grammar never matches (§4.1 is a MUST for clients). The
    comparison is constant-time so that its timing tells nothing about the stored challenge.
    """
    if not is_verifier(verifier) or not isinstance(challenge, str) or not challenge.isascii():
        return False
    return hmac.compare_digest(s256_challenge(verifier).encode(), challenge.encode())


def check_challenge(challenge: str | None, method: str | None) -> str:
    """The ``code_challenge`` of an authorization request, checked (RFC 7636 §4.3, §4.4.1).

    * no (or an empty) challenge → ``missing``: PKCE is required here;
    * no method means ``plain`` (§4.3: "defaults to plain if not present") and ``plain``
      itself → ``plain_not_allowed``;
    * any other method than ``S256`` (method names are case-sensitive) → ``unsupported_method``;
    * a challenge that is not a canonical 43-character base64url SHA-256 → ``malformed``.
    """
    if not challenge:
        raise PkceError("missing")
    if method is None or method == "plain":
        raise PkceError("plain_not_allowed")
    if method != S256:
        raise PkceError("unsupported_method")
    if not isinstance(challenge, str) or CHALLENGE_S256_RE.match(challenge) is None:
        raise PkceError("malformed")
    return challenge
