"""Known-answer vectors for the nat1 token format, independent MAC recomputation, and the
claim checks; rotation of the token_mac key on both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, hmac

from netid.container import Container
from netid.crypto.jose_keys import b64url_decode
from netid.keys.schemas import KeyPurpose
from netid.oauth.errors import InvalidToken
from netid.oauth.tokens import (
    mac_keys,
    mint_access_token,
    mint_admin_token,
    verify_access_token,
    verify_admin_token,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "tokens.json").read_text()
)
KEYS = {kid: bytes.fromhex(secret) for kid, secret in VECTORS["keys"].items()}
KID, SECRET = next(iter(KEYS.items()))
API = "https://netid.example/v1"
ADMIN = "https://netid.example/admin"


def test_access_token_known_answer() -> None:
    vector = VECTORS["access"]
    assert mint_access_token(key_id=KID, secret=SECRET, **vector["params"]) == vector["token"]
    claims = verify_access_token(vector["token"], KEYS, vector["verify_at"], API)
    params = vector["params"]
    assert claims.client_id == params["client_id"]
    assert claims.institution_id == params["institution_id"]
    assert claims.institution_code == params["institution_code"]
    assert claims.scopes == {"verification", "receipts", "statements"}
    assert (claims.issued_at, claims.expires_at) == (1796000000, 1796000600)
    assert claims.jti == params["jti"] and claims.key_id == KID


def test_the_mac_is_hmac_sm3_over_the_first_three_segments() -> None:
    """Recomputed with `cryptography` directly, not through netid.crypto.sm3."""
    token = VECTORS["access"]["token"]
    version, payload, kid, mac = token.split(".")
    h = hmac.HMAC(KEYS[kid], hashes.SM3())
    h.update(f"{version}.{payload}.{kid}".encode())
    assert h.finalize() == b64url_decode(mac)
    decoded = b64url_decode(payload)
    # JCS: sorted keys, no whitespace
    assert (
        decoded == json.dumps(json.loads(decoded), sort_keys=True, separators=(",", ":")).encode()
    )


def test_admin_token_known_answer() -> None:
    vector = VECTORS["admin"]
    assert mint_admin_token(key_id=KID, secret=SECRET, **vector["params"]) == vector["token"]
    claims = verify_admin_token(vector["token"], KEYS, vector["verify_at"], ADMIN)
    assert (claims.actor, claims.role) == ("admin:alice", "security_admin")


@pytest.mark.parametrize("case", VECTORS["invalid_access"], ids=lambda c: c["why"])
def test_invalid_access_tokens(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        verify_access_token(case["token"], KEYS, case["at"], API)


def test_wrong_audience_and_wrong_key() -> None:
    token = VECTORS["access"]["token"]
    with pytest.raises(InvalidToken):
        verify_access_token(token, KEYS, 1796000300, "https://netid.example/admin")
    with pytest.raises(InvalidToken):
        verify_access_token(token, {KID: bytes(32)}, 1796000300, API)
    with pytest.raises(InvalidToken):  # an access token is not an admin token either
        verify_admin_token(token, KEYS, 1796000300, API)
    # one second before exp it is still good
    assert verify_access_token(token, KEYS, 1796000599, API).jti


def test_a_leaked_key_cannot_mint_long_lived_tokens_we_accept() -> None:
    import netid.oauth.tokens as tokens

    payload = {
        "typ": "access",
        "aud": API,
        "client_id": "c",
        "institution_id": "i",
        "institution_code": "x",
        "scope": "verification",
        "iat": 1796000000,
        "exp": 1796000000 + 601,
        "jti": "CCCCCCCCCCCCCCCCCCCCCC",
    }
    forged = tokens._mint(payload, KID, SECRET)
    with pytest.raises(InvalidToken):
        verify_access_token(forged, KEYS, 1796000001, API)


def test_mint_refuses_bad_parameters() -> None:
    params = dict(VECTORS["access"]["params"])
    with pytest.raises(ValueError):
        mint_access_token(key_id=KID, secret=SECRET, **{**params, "ttl": 601})
    with pytest.raises(ValueError):
        mint_access_token(key_id=KID, secret=SECRET, **{**params, "jti": "short"})
    with pytest.raises(ValueError):
        mint_admin_token(
            key_id=KID, secret=SECRET, **{**VECTORS["admin"]["params"], "role": "root"}
        )


@pytest.mark.db
def test_rotating_token_mac_keeps_live_tokens_until_the_old_key_is_retired(
    container: Container,
) -> None:
    old_key = container.keyring().active(KeyPurpose.TOKEN_MAC)
    params = dict(VECTORS["access"]["params"])
    old = mint_access_token(key_id=old_key.key_id, secret=old_key.secret, **params)
    with container.transaction() as session:
        new_info = container.keyring_service(session).rotate(KeyPurpose.TOKEN_MAC)
    keyring = container.keyring(reload=True)
    new_key = keyring.active(KeyPurpose.TOKEN_MAC)
    assert new_key.key_id == new_info.key_id != old_key.key_id
    keys = mac_keys(keyring)
    assert set(keys) == {old_key.key_id, new_key.key_id}
    assert verify_access_token(old, keys, 1796000300, API).key_id == old_key.key_id
    fresh = mint_access_token(key_id=new_key.key_id, secret=new_key.secret, **params)
    assert verify_access_token(fresh, keys, 1796000300, API).key_id == new_key.key_id
    with container.transaction() as session:
        container.keyring_service(session).retire(old_key.key_id, references=0)
    keys = mac_keys(container.keyring(reload=True))
    with pytest.raises(InvalidToken):
        verify_access_token(old, keys, 1796000300, API)
    assert verify_access_token(fresh, keys, 1796000300, API).key_id == new_key.key_id
