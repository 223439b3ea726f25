"""POST /oauth2/token over HTTP against the real app, on both backends: each assertion rule of
RFC 7523 §3 and the form rules of RFC 6749, one by one. Every refusal is checked by the
specific reason in its access record, so a test cannot pass because of some other failure."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey

from netid.config import Settings
from netid.container import Container
from netid.crypto import jose_keys
from netid.oauth.tokens import verify_access_token
from netid.web.app import create_app
from tests.conftest import Backend
from tests.oauth.support import (
    ASSERTION_TYPE,
    Directory,
    DirectoryContainer,
    Institution,
    assertion,
    b64json,
    claims_for,
    form,
    new_institution,
    record_details,
    sign_jwt,
    token_records,
)

pytestmark = pytest.mark.db


@pytest.fixture
def bank() -> Institution:
    return new_institution("ES256")


@pytest.fixture
def directory(bank: Institution) -> Directory:
    return Directory(bank)


@pytest.fixture
def app_container(container: Container, db: Backend, directory: Directory) -> DirectoryContainer:
    settings: Settings = container.settings.model_copy(
        update={"public_url": "https://netid.example"}
    )
    return DirectoryContainer(settings, directory=directory, engine=db.engine)


@pytest.fixture
def client(app_container: DirectoryContainer) -> TestClient:
    return TestClient(create_app(app_container))


TOKEN_URL = "https://netid.example/oauth2/token"


def post(client: TestClient, data: dict[str, str]) -> tuple[int, dict[str, object]]:
    response = client.post("/oauth2/token", data=data)
    assert response.headers["cache-control"] == "no-store"
    assert response.status_code != 500
    return response.status_code, response.json()


def refused_with(
    client: TestClient, container: Container, data: dict[str, str], reason: str | None
) -> None:
    """401 invalid_client, one description for every reason; the reason is only recorded."""
    before = len(token_records(container))
    status, body = post(client, data)
    assert (status, body) == (
        401,
        {"error": "invalid_client", "error_description": "Client authentication failed."},
    )
    records = token_records(container)
    if reason is None:  # unknown client: nobody to attribute a record to
        assert len(records) == before
        return
    assert len(records) == before + 1
    assert records[-1].outcome == "refused"
    assert record_details(records[-1])["reason"] == reason


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_a_valid_assertion_gets_a_bound_access_token(
    client: TestClient, app_container: DirectoryContainer, directory: Directory, alg: str
) -> None:
    institution = new_institution(alg)
    directory.add(institution)
    status, body = post(client, form(assertion(institution, TOKEN_URL)))
    assert status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    assert body["scope"] == "verification receipts statements"
    token = body["access_token"]
    assert isinstance(token, str) and token.startswith("nat1.")
    claims = verify_access_token(
        token, app_container.token_mac_keys(), int(time.time()), "https://netid.example/v1"
    )
    assert claims.client_id == institution.client_id
    assert claims.institution_id == institution.institution_id
    assert claims.institution_code == institution.code
    assert claims.expires_at - claims.issued_at == 600
    (record,) = token_records(app_container)
    assert record.actor == f"institution:{institution.code}" and record.outcome == "issued"
    details = record_details(record)
    assert details["token_jti"] == claims.jti
    assert token not in record.canonical.decode()  # the token itself is never recorded


def test_rfc9864_ed25519_alg_name_and_a_narrower_scope(
    client: TestClient, directory: Directory
) -> None:
    institution = new_institution("EdDSA")
    directory.add(institution)
    data = form(
        assertion(institution, TOKEN_URL, header={"alg": "Ed25519", "kid": institution.kid}),
        scope="receipts verification",
    )
    status, body = post(client, data)
    assert status == 200 and body["scope"] == "verification receipts"


def test_an_assertion_built_with_joserfc_works(client: TestClient, bank: Institution) -> None:
    """The module docstring's client example, run: an independent JOSE implementation."""
    key = ECKey.import_key(jose_keys.public_jwk(bank.private, bank.kid) | {"d": _d(bank)})
    now = int(time.time())
    token = jwt.encode(
        {"alg": "ES256", "kid": bank.kid},
        {
            "iss": bank.client_id,
            "sub": bank.client_id,
            "aud": TOKEN_URL,
            "iat": now,
            "exp": now + 120,
            "jti": "joserfc-1",
        },
        key,
    )
    status, _ = post(client, form(token))
    assert status == 200


def _d(institution: Institution) -> str:
    return jose_keys.b64url_encode(jose_keys.private_bytes_raw(institution.private))


def test_wrong_audience(client: TestClient, app_container: Container, bank: Institution) -> None:
    for aud in ("https://netid.example/v1", "https://other.example/oauth2/token", ["x"]):
        refused_with(
            client, app_container, form(assertion(bank, TOKEN_URL, aud=aud)), "wrong_audience"
        )


def test_audience_as_a_list_naming_the_endpoint(client: TestClient, bank: Institution) -> None:
    status, _ = post(client, form(assertion(bank, TOKEN_URL, aud=[TOKEN_URL, "other"])))
    assert status == 200


