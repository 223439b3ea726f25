"""Redirect URIs and the sector identifier (docs/decisions/0006). Pure, except
:func:`fetch_sector_document`, the one boundary (an HTTP GET at client registration).

A registered redirect URI is kept and later compared as the exact string (RFC 6749 §3.1.2.3,
RFC 9700 §4.1.1: no pattern, no normalisation), so :func:`validate_redirect_uri` only decides
whether a string may be registered and returns it unchanged:

* absolute, ASCII, the RFC 3986 characters only, at most 2000 characters, a host;
* scheme ``https``; ``http`` only for a loopback host — ``localhost``, ``127.0.0.0/8``,
  ``[::1]`` — as RFC 8252 §7.3 allows native apps (and §8.3 prefers IP literals);
* no fragment (RFC 6749 §3.1.2: "MUST NOT include a fragment component");
* no userinfo (``https://good@evil``: a classic confusion, RFC 9700 §4.1.3).

The sector identifier (OIDC Core §8.1; Registration 1.0 §5) is the host of the
``sector_identifier_uri`` when there is one — and then the JSON array found there must list
every redirect URI — else the single host of all redirect URIs.

Failures raise :class:`RedirectUriInvalid` / :class:`SectorDocumentUnavailable` (both
``ValueError``) with a ``reason``; messages never carry the URI.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from http.client import HTTPException
from typing import Any, Final
from urllib.parse import SplitResult, urlsplit

MAX_URI_LENGTH: Final = 2000
MAX_SECTOR_DOCUMENT_BYTES: Final = 65536
MAX_SECTOR_DOCUMENT_ENTRIES: Final = 100
# RFC 3986 §2: unreserved, reserved and "%" (of a pct-encoded triplet). Space, quotes, "<>",
# "\\", "^", "`", "{|}" and controls are refused outright: browsers "fix" some of them (a "\\"
# becomes "/" in an http URL), which would make the string we compare mean another URL.
_URI_CHARS: Final = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+\Z")
_PCT: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME: Final = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\Z")
_LOOPBACK_V4: Final = ipaddress.ip_network("127.0.0.0/8")


class RedirectUriInvalid(ValueError):
    """``reason``: ``not_a_string`` | ``too_long`` | ``invalid_characters`` | ``malformed`` |
    ``not_absolute`` | ``scheme_not_allowed`` | ``fragment`` | ``userinfo`` |
    ``host_missing`` | ``host_invalid`` | ``http_not_loopback`` | ``no_redirect_uris`` |
    ``several_hosts`` | ``sector_document_missing`` | ``redirect_uri_not_listed``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SectorDocumentUnavailable(ValueError):
    """``reason``: ``url_invalid`` | ``unreachable`` | ``timeout`` | ``redirected`` |
    ``http_status`` | ``content_type`` | ``content_encoding`` | ``too_large`` | ``not_json`` |
    ``not_an_array`` | ``too_many_entries`` | ``bad_entry`` | ``protocol_error``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _split(uri: object) -> SplitResult:
    if not isinstance(uri, str):
        raise RedirectUriInvalid("not_a_string")
    if len(uri) > MAX_URI_LENGTH:
        raise RedirectUriInvalid("too_long")
    if not uri.isascii() or not _URI_CHARS.match(uri):
        raise RedirectUriInvalid("invalid_characters")
    if _PCT.search(uri):
        raise RedirectUriInvalid("malformed")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise RedirectUriInvalid("malformed") from None
    return parts


def _host(parts: SplitResult) -> str:
    """The lower-cased host of a split URI (IPv6 without brackets), validated."""
    netloc = parts.netloc
    if "@" in netloc:
        raise RedirectUriInvalid("userinfo")
    host = parts.hostname  # lower-cased by urllib
    if not host:
        raise RedirectUriInvalid("host_missing")
    if netloc.startswith("["):
        if "%" in host:  # an IPv6 zone id names an interface of *this* machine
            raise RedirectUriInvalid("host_invalid")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise RedirectUriInvalid("host_invalid") from None
        return host
    if not _HOSTNAME.match(host) or len(host) > 253:
        raise RedirectUriInvalid("host_invalid")
    return host


def is_loopback_host(host: str) -> bool:
    """RFC 8252 §7.3 loopback: ``localhost``, an IPv4 address in 127.0.0.0/8, or ``::1``."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return address in _LOOPBACK_V4
    return address == ipaddress.IPv6Address("::1")


def validate_redirect_uri(uri: str) -> str:
    """``uri`` unchanged if it may be registered as a redirect URI; else RedirectUriInvalid."""
    parts = _split(uri)
    if not parts.scheme:
        raise RedirectUriInvalid("not_absolute")
    # Lower case only (urlsplit lower-cases the scheme, so look at the string itself): the
    # registered string is compared byte for byte later.
    scheme = uri.split(":", 1)[0]
    if scheme not in ("https", "http"):
        raise RedirectUriInvalid("scheme_not_allowed")
    if not uri.startswith(f"{scheme}://"):
        raise RedirectUriInvalid("not_absolute")
    if "#" in uri:  # also an empty fragment ("…/cb#")
        raise RedirectUriInvalid("fragment")
    host = _host(parts)
    if parts.scheme == "http" and not is_loopback_host(host):
        raise RedirectUriInvalid("http_not_loopback")
    return uri


