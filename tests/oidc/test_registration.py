"""Client registration by the institution (``PUT /v1/oidc/client``, its bearer token):
redirect URIs (RFC 6749 §3.1.2, RFC 8252 §7.3), the sector identifier (OIDC Core §8.1,
fetched from a real local HTTP server), and the client secret shown once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from netid.config import Settings
from tests.conftest import Backend
from tests.enrolment.support import World, make_world
from tests.oidc.support import RelyingParty, code_for, payload_of_jwt
from tests.verification.test_qr import Wallet


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


class SectorServer:
    """A real HTTP server on 127.0.0.1 serving one document at ``/sector.json``."""

    def __init__(self) -> None:
        self.body = b"[]"
        self.content_type = "application/json"
        self.status = 200
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                if self.path != "/sector.json":
                    self.send_error(404)
                    return
                self.send_response(owner.status)
                self.send_header("Content-Type", owner.content_type)
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/sector.json"

    def serve(self, uris: list[str]) -> None:
        self.body = json.dumps(uris).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def sector() -> Iterator[SectorServer]:
    server = SectorServer()
    yield server
    server.close()


def refused(answer: Any, reason: str | None = None) -> None:
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "client_registration_invalid", error
    if reason is not None:
        assert error["details"]["reason"] == reason, error


@pytest.fixture
def rp(world: World) -> RelyingParty:
    return RelyingParty(world, host="rp-a.example", register=False)


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("https://elsewhere.example/callback", "sector_mismatch"),
        ("https://sub.rp-a.example/callback", "sector_mismatch"),
        ("http://rp-a.example/callback", "http_not_loopback"),
        ("https://rp-a.example/callback#frag", "fragment"),
        ("https://rp-a.example/callback#", "fragment"),
        ("https://user@rp-a.example/callback", "userinfo"),
        ("/callback", None),
        ("ftp://rp-a.example/callback", "scheme_not_allowed"),
        ("javascript:alert(1)", None),
        ("https://rp-a.example/call back", "invalid_characters"),
        ("https://rp-a.example/%zz", "malformed"),
        ("https://rp-a.example:99999/cb", None),
    ],
)
def test_a_bad_redirect_uri_is_refused(
    world: World, rp: RelyingParty, uri: str, reason: str | None
) -> None:
    refused(rp.register(redirect_uris=[uri]), reason)
    missing = world.http.get("/v1/oidc/client", headers=rp.api_token())
    assert missing.status_code == 404


def test_a_bad_logout_uri_is_refused(rp: RelyingParty) -> None:
    refused(
        rp.register(
            redirect_uris=[rp.redirect_uri],
            post_logout_redirect_uris=["http://rp-a.example/bye"],
        ),
        "http_not_loopback",
    )


def test_several_hosts_need_a_sector_identifier_uri(world: World) -> None:
    rp = RelyingParty(world, host="127.0.0.1", register=False)
    refused(
        rp.register(redirect_uris=["http://127.0.0.1:8081/cb", "http://localhost:8082/cb"]),
        "several_hosts",
    )


def test_one_loopback_host_on_several_ports_needs_no_sector_uri(world: World) -> None:
    rp = RelyingParty(world, host="127.0.0.1", register=False)
    ok = rp.register(redirect_uris=["http://127.0.0.1:8081/cb", "http://127.0.0.1:8082/cb"])
    assert ok.status_code == 200, ok.text
    assert ok.json()["sector"] == "127.0.0.1"


def test_a_sector_identifier_document_lets_several_hosts_share_the_sector(
    world: World, sector: SectorServer
) -> None:
    rp = RelyingParty(world, host="127.0.0.1", register=False)
    uris = ["http://127.0.0.1:8081/cb", "http://localhost:8082/cb"]
    sector.serve(uris)
    answer = rp.register(redirect_uris=uris, sector_identifier_uri=sector.uri)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["sector"] == "127.0.0.1" and body["sector_identifier_uri"] == sector.uri
    assert body["redirect_uris"] == uris and body["subject_type"] == "pairwise"
    assert sector.hits == 1  # fetched once, at registration
    # A login through the *other* host's redirect URI: sub is the verification pseudonym of
    # the sector 127.0.0.1.
    wallet = Wallet(world, "adult")
    rp.redirect_uri = uris[1]
    login, code = code_for(world, rp, wallet)
    tokens = rp.token(code, login)
    assert tokens.status_code == 200, tokens.text
    assert payload_of_jwt(tokens.json()["id_token"])["sub"] == rp.pseudonym_of("adult")
    assert sector.hits == 1  # never fetched at login


def test_a_sector_document_must_list_every_redirect_uri(world: World, sector: SectorServer) -> None:
    rp = RelyingParty(world, host="127.0.0.1", register=False)
    uris = ["http://127.0.0.1:8081/cb", "http://localhost:8082/cb"]
    sector.serve([*uris[:1], "http://localhost:8082/cb/"])
    refused(
        rp.register(redirect_uris=uris, sector_identifier_uri=sector.uri),
        "redirect_uri_not_listed",
    )


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (404, "application/json", b"[]"),
        (200, "text/html", b'["http://127.0.0.1:8081/cb"]'),
        (200, "application/json", b"not json"),
        (200, "application/json", b'{"redirect_uris": ["http://127.0.0.1:8081/cb"]}'),
        (200, "application/json", b"[1, 2]"),
        (200, "application/json", b"[" + b'"x",' * 40000 + b'"x"]'),
    ],
)
def test_an_unusable_sector_document_is_refused(
    world: World, sector: SectorServer, status: int, content_type: str, body: bytes
) -> None:
    rp = RelyingParty(world, host="127.0.0.1", register=False)
    sector.status, sector.content_type, sector.body = status, content_type, body
    refused(
        rp.register(redirect_uris=["http://127.0.0.1:8081/cb"], sector_identifier_uri=sector.uri)
    )


def test_an_unreachable_sector_document_is_refused(world: World) -> None:
    server = SectorServer()
    uri = server.uri
    server.close()  # nobody listens there any more
    rp = RelyingParty(world, host="127.0.0.1", register=False)
    refused(rp.register(redirect_uris=["http://127.0.0.1:8081/cb"], sector_identifier_uri=uri))


def test_the_sector_uris_host_must_be_the_institutions_sector(
    world: World, sector: SectorServer
) -> None:
    rp = RelyingParty(world, host="127.0.0.1", register=False)
    uris = ["http://127.0.0.1:8081/cb"]
    sector.serve(uris)
    elsewhere = sector.uri.replace("127.0.0.1", "localhost")
    refused(rp.register(redirect_uris=uris, sector_identifier_uri=elsewhere), "sector_mismatch")


def test_a_sector_uri_over_http_to_another_host_is_refused(world: World) -> None:
    rp = RelyingParty(world, host="rp-a.example", register=False)
    refused(
        rp.register(
            redirect_uris=["https://rp-a.example/cb"],
            sector_identifier_uri="http://rp-a.example/sector.json",
        )
    )


def test_a_client_secret_is_shown_once_and_rotated_by_a_new_registration(
    world: World, rp: RelyingParty
) -> None:
    body = {
        "redirect_uris": [rp.redirect_uri],
        "token_endpoint_auth_method": "client_secret_basic",
    }
    first = rp.register(**body)
    assert first.status_code == 200, first.text
    secret = first.json()["client_secret"]
    assert len(secret) >= 43  # 256 bits, base64url
    assert first.headers["cache-control"] == "no-store"
    shown = world.http.get("/v1/oidc/client", headers=rp.api_token())
    assert shown.status_code == 200
    assert "client_secret" not in shown.json() and secret not in shown.text
    assert shown.json()["token_endpoint_auth_method"] == "client_secret_basic"
    # The stored form is not the secret.
    from netid.oidc.models import OidcClient

    with world.container.transaction(write=False) as session:
        row = session.get(OidcClient, rp.client_id)
        assert row is not None and row.secret_mac is not None
        assert secret.encode() not in row.secret_mac
    # A new registration makes a new secret; the old one stops working.
    second = rp.register(**body)
    new_secret = second.json()["client_secret"]
    assert new_secret != secret
    wallet = Wallet(world, "adult")
    rp.auth_method = "client_secret_basic"
    login, code = code_for(world, rp, wallet)
    rp.secret = secret
    assert rp.token(code, login).status_code == 401
    rp.secret = new_secret
    assert rp.token(code, login).status_code == 200


def test_switching_to_private_key_jwt_drops_the_secret(world: World, rp: RelyingParty) -> None:
    secret = rp.register(
        redirect_uris=[rp.redirect_uri], token_endpoint_auth_method="client_secret_basic"
    ).json()["client_secret"]
    again = rp.register(redirect_uris=[rp.redirect_uri])
    assert again.status_code == 200 and "client_secret" not in again.json()
    wallet = Wallet(world, "adult")
    login, code = code_for(world, rp, wallet)
    basic = world.http.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": login.redirect_uri,
            "code_verifier": login.verifier,
        },
        auth=(rp.client_id, secret),
    )
    assert basic.status_code == 401
    assert rp.token(code, login).status_code == 200


def test_a_new_registration_replaces_the_redirect_uris(world: World, rp: RelyingParty) -> None:
    assert rp.register(redirect_uris=[rp.redirect_uri]).status_code == 200
    new = f"https://{rp.host}/new-callback"
    assert rp.register(redirect_uris=[new]).status_code == 200
    _, answer = rp.authorize(world.http)
    assert answer.status_code == 400 and "location" not in answer.headers
    rp.redirect_uri = new
    _, answer = rp.authorize(world.http)
    assert answer.status_code == 303


def test_registration_needs_the_institutions_token_and_a_valid_body(
    world: World, rp: RelyingParty
) -> None:
    body = {"redirect_uris": [rp.redirect_uri]}
    assert world.http.put("/v1/oidc/client", json=body).status_code == 401
    bad = {"Authorization": "Bearer nonsense"}
    assert world.http.put("/v1/oidc/client", json=body, headers=bad).status_code == 401
    assert world.http.get("/v1/oidc/client").status_code == 401
    headers = rp.api_token()
    wrongs: tuple[dict[str, Any], ...] = (
        {},
        {"redirect_uris": []},
        {"redirect_uris": [rp.redirect_uri], "extra": 1},
        {"redirect_uris": [rp.redirect_uri], "token_endpoint_auth_method": "none"},
        {"redirect_uris": [rp.redirect_uri], "id_token_signed_response_alg": "HS256"},
        {"redirect_uris": [rp.redirect_uri] * 11},
        {"redirect_uris": ["x" * 2001]},
        {"redirect_uris": "https://rp-a.example/callback"},
    )
    for wrong in wrongs:
        answer = world.http.put("/v1/oidc/client", json=wrong, headers=headers)
        assert answer.status_code in (400, 422), (wrong, answer.text)
    refused(
        world.http.put(
            "/v1/oidc/client", json={**body, "default_purpose": "payment"}, headers=headers
        ),
        "purpose_not_registered",
    )


def test_a_frozen_institution_cannot_register(world: World, rp: RelyingParty) -> None:
    headers = rp.api_token()
    with world.container.transaction() as session:
        world.container.institutions(session).freeze(
            rp.view.id, actor="operator:test", reason="monitoring"
        )
    answer = world.http.put(
        "/v1/oidc/client", json={"redirect_uris": [rp.redirect_uri]}, headers=headers
    )
    assert answer.status_code in (401, 403), answer.text