def test_expired(client: TestClient, app_container: Container, bank: Institution) -> None:
    now = int(time.time())
    old = form(assertion(bank, TOKEN_URL, iat=now - 200, exp=now - 31))
    refused_with(client, app_container, old, "expired")
    # within the 30 s skew it is still accepted
    status, _ = post(client, form(assertion(bank, TOKEN_URL, iat=now - 100, exp=now - 20)))
    assert status == 200


def test_lifetime_over_five_minutes(
    client: TestClient, app_container: Container, bank: Institution
) -> None:
    now = int(time.time())
    refused_with(
        client,
        app_container,
        form(assertion(bank, TOKEN_URL, iat=now, exp=now + 301)),
        "lifetime_too_long",
    )
    refused_with(
        client,
        app_container,
        form(assertion(bank, TOKEN_URL, iat=None, exp=now + 400)),
        "lifetime_too_long",
    )
    status, _ = post(client, form(assertion(bank, TOKEN_URL, iat=now, exp=now + 300)))
    assert status == 200


def test_not_yet_valid(client: TestClient, app_container: Container, bank: Institution) -> None:
    now = int(time.time())
    refused_with(
        client,
        app_container,
        form(assertion(bank, TOKEN_URL, iat=now + 60, exp=now + 120)),
        "not_yet_valid",
    )
    refused_with(
        client, app_container, form(assertion(bank, TOKEN_URL, nbf=now + 60)), "not_yet_valid"
    )


def test_missing_exp_or_jti_and_issuer_mismatch(
    client: TestClient, app_container: Container, bank: Institution
) -> None:
    refused_with(client, app_container, form(assertion(bank, TOKEN_URL, exp=None)), "exp_invalid")
    refused_with(client, app_container, form(assertion(bank, TOKEN_URL, exp="9")), "exp_invalid")
    refused_with(client, app_container, form(assertion(bank, TOKEN_URL, jti=None)), "jti_missing")
    refused_with(client, app_container, form(assertion(bank, TOKEN_URL, sub="x")), "wrong_issuer")


def test_jti_is_accepted_once(
    client: TestClient, app_container: Container, bank: Institution
) -> None:
    data = form(assertion(bank, TOKEN_URL))
    assert post(client, data)[0] == 200
    refused_with(client, app_container, data, "replay")
    # the same jti from another client is another assertion
    other = new_institution("ES256")
    app_container.directory.add(other)  # type: ignore[attr-defined]
    jti = claims_for(bank, TOKEN_URL)["jti"]
    assert post(client, form(assertion(bank, TOKEN_URL, jti=jti)))[0] == 200
    assert post(client, form(assertion(other, TOKEN_URL, jti=jti)))[0] == 200


def test_unknown_and_inactive_clients(
    client: TestClient, app_container: Container, directory: Directory
) -> None:
    stranger = new_institution("ES256")
    refused_with(client, app_container, form(assertion(stranger, TOKEN_URL)), None)
    suspended = new_institution("ES256")
    suspended.active = False
    directory.add(suspended)
    refused_with(client, app_container, form(assertion(suspended, TOKEN_URL)), "inactive")


def test_client_id_beside_the_assertion_must_match(
    client: TestClient, app_container: Container, bank: Institution
) -> None:
    data = form(assertion(bank, TOKEN_URL), client_id="someone_else")
    refused_with(client, app_container, data, None)  # refused before any client is known
    assert post(client, form(assertion(bank, TOKEN_URL), client_id=bank.client_id))[0] == 200


def test_wrong_key(client: TestClient, app_container: Container, bank: Institution) -> None:
    impostor = jose_keys.generate_private_key("ES256")
    refused_with(
        client, app_container, form(assertion(bank, TOKEN_URL, key=impostor)), "bad_signature"
    )
    # an unknown kid selects no key at all
    refused_with(
        client,
        app_container,
        form(assertion(bank, TOKEN_URL, header={"alg": "ES256", "kid": "nope"})),
        "no_matching_key",
    )


def test_algorithm_and_key_type_must_match(
    client: TestClient, app_container: Container, bank: Institution
) -> None:
    # EdDSA header over an ES256-registered client: no key of that type is registered
    ed = jose_keys.generate_private_key("EdDSA")
    data = form(assertion(bank, TOKEN_URL, header={"alg": "EdDSA"}, key=ed))
    refused_with(client, app_container, data, "no_matching_key")


def test_alg_none(client: TestClient, app_container: Container, bank: Institution) -> None:
    unsigned = f"{b64json({'alg': 'none'})}.{b64json(claims_for(bank, TOKEN_URL))}."
    refused_with(client, app_container, form(unsigned), "algorithm_not_allowed")