def host_of(uri: str) -> str:
    """The lower-cased host of ``uri`` without port (an IPv6 literal without brackets)."""
    return _host(_split(uri))


def sector_identifier(
    redirect_uris: Sequence[str],
    sector_identifier_uri: str | None,
    listed: Sequence[str] | None,
) -> str:
    """The client's sector identifier (OIDC Core §8.1).

    With a ``sector_identifier_uri``: its host, provided ``listed`` (the JSON array fetched from
    it) contains every redirect URI as an exact string (Registration 1.0 §5). Without one: the
    one host all ``redirect_uris`` share; several hosts need a sector identifier URI.
    """
    if not redirect_uris:
        raise RedirectUriInvalid("no_redirect_uris")
    if sector_identifier_uri is not None:
        sector = host_of(sector_identifier_uri)
        if listed is None:
            raise RedirectUriInvalid("sector_document_missing")
        allowed = set(listed)
        if any(uri not in allowed for uri in redirect_uris):
            raise RedirectUriInvalid("redirect_uri_not_listed")
        return sector
    hosts = {host_of(uri) for uri in redirect_uris}
    if len(hosts) != 1:
        raise RedirectUriInvalid("several_hosts")
    return hosts.pop()


def _no_constants(name: str) -> Any:
    raise ValueError("NaN/Infinity are not JSON")


def parse_sector_document(body: bytes) -> list[str]:
    """The redirect URIs a sector identifier document lists: a UTF-8 JSON array of strings
    (Registration 1.0 §5), at most 64 KiB and 100 entries."""
    if len(body) > MAX_SECTOR_DOCUMENT_BYTES:
        raise SectorDocumentUnavailable("too_large")
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise SectorDocumentUnavailable("not_json") from None
    if not isinstance(value, list):
        raise SectorDocumentUnavailable("not_an_array")
    if len(value) > MAX_SECTOR_DOCUMENT_ENTRIES:
        raise SectorDocumentUnavailable("too_many_entries")
    if not all(isinstance(v, str) and 0 < len(v) <= MAX_URI_LENGTH for v in value):
        raise SectorDocumentUnavailable("bad_entry")
    return list(value)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuse to follow: the document must be at the registered URL itself, whose host is the
    sector (a redirect elsewhere would let another host speak for it)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER: Final = urllib.request.build_opener(_NoRedirects())


def fetch_sector_document(
    url: str, *, timeout: float = 5.0, max_bytes: int = MAX_SECTOR_DOCUMENT_BYTES
) -> list[str]:
    """GET the sector identifier document at ``url`` and parse it (:func:`parse_sector_document`).

    The URL must pass :func:`validate_redirect_uri` (https, or http to loopback). No redirect
    is followed; the answer must be 200 with ``Content-Type: application/json`` and no content
    coding; at most ``max_bytes`` are read (a larger body is refused, not truncated), and the
    whole exchange must finish within about ``timeout`` seconds. Every failure is
    :class:`SectorDocumentUnavailable`.
    """
    try:
        validate_redirect_uri(url)
    except RedirectUriInvalid:
        raise SectorDocumentUnavailable("url_invalid") from None
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(  # noqa: S310 - scheme checked above (https / loopback http)
        url, headers={"Accept": "application/json", "User-Agent": "netid-oidc"}, method="GET"
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            if response.status != 200:  # pragma: no cover - urllib raises HTTPError for these
                raise SectorDocumentUnavailable("http_status")
            if response.headers.get_content_type() != "application/json":
                raise SectorDocumentUnavailable("content_type")
            if response.headers.get("Content-Encoding", "identity").lower() != "identity":
                raise SectorDocumentUnavailable("content_encoding")
            length = response.headers.get("Content-Length")
            if length is not None and (not length.isdigit() or int(length) > max_bytes):
                raise SectorDocumentUnavailable("too_large")
            body = bytearray()
            while True:
                if time.monotonic() > deadline:
                    raise SectorDocumentUnavailable("timeout")
                chunk = response.read1(min(8192, max_bytes + 1 - len(body)))
                if not chunk:
                    break
                body += chunk
                if len(body) > max_bytes:
                    raise SectorDocumentUnavailable("too_large")
    except SectorDocumentUnavailable:
        raise
    except urllib.error.HTTPError as error:
        error.close()
        reason = "redirected" if 300 <= error.code < 400 else "http_status"
        raise SectorDocumentUnavailable(reason) from None
    except urllib.error.URLError as error:
        is_timeout = isinstance(error.reason, TimeoutError)
        raise SectorDocumentUnavailable("timeout" if is_timeout else "unreachable") from None
    except TimeoutError:
        raise SectorDocumentUnavailable("timeout") from None
    except (HTTPException, OSError, ValueError):
        raise SectorDocumentUnavailable("protocol_error") from None
    return parse_sector_document(bytes(body))
