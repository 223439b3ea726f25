"""The institution-side check of a network-credential presentation, offline.

It needs nothing but the platform's public JWKS (``GET /v1/credentials/jwks``) and the status
list token the credential points at (``GET /v1/status-lists/{id}``): verify the SD-JWT VC and
its key binding (:func:`netid.credentials.sdjwt.verify`), then the status list token (signed by
a JWKS key, ``sub`` = the credential's status ``uri``), then the entry: INVALID is
``credential_revoked``, SUSPENDED (the person locked the ``credential`` method) is
``credential_suspended``, any other non-zero value is refused too (fail closed).

The small fetch helpers use ``urllib`` with a timeout and a size cap, and read files.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from netid.credentials import sdjwt, status_list
from netid.credentials.errors import (
    CredentialMalformed,
    CredentialRevoked,
    CredentialStatusUnknown,
    CredentialSuspended,
    JwksInvalid,
    JwksUnavailable,
    StatusListUnavailable,
)
from netid.credentials.jws import loads_object
from netid.crypto.errors import InvalidKeyMaterial
from netid.crypto.jose_keys import JosePublicKey, public_key_from_jwk

DEFAULT_TIMEOUT: Final = 5.0  # seconds
MAX_JWKS_BYTES: Final = 64 * 1024
MAX_STATUS_LIST_BYTES: Final = status_list.MAX_TOKEN_LENGTH
MAX_JWKS_KEYS: Final = 100
JWKS_PATH: Final = "/v1/credentials/jwks"

StatusListSource = str | Callable[[str], str]


@dataclass(frozen=True, slots=True)
class PresentationResult:
    """An accepted presentation. ``disclosed`` holds only what the holder chose to reveal."""

    disclosed: dict[str, Any]
    issuer: str
    vct: str
    expires_at: int
    status_uri: str
    status_idx: int
    credential: sdjwt.VerifiedCredential

    def to_json(self) -> dict[str, Any]:
        return {
            "disclosed": self.disclosed,
            "issuer": self.issuer,
            "vct": self.vct,
            "expires_at": self.expires_at,
        }


def keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, JosePublicKey]:
    """``kid`` → public key of a JWKS document (RFC 7517 §5).

    Only signature keys of the supported types count (others are skipped: they can sign
    nothing we accept); a key without a ``kid``, a malformed key or two keys with one ``kid``
    make the document invalid (:class:`JwksInvalid`).
    """
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(entries, list) or len(entries) > MAX_JWKS_KEYS:
        raise JwksInvalid()
    keys: dict[str, JosePublicKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            raise JwksInvalid()
        # RFC 7517 §4: these members are strings. Checked here because the key reader compares
        # them with sets, where a list (unhashable) would escape as a TypeError.
        if any(not isinstance(entry.get(m, ""), str) for m in ("kty", "crv", "use", "alg")):
            raise JwksInvalid()
        if (entry.get("kty"), entry.get("crv")) not in (("OKP", "Ed25519"), ("EC", "P-256")):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            key = public_key_from_jwk(entry)
        except InvalidKeyMaterial:
            raise JwksInvalid() from None
        if entry["kid"] in keys:
            raise JwksInvalid()
        keys[entry["kid"]] = key
    return keys


def verify_presentation(
    presentation: str,
    *,
    jwks: Mapping[str, Any],
    status_list_token: StatusListSource,
    audience: str,
    nonce: str,
    now: int | None = None,
    expected_issuer: str | None = None,
    max_kb_age: int = 300,
    skew: int = 30,
) -> PresentationResult:
    """Verify a key-bound network-credential presentation and its status, offline.

    ``status_list_token`` is the token itself or a function of the status ``uri`` that fetches
    it (for example :func:`http_status_list_source`). ``now`` defaults to the system clock.
    Raises the :mod:`netid.credentials.errors` refusals (``credential_revoked``,
    ``credential_suspended``, ``key_binding_stale`` …).
    """
    if not audience or not nonce:
        raise ValueError("audience and nonce are required")
    at = int(time.time()) if now is None else now
    keys = keys_from_jwks(jwks)
    verified = sdjwt.verify(
        presentation,
        issuer_keys=keys,
        now=at,
        audience=audience,
        nonce=nonce,
        require_key_binding=True,
        max_kb_age=max_kb_age,
        skew=skew,
        expected_issuer=expected_issuer,
        expected_vct=sdjwt.NETWORK_IDENTITY_VCT,
    )
    ref = verified.status
    if ref is None:  # our credentials always carry one; without it revocation is unknowable
        raise CredentialMalformed("The credential has no status reference.")
    token = status_list_token(ref.uri) if callable(status_list_token) else status_list_token
    statuses = status_list.verify_token(token, keys=keys, uri=ref.uri, now=at, skew=skew)
    value = statuses.status(ref.idx)
    if value == status_list.INVALID:
        raise CredentialRevoked()
    if value == status_list.SUSPENDED:
        raise CredentialSuspended()
    if value != status_list.VALID:
        raise CredentialStatusUnknown()
    return PresentationResult(
        disclosed=dict(verified.disclosed),
        issuer=verified.issuer,
        vct=verified.vct,
        expires_at=verified.exp,
        status_uri=ref.uri,
        status_idx=ref.idx,
        credential=verified,
    )


# -- fetching -----------------------------------------------------------------------------------
def _get(url: str, *, accept: str, timeout: float, max_bytes: int) -> bytes:
    """GET over http(s) only, with a timeout and a size cap; ``OSError``/``ValueError`` on failure."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("https", "http"):
        raise ValueError("only http(s) URLs are fetched")
    request = urllib.request.Request(url, headers={"Accept": accept})  # noqa: S310 - scheme checked
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        if response.status != 200:
            raise ValueError("unexpected HTTP status")
        body: bytes = response.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise ValueError("response too large")
    return body


