"""Redirect URIs, the sector identifier, and fetching a sector identifier document from a real
HTTP server on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from netid.oidc.redirects import (
    MAX_URI_LENGTH,
    RedirectUriInvalid,
    SectorDocumentUnavailable,
    fetch_sector_document,
    host_of,
    is_loopback_host,
    parse_sector_document,
    sector_identifier,
    validate_redirect_uri,
)

V = json.loads((Path(__file__).parent / "vectors" / "redirect_uris.json").read_text())
LISTED = ["https://a.bank.example/cb", "https://b.bank.example/cb"]


# --- redirect URIs -------------------------------------------------------------------------


@pytest.mark.parametrize("case", V["accepted"], ids=lambda c: c["uri"])
def test_accepted_redirect_uris(case: dict[str, str]) -> None:
    assert validate_redirect_uri(case["uri"]) == case["uri"]  # unchanged, byte for byte
    assert host_of(case["uri"]) == case["host"]


@pytest.mark.parametrize("case", V["refused"], ids=lambda c: repr(c["uri"]))
def test_refused_redirect_uris(case: dict[str, str]) -> None:
    with pytest.raises(RedirectUriInvalid) as refused:
        validate_redirect_uri(case["uri"])
    assert refused.value.reason == case["reason"]
    assert case["uri"] not in str(refused.value) or not case["uri"]


def test_length_limit() -> None:
    base = "https://bank.example/"
    exactly = base + "a" * (MAX_URI_LENGTH - len(base))
    assert validate_redirect_uri(exactly) == exactly
    with pytest.raises(RedirectUriInvalid) as refused:
        validate_redirect_uri(exactly + "a")
    assert refused.value.reason == "too_long"
    with pytest.raises(RedirectUriInvalid) as refused:
        validate_redirect_uri(None)  # type: ignore[arg-type]
    assert refused.value.reason == "not_a_string"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("128.0.0.1", False),
        ("::", False),
        ("0.0.0.0", False),
        ("localhost.example", False),
        ("10.0.0.1", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


# --- sector identifier ---------------------------------------------------------------------


def test_sector_is_the_single_redirect_host() -> None:
    uris = ["https://bank.example/cb", "https://BANK.example:8443/other"]
    assert sector_identifier(uris, None, None) == "bank.example"


def test_several_hosts_need_a_sector_identifier_uri() -> None:
    with pytest.raises(RedirectUriInvalid) as refused:
        sector_identifier(LISTED, None, None)
    assert refused.value.reason == "several_hosts"
    sector = sector_identifier(LISTED, "https://sector.bank.example/ids.json", LISTED)
    assert sector == "sector.bank.example"


def test_every_redirect_uri_must_be_listed() -> None:
    sector_uri = "https://sector.bank.example/ids.json"
    with pytest.raises(RedirectUriInvalid) as refused:
        sector_identifier([*LISTED, "https://c.bank.example/cb"], sector_uri, LISTED)
    assert refused.value.reason == "redirect_uri_not_listed"
    with pytest.raises(RedirectUriInvalid) as refused:  # exact strings: no normalising
        sector_identifier(["https://a.bank.example/cb/"], sector_uri, LISTED)
    assert refused.value.reason == "redirect_uri_not_listed"
    with pytest.raises(RedirectUriInvalid) as refused:
        sector_identifier(LISTED, sector_uri, None)
    assert refused.value.reason == "sector_document_missing"
    # A single host with a sector URI still takes the sector URI's host.
    single = ["https://a.bank.example/cb"]
    assert sector_identifier(single, sector_uri, LISTED) == "sector.bank.example"


def test_no_redirect_uris() -> None:
    with pytest.raises(RedirectUriInvalid) as refused:
        sector_identifier([], None, None)
    assert refused.value.reason == "no_redirect_uris"


# --- sector documents ----------------------------------------------------------------------


def test_parse_sector_document() -> None:
    assert parse_sector_document(json.dumps(LISTED).encode()) == LISTED
    assert parse_sector_document(b"[]") == []
    assert parse_sector_document(json.dumps(["x"] * 100).encode()) == ["x"] * 100


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not_json"),
        (b"[", "not_json"),
        (b"\xff[]", "not_json"),
        (b'["a", NaN]', "not_json"),
        (b'{"redirect_uris": []}', "not_an_array"),
        (b'"https://a/cb"', "not_an_array"),
        (json.dumps(["x"] * 101).encode(), "too_many_entries"),
        (b'["a", 1]', "bad_entry"),
        (b'["a", ""]', "bad_entry"),
        (b'[["a"]]', "bad_entry"),
        (json.dumps(["x" * 2001]).encode(), "bad_entry"),
        (b"[" + b" " * 65536 + b"]", "too_large"),
    ],
)
def test_parse_sector_document_refusals(body: bytes, reason: str) -> None:
    with pytest.raises(SectorDocumentUnavailable) as refused:
        parse_sector_document(body)
    assert refused.value.reason == reason


# --- fetching, from a real server ----------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        length: bool = True,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers.items()))
        listed = json.dumps(LISTED).encode()
        if self.path == "/ok":
            self._send(200, listed)
        elif self.path == "/charset":
            self._send(200, listed, "application/json; charset=utf-8")
        elif self.path == "/unlimited":  # no Content-Length: read until close
            self.close_connection = True
            self._send(200, listed, length=False)
        elif self.path == "/redirect":
            self._send(302, b"", headers={"Location": "/ok"})
        elif self.path == "/permanent":
            self._send(301, b"", headers={"Location": "/ok"})
        elif self.path == "/html":
            self._send(200, b"<html></html>", "text/html")
        elif self.path == "/none":
            self.send_response(200)
            self.send_header("Content-Length", str(len(listed)))
            self.end_headers()
            self.wfile.write(listed)
        elif self.path == "/gzip":
            self._send(200, gzip.compress(listed), headers={"Content-Encoding": "gzip"})
        elif self.path == "/declared-big":
            self._send(200, listed, headers={"Content-Length": "70000"}, length=False)
        elif self.path == "/streamed-big":  # no Content-Length, more than the cap
            self.close_connection = True
            self._send(200, b'["' + b"a" * 70000 + b'"]', length=False)
        elif self.path == "/bad-json":
            self._send(200, b"[1,2")
        elif self.path == "/object":
            self._send(200, b'{"redirect_uris": []}')
        elif self.path == "/slow":
            time.sleep(1.5)
            self._send(200, listed)
        elif self.path == "/trickle":  # headers at once, then the body far too slowly
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.close_connection = True
            try:
                for _ in range(6):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)
                self.wfile.write(listed)
            except OSError:
                return
        elif self.path == "/missing":
            self._send(404, b"{}")
        elif self.path == "/error":
            self._send(500, b"{}")
        else:
            self._send(404, b"{}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that gave up (timeouts) is expected here


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("path", ["/ok", "/charset", "/unlimited"])
def test_fetch_sector_document(server: str, path: str) -> None:
    _Handler.seen.clear()
    assert fetch_sector_document(server + path) == LISTED
    [headers] = _Handler.seen
    assert headers["Accept"] == "application/json"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/redirect", "redirected"),
        ("/permanent", "redirected"),
        ("/html", "content_type"),
        ("/none", "content_type"),
        ("/gzip", "content_encoding"),
        ("/declared-big", "too_large"),
        ("/streamed-big", "too_large"),
        ("/bad-json", "not_json"),
        ("/object", "not_an_array"),
        ("/missing", "http_status"),
        ("/error", "http_status"),
    ],
)
def test_fetch_refusals(server: str, path: str, reason: str) -> None:
    with pytest.raises(SectorDocumentUnavailable) as refused:
        fetch_sector_document(server + path)
    assert refused.value.reason == reason
    assert "127.0.0.1" not in str(refused.value)


def test_redirects_are_not_followed(server: str) -> None:
    _Handler.seen.clear()
    with pytest.raises(SectorDocumentUnavailable):
        fetch_sector_document(server + "/redirect")
    assert len(_Handler.seen) == 1  # /ok was never asked for


def test_size_cap_is_a_parameter(server: str) -> None:
    size = len(json.dumps(LISTED))
    assert fetch_sector_document(server + "/unlimited", max_bytes=size) == LISTED
    for path in ("/ok", "/unlimited"):
        with pytest.raises(SectorDocumentUnavailable) as refused:
            fetch_sector_document(server + path, max_bytes=size - 1)
        assert refused.value.reason == "too_large"


@pytest.mark.parametrize("path", ["/slow", "/trickle"])
def test_timeouts(server: str, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(SectorDocumentUnavailable) as refused:
        fetch_sector_document(server + path, timeout=0.3)
    assert refused.value.reason == "timeout"
    assert time.monotonic() - started < 1.2


def test_unreachable() -> None:
    with _Server(("127.0.0.1", 0), _Handler) as closed:
        port = closed.server_address[1]
    with pytest.raises(SectorDocumentUnavailable) as refused:
        fetch_sector_document(f"http://127.0.0.1:{port}/ok")
    assert refused.value.reason == "unreachable"


@pytest.mark.parametrize(
    "url",
    [
        "http://sector.bank.example/ids.json",  # http beyond loopback
        "file:///etc/passwd",
        "ftp://127.0.0.1/ids.json",
        "https://user@sector.bank.example/ids.json",
        "https://sector.bank.example/ids.json#x",
        "not a url",
    ],
)
def test_fetch_refuses_urls_that_could_not_be_registered(url: str) -> None:
    with pytest.raises(SectorDocumentUnavailable) as refused:
        fetch_sector_document(url)
    assert refused.value.reason == "url_invalid"
