"""The institution-side offline check: SD-JWT + key binding + status list, from JWKS only."""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from netid.credentials import presentation, status_list
from netid.credentials.errors import (
    CredentialExpired,
    CredentialRevoked,
    CredentialStatusUnknown,
    CredentialSuspended,
    CredentialTypeInvalid,
    JwksInvalid,
    JwksUnavailable,
    KeyBindingStale,
    NonceMismatch,
    StatusListInvalid,
    StatusListStale,
    StatusListUnavailable,
)
from netid.crypto import jose_keys
from tests.credentials import support as s
from tests.credentials.support import AUDIENCE, ISSUER_KEY, ISSUER_KID, NONCE, NOW, STATUS_URI

JWKS = {"keys": [jose_keys.public_jwk(ISSUER_KEY, ISSUER_KID)]}
IDX = 4242


def _status_token(
    value: int = status_list.VALID,
    *,
    uri: str = STATUS_URI,
    key: Any = ISSUER_KEY,
    kid: str = ISSUER_KID,
) -> str:
    statuses = [0] * 8192
    statuses[IDX] = value
    return status_list.sign_token(
        key,
        kid,
        uri=uri,
        iat=NOW,
        exp=NOW + 86400,
        ttl=300,
        lst=status_list.encode(statuses, 2),
        bits=2,
    )


def _presentation(disclose: list[str] | None = None, **payload: Any) -> str:
    return s.present(s.issue(**payload), disclose or ["age_over_18"])


def _verify(
    text: str, token: presentation.StatusListSource | None = None, **kw: Any
) -> presentation.PresentationResult:
    args: dict[str, Any] = {"jwks": JWKS, "audience": AUDIENCE, "nonce": NONCE, "now": NOW + 61}
    args.update(kw)
    return presentation.verify_presentation(
        text, status_list_token=token or _status_token(), **args
    )


def test_valid_presentation() -> None:
    result = _verify(_presentation(["age_over_18", "name"]))
    assert result.disclosed == {"name": "张三", "age_over_18": True}
    assert result.to_json() == {
        "disclosed": {"name": "张三", "age_over_18": True},
        "issuer": s.ISSUER,
        "vct": "urn:netid:credential:network-identity:1",
        "expires_at": NOW + 30 * 86400,
    }
    assert (result.status_uri, result.status_idx) == (STATUS_URI, IDX)


def test_status_list_fetched_through_a_function_of_the_uri() -> None:
    asked: list[str] = []

    def fetch(uri: str) -> str:
        asked.append(uri)
        return _status_token()

    _verify(_presentation(), fetch)
    assert asked == [STATUS_URI]


def test_revoked() -> None:
    with pytest.raises(CredentialRevoked):
        _verify(_presentation(), _status_token(status_list.INVALID))


def test_suspended() -> None:
    with pytest.raises(CredentialSuspended):
        _verify(_presentation(), _status_token(status_list.SUSPENDED))


def test_other_status_values_fail_closed() -> None:
    with pytest.raises(CredentialStatusUnknown):
        _verify(_presentation(), _status_token(3))


def test_status_list_for_another_uri() -> None:
    with pytest.raises(StatusListInvalid):
        _verify(_presentation(), _status_token(uri=STATUS_URI + "-other"))


def test_status_list_signed_by_a_key_outside_the_jwks() -> None:
    rogue = jose_keys.generate_private_key("EdDSA")
    with pytest.raises(StatusListInvalid):
        _verify(_presentation(), _status_token(key=rogue, kid="rogue"))
    with pytest.raises(StatusListInvalid):
        _verify(_presentation(), _status_token(key=rogue))  # right kid, wrong key


def test_status_index_outside_the_list() -> None:
    from netid.credentials.errors import StatusListMalformed

    text = s.present(s.issue(status={"status_list": {"idx": 9000, "uri": STATUS_URI}}), [])
    with pytest.raises(StatusListMalformed):
        _verify(text)


def test_refusals_of_the_credential_pass_through() -> None:
    with pytest.raises(NonceMismatch):
        _verify(_presentation(), nonce="other")
    with pytest.raises(KeyBindingStale):
        _verify(_presentation(), now=NOW + 3600)
    with pytest.raises(CredentialExpired):
        _verify(_presentation(), now=NOW + 31 * 86400)
    with pytest.raises(CredentialTypeInvalid):
        _verify(s.present(s.issue(vct="urn:other"), []))


def test_a_credential_without_status_is_refused() -> None:
    from netid.credentials.errors import CredentialMalformed

    with pytest.raises(CredentialMalformed):
        _verify(s.present(s.issue(status=None), []))