def test_hs256_with_the_public_key_as_secret(
    client: TestClient, app_container: Container, bank: Institution
) -> None:
    """The classic key-confusion attack: HMAC keyed with the registered public key."""
    header = {"alg": "HS256", "kid": bank.kid}
    secret = jose_keys.export_public_pem(bank.private)
    signing_input = f"{b64json(header)}.{b64json(claims_for(bank, TOKEN_URL))}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{jose_keys.b64url_encode(mac)}"
    refused_with(client, app_container, form(forged), "algorithm_not_allowed")


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c", "crit"])
def test_keys_named_by_the_token_are_never_trusted(
    client: TestClient, app_container: Container, bank: Institution, member: str
) -> None:
    attacker = jose_keys.generate_private_key("ES256")
    values: dict[str, object] = {
        "jwk": jose_keys.public_jwk(attacker, "evil"),
        "jku": "https://evil.example/jwks",
        "x5u": "https://evil.example/cert",
        "x5c": ["MIIB"],
        "crit": ["exp"],
    }
    header = {"alg": "ES256", member: values[member]}
    data = form(sign_jwt(header, claims_for(bank, TOKEN_URL), attacker))
    refused_with(client, app_container, data, "untrusted_key_header")
    # also with the right key: a header naming keys is refused whatever signed it
    data = form(sign_jwt(header, claims_for(bank, TOKEN_URL), bank.private))
    refused_with(client, app_container, data, "untrusted_key_header")


def test_malformed_assertions(
    client: TestClient, app_container: Container, bank: Institution
) -> None:
    good = assertion(bank, TOKEN_URL)
    head, payload, sig = good.split(".")
    for broken in (
        "not-a-jwt",
        f"{head}.{payload}",
        f"{head}.{payload}.{sig}.x",
        f"{head}.{payload}.{sig}=",
        f"{head}.{payload}.@@",
        f"{b64json({'alg': 'ES256', 'alg ': 1})[:-2]}.{payload}.{sig}",
        "\u00e9" * 10,
    ):
        refused_with(client, app_container, form(broken), None)
    tampered = f"{head}.{b64json(claims_for(bank, TOKEN_URL))}.{sig}"
    refused_with(client, app_container, form(tampered), "bad_signature")
    duplicated = '{"alg":"ES256","alg":"none"}'
    dup = f"{jose_keys.b64url_encode(duplicated.encode())}.{payload}.{sig}"
    refused_with(client, app_container, form(dup), None)


def test_oversized(client: TestClient, app_container: Container, bank: Institution) -> None:
    big = assertion(bank, TOKEN_URL, pad="x" * 9000)
    refused_with(client, app_container, form(big), None)  # over the assertion limit
    status, body = post(client, form(assertion(bank, TOKEN_URL), scope="a" * 20_000))
    assert (status, body["error"]) == (400, "invalid_request")
    response = client.post("/oauth2/token", data=form("x" * (2 * 1024 * 1024)))
    assert response.status_code == 413


def test_bad_form_fields(client: TestClient, bank: Institution) -> None:
    good = assertion(bank, TOKEN_URL)
    cases: list[tuple[dict[str, str], int, str]] = [
        ({k: v for k, v in form(good).items() if k != "grant_type"}, 400, "invalid_request"),
        (form(good, grant_type="password"), 400, "unsupported_grant_type"),
        # The code grant is for registered OIDC clients only (docs/decisions/0006).
        (form(good, grant_type="authorization_code"), 401, "invalid_client"),
        (form(good, client_assertion_type="urn:x"), 401, "invalid_client"),
        ({k: v for k, v in form(good).items() if k != "client_assertion"}, 401, "invalid_client"),
        (form(good, scope="everything"), 400, "invalid_scope"),
        (form(good, scope=""), 200, ""),  # an empty parameter is an omitted one (RFC 6749 §3.1)
    ]
    for data, status, error in cases:
        got_status, body = post(client, data)
        assert got_status == status, (data, body)
        if error:
            assert body["error"] == error
    # JSON instead of a form
    response = client.post("/oauth2/token", json=form(good))
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    # a repeated parameter (RFC 6749 §3.2)
    body = (
        "grant_type=client_credentials&grant_type=client_credentials"
        f"&client_assertion_type={ASSERTION_TYPE}&client_assertion={good}"
    )
    response = client.post(
        "/oauth2/token",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    # not even a form
    response = client.post(
        "/oauth2/token",
        content=b"\xff\xfe&&==",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_the_same_assertion_from_many_threads_yields_one_token(
    app_container: DirectoryContainer, bank: Institution
) -> None:
    data = form(assertion(bank, TOKEN_URL))
    app = create_app(app_container)
    statuses: list[int] = []
    barrier = threading.Barrier(8)
    lock = threading.Lock()

    def attempt() -> None:
        client = TestClient(app)
        barrier.wait()
        response = client.post("/oauth2/token", data=data)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [401] * 7
    outcomes = sorted(r.outcome for r in token_records(app_container))
    assert outcomes == ["issued"] + ["refused"] * 7


def test_openapi_documents_the_token_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/oauth2/token"]["post"]["requestBody"]
    assert "application/x-www-form-urlencoded" in body["content"]