def fetch_jwks(
    url: str, *, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = MAX_JWKS_BYTES
) -> dict[str, Any]:
    """The JWKS document at ``url``; :class:`JwksUnavailable` / :class:`JwksInvalid`."""
    try:
        body = _get(url, accept="application/json", timeout=timeout, max_bytes=max_bytes)
    except (OSError, ValueError, urllib.error.URLError):
        raise JwksUnavailable() from None
    return parse_jwks(body)


def parse_jwks(data: bytes) -> dict[str, Any]:
    """A JWKS document from bytes (JSON object with a ``keys`` array)."""
    try:
        document = loads_object(data)
    except ValueError:
        raise JwksInvalid() from None
    keys_from_jwks(document)  # validate now, not at first use
    return document


def read_jwks_file(path: Path, *, max_bytes: int = MAX_JWKS_BYTES) -> dict[str, Any]:
    return parse_jwks(_read_file(path, max_bytes, JwksUnavailable))


def fetch_status_list(
    url: str, *, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = MAX_STATUS_LIST_BYTES
) -> str:
    """The status list token at ``url`` (``application/statuslist+jwt``)."""
    try:
        body = _get(url, accept="application/statuslist+jwt", timeout=timeout, max_bytes=max_bytes)
        return body.decode("ascii").strip()
    except (OSError, ValueError, urllib.error.URLError):  # UnicodeDecodeError is a ValueError
        raise StatusListUnavailable() from None


def read_status_list_file(path: Path, *, max_bytes: int = MAX_STATUS_LIST_BYTES) -> str:
    try:
        return _read_file(path, max_bytes, StatusListUnavailable).decode("ascii").strip()
    except UnicodeDecodeError:
        raise StatusListUnavailable() from None


def http_status_list_source(
    *, timeout: float = DEFAULT_TIMEOUT, allowed_prefix: str | None = None
) -> Callable[[str], str]:
    """A ``status_list_token`` source that fetches the credential's status ``uri``.

    ``allowed_prefix`` (e.g. the platform URL) refuses to fetch anywhere else: the uri comes
    from the (already signature-checked) credential, but pinning it keeps the fetch on the
    platform.
    """

    def fetch(uri: str) -> str:
        if allowed_prefix is not None and not _within(uri, allowed_prefix):
            raise StatusListUnavailable("The status list is not on the expected server.")
        return fetch_status_list(uri, timeout=timeout)

    return fetch


def _within(uri: str, prefix: str) -> bool:
    """``uri`` is on ``prefix``'s scheme and host and under its path. A plain string prefix is
    not enough: ``https://id.example`` is a prefix of ``https://id.example.evil/...`` and of
    ``https://id.example@evil/...``."""
    target, base = urllib.parse.urlsplit(uri), urllib.parse.urlsplit(prefix)
    path = base.path if base.path.endswith("/") else base.path + "/"
    return (
        (target.scheme, target.netloc) == (base.scheme, base.netloc)
        and target.path.startswith(path)
        and not target.fragment
    )


def _read_file(path: Path, max_bytes: int, error: type[Exception]) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError:
        raise error() from None
    if len(data) > max_bytes:
        raise error()
    return data