def test_jwks_parsing() -> None:
    ed = jose_keys.generate_private_key("EdDSA")
    es = jose_keys.generate_private_key("ES256")
    keys = presentation.keys_from_jwks(
        {
            "keys": [
                jose_keys.public_jwk(ed, "a"),
                jose_keys.public_jwk(es, "b"),
                {"kty": "RSA", "kid": "c", "n": "x", "e": "AQAB"},
            ]
        }
    )
    assert set(keys) == {"a", "b"}
    for bad in (
        {},
        {"keys": "x"},
        {"keys": [{"kty": "OKP", "crv": "Ed25519"}]},  # no kid
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": "short"}]},
        {"keys": [jose_keys.public_jwk(ed, "a"), jose_keys.public_jwk(es, "a")]},  # same kid
        {"keys": [jose_keys.public_jwk(ed, "a") | {"d": "secret"}]},
        {"keys": [jose_keys.public_jwk(ed, "a") | {"alg": ["EdDSA"]}]},  # not a string
        {"keys": [jose_keys.public_jwk(ed, "a") | {"use": 5}]},
    ):
        with pytest.raises(JwksInvalid):
            presentation.keys_from_jwks(bad)


def test_files(tmp_path: Path) -> None:
    import json

    (tmp_path / "jwks.json").write_text(json.dumps(JWKS))
    (tmp_path / "status.jwt").write_text(_status_token() + "\n")
    (tmp_path / "bad.json").write_text("[1,2]")
    assert presentation.read_jwks_file(tmp_path / "jwks.json") == JWKS
    assert presentation.read_status_list_file(tmp_path / "status.jwt") == _status_token()
    with pytest.raises(JwksInvalid):
        presentation.read_jwks_file(tmp_path / "bad.json")
    with pytest.raises(JwksUnavailable):
        presentation.read_jwks_file(tmp_path / "missing.json")
    with pytest.raises(StatusListUnavailable):
        presentation.read_status_list_file(tmp_path / "missing.jwt")
    with pytest.raises(JwksUnavailable):
        presentation.read_jwks_file(tmp_path / "jwks.json", max_bytes=10)


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[str, bytes]]] = {}

    def do_GET(self) -> None:
        content_type, body = self.routes.get(self.path, ("text/plain", b""))
        self.send_response(200 if self.path in self.routes else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    import json

    _Handler.routes = {
        "/v1/credentials/jwks": ("application/json", json.dumps(JWKS).encode()),
        "/v1/status-lists/0f3c": ("application/statuslist+jwt", _status_token().encode()),
        "/big": ("application/json", b"{" + b" " * (presentation.MAX_JWKS_BYTES + 1) + b"}"),
    }
    with s.serving(_Handler) as base:
        yield base


def test_fetch_over_http(server: str) -> None:
    assert presentation.fetch_jwks(server + "/v1/credentials/jwks") == JWKS
    assert presentation.fetch_status_list(server + "/v1/status-lists/0f3c") == _status_token()
    with pytest.raises(JwksUnavailable):
        presentation.fetch_jwks(server + "/missing")
    with pytest.raises(JwksUnavailable):
        presentation.fetch_jwks(server + "/big")
    with pytest.raises(StatusListUnavailable):
        presentation.fetch_status_list(server + "/missing")
    with pytest.raises(JwksUnavailable):
        presentation.fetch_jwks("file:///etc/passwd")


def test_http_status_list_source_is_pinned_to_the_server(server: str) -> None:
    pinned = presentation.http_status_list_source(allowed_prefix=server + "/")
    assert pinned(server + "/v1/status-lists/0f3c") == _status_token()
    with pytest.raises(StatusListUnavailable):
        pinned("https://elsewhere.example/v1/status-lists/0f3c")


def test_http_status_list_source_pin_is_not_a_string_prefix(server: str) -> None:
    # "http://127.0.0.1:PORT" is a string prefix of "http://127.0.0.1:PORT0/..." and of
    # "http://127.0.0.1:PORT@elsewhere/...": neither is on the pinned server.
    pinned = presentation.http_status_list_source(allowed_prefix=server)
    assert pinned(server + "/v1/status-lists/0f3c") == _status_token()
    for elsewhere in (
        server + "0/v1/status-lists/0f3c",
        server + "@elsewhere.example/v1/status-lists/0f3c",
        server.replace("http://", "https://") + "/v1/status-lists/0f3c",
    ):
        with pytest.raises(StatusListUnavailable):
            pinned(elsewhere)


def test_a_stale_status_list_fails_closed() -> None:
    # The token was fetched at NOW with ttl 300 and is still before its exp (a day): a copy
    # kept past its ttl (a file, a cache) no longer shows a lock or a revocation since.
    text = s.present(s.issue(), ["age_over_18"], issued_at=NOW + 320)
    _verify(text, now=NOW + 300 + 29)
    with pytest.raises(StatusListStale):
        _verify(text, now=NOW + 300 + 30)


def test_a_status_list_that_cannot_be_fetched_fails_closed() -> None:
    def unreachable(uri: str) -> str:
        raise StatusListUnavailable()

    with pytest.raises(StatusListUnavailable):
        _verify(_presentation(), unreachable)


def test_an_expired_status_list_fails_closed() -> None:
    token = status_list.sign_token(
        ISSUER_KEY,
        ISSUER_KID,
        uri=STATUS_URI,
        iat=NOW,
        exp=NOW + 60,
        ttl=300,
        lst=status_list.encode([0] * 8192, 2),
        bits=2,
    )
    _verify(_presentation(), token, now=NOW + 61)
    with pytest.raises(StatusListInvalid):
        _verify(_presentation(), token, now=NOW + 90)
