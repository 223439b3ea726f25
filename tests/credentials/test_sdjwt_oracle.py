"""Cross-checks against the SD-JWT reference implementation ``sd-jwt`` 0.10.4 (standards.md §4.3).

Both ways: our issuance and presentation verify with their verifier, theirs with ours. And the
three gaps of the reference verifier (exp not checked, KB-JWT iat not checked, unreferenced
disclosures ignored) are shown: theirs accepts, ours refuses.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from netid.credentials import sdjwt
from netid.credentials.errors import CredentialExpired, DisclosureUnreferenced, KeyBindingStale
from netid.crypto import jose_keys
from tests.credentials import support as s

AUD = "https://rp.example.test"
NONCE = "n-123"
ISS = "https://id.example.test"


def _jwk(key: jose_keys.JosePrivateKey | jose_keys.JosePublicKey) -> JWK:
    return JWK.from_pyca(key)


def _their_verifier(presentation: str, issuer_key: JWK, **kwargs: Any) -> dict[str, Any]:
    verifier = SDJWTVerifier(presentation, lambda iss, header: issuer_key, **kwargs)
    payload: dict[str, Any] = verifier.get_verified_payload()
    return payload


def _ours(
    presentation: str,
    issuer: jose_keys.JosePrivateKey,
    kid: str,
    *,
    now: int | None = None,
    **kw: Any,
) -> sdjwt.VerifiedCredential:
    args: dict[str, Any] = {"audience": AUD, "nonce": NONCE}
    args.update(kw)
    return sdjwt.verify(
        presentation,
        issuer_keys={kid: issuer.public_key()},
        now=int(time.time()) if now is None else now,
        **args,
    )


def _our_credential(**overrides: Any) -> str:
    now = int(time.time())
    return sdjwt.issue(
        issuer_key=s.ES_ISSUER_KEY,
        kid="iss-1",
        payload=s.plain_payload(iss=ISS, iat=now, nbf=now, exp=now + 3600, **overrides),
        disclosable=s.DISCLOSABLE,
    )


# -- ours → theirs ------------------------------------------------------------------------------
def test_our_presentation_verifies_with_their_verifier() -> None:
    now = int(time.time())
    presentation = sdjwt.present(
        _our_credential(),
        disclose=["age_over_18", "name"],
        holder_key=s.HOLDER_KEY,
        audience=AUD,
        nonce=NONCE,
        issued_at=now,
    )
    payload = _their_verifier(
        presentation, _jwk(s.ES_ISSUER_KEY.public_key()), expected_aud=AUD, expected_nonce=NONCE
    )
    assert payload["age_over_18"] is True and payload["name"] == "张三"
    assert "birth_date" not in payload
    assert payload["vct"] == sdjwt.NETWORK_IDENTITY_VCT
    # and ours agrees
    ours = _ours(presentation, s.ES_ISSUER_KEY, "iss-1")
    assert {k: payload[k] for k in ours.disclosed} == ours.disclosed


def test_their_verifier_refuses_our_presentation_for_another_audience() -> None:
    presentation = sdjwt.present(
        _our_credential(),
        disclose=["name"],
        holder_key=s.HOLDER_KEY,
        audience=AUD,
        nonce=NONCE,
        issued_at=int(time.time()),
    )
    with pytest.raises(ValueError):
        _their_verifier(
            presentation,
            _jwk(s.ES_ISSUER_KEY.public_key()),
            expected_aud="https://x",
            expected_nonce=NONCE,
        )


def test_their_holder_presents_our_credential_and_we_verify_it() -> None:
    holder = SDJWTHolder(_our_credential())
    holder.create_presentation(
        {"age_over_18": True, "nationality": True},
        nonce=NONCE,
        aud=AUD,
        holder_key=_jwk(s.HOLDER_KEY),
        sign_alg="ES256",
    )
    result = _ours(holder.sd_jwt_presentation, s.ES_ISSUER_KEY, "iss-1")
    assert result.disclosed == {"age_over_18": True, "nationality": "CHN"}


# -- theirs → ours ------------------------------------------------------------------------------
def _their_credential(*, exp_offset: int = 3600, iat_offset: int = 0) -> tuple[str, JWK, JWK]:
    now = int(time.time())
    issuer_key = JWK.generate(kty="EC", crv="P-256", kid="iss-1")
    holder_key = JWK.generate(kty="EC", crv="P-256")
    claims = {
        "iss": ISS,
        "iat": now + iat_offset,
        "exp": now + exp_offset,
        "vct": sdjwt.NETWORK_IDENTITY_VCT,
        SDObj("name"): "李四",
        SDObj("birth_date"): "2001-02-03",
        SDObj("age_equal_or_over"): {SDObj("18"): True, SDObj("21"): False},
        "nationalities": [SDObj("CHN"), SDObj("HKG")],
    }
    issuance = SDJWTIssuer(
        claims,
        issuer_key,
        holder_key,
        add_decoy_claims=True,
        extra_header_parameters={"typ": "dc+sd-jwt", "kid": "iss-1"},
    ).sd_jwt_issuance
    return issuance, issuer_key, holder_key


def _public(jwk: JWK) -> jose_keys.JosePublicKey:
    return jose_keys.public_key_from_jwk(jwk.export_public(as_dict=True))


def test_their_presentation_verifies_with_ours() -> None:
    issuance, issuer_key, holder_key = _their_credential()
    holder = SDJWTHolder(issuance)
    holder.create_presentation(
        {"age_equal_or_over": {"18": True}, "nationalities": [True, False]},
        nonce=NONCE,
        aud=AUD,
        holder_key=holder_key,
    )
    presentation = holder.sd_jwt_presentation
    theirs = _their_verifier(presentation, issuer_key, expected_aud=AUD, expected_nonce=NONCE)
    ours = sdjwt.verify(
        presentation,
        issuer_keys={"iss-1": _public(issuer_key)},
        now=int(time.time()),
        audience=AUD,
        nonce=NONCE,
    )
    assert ours.all_claims["age_equal_or_over"] == {"18": True} == theirs["age_equal_or_over"]
    assert ours.claims["nationalities"] == ["CHN"] == theirs["nationalities"]
    assert "name" not in ours.all_claims
    assert {k: v for k, v in theirs.items() if k != "_sd_alg"} == ours.all_claims


def test_their_full_issuance_opens_with_claims_of() -> None:
    issuance, _, _ = _their_credential()
    claims = sdjwt.claims_of(issuance)
    assert claims["name"] == "李四"
    assert claims["age_equal_or_over"] == {"18": True, "21": False}
    assert claims["nationalities"] == ["CHN", "HKG"]


# -- the three gaps of the reference verifier ---------------------------------------------------
def test_gap_expired_credential() -> None:
    issuance, issuer_key, holder_key = _their_credential(exp_offset=-3600, iat_offset=-7200)
    holder = SDJWTHolder(issuance)
    holder.create_presentation({"name": True}, nonce=NONCE, aud=AUD, holder_key=holder_key)
    presentation = holder.sd_jwt_presentation
    assert (
        _their_verifier(presentation, issuer_key, expected_aud=AUD, expected_nonce=NONCE)["name"]
        == "李四"
    )
    with pytest.raises(CredentialExpired):
        sdjwt.verify(
            presentation,
            issuer_keys={"iss-1": _public(issuer_key)},
            now=int(time.time()),
            audience=AUD,
            nonce=NONCE,
        )


def test_gap_stale_key_binding() -> None:
    issuance, issuer_key, holder_key = _their_credential(exp_offset=10 * 86400)
    holder = SDJWTHolder(issuance)
    holder.create_presentation({"name": True}, nonce=NONCE, aud=AUD, holder_key=holder_key)
    presentation = holder.sd_jwt_presentation
    # A day later the same presentation is replayed: theirs has no clock for the KB-JWT.
    assert _their_verifier(presentation, issuer_key, expected_aud=AUD, expected_nonce=NONCE)
    with pytest.raises(KeyBindingStale):
        sdjwt.verify(
            presentation,
            issuer_keys={"iss-1": _public(issuer_key)},
            now=int(time.time()) + 86400,
            audience=AUD,
            nonce=NONCE,
        )


def test_gap_unreferenced_disclosure() -> None:
    issuance, issuer_key, _ = _their_credential()
    holder = SDJWTHolder(issuance)
    holder.create_presentation({"name": True})  # no key binding
    assert holder.sd_jwt_presentation.endswith("~")
    forged = holder.sd_jwt_presentation + s.disclosure("Zm9yZ2Vk", "age_over_60", True) + "~"
    theirs = _their_verifier(forged, issuer_key)
    assert theirs["name"] == "李四" and "age_over_60" not in theirs  # silently ignored
    with pytest.raises(DisclosureUnreferenced):
        sdjwt.verify(
            forged,
            issuer_keys={"iss-1": _public(issuer_key)},
            now=int(time.time()),
            audience=None,
            nonce=None,
            require_key_binding=False,
        )
