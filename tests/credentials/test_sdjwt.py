"""SD-JWT VC: issuance format, known answers, holder presentation, and every RFC 9901 §7 refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from netid.credentials import jws, sdjwt
from netid.credentials.errors import (
    AudienceMismatch,
    ClaimNotInCredential,
    CredentialExpired,
    CredentialIssuerUnknown,
    CredentialMalformed,
    CredentialNotYetValid,
    CredentialSignatureInvalid,
    CredentialTypeInvalid,
    DigestDuplicate,
    DisclosureDuplicate,
    DisclosureInvalid,
    DisclosureUnreferenced,
    KeyBindingInvalid,
    KeyBindingMissing,
    KeyBindingStale,
    NonceMismatch,
    SdHashMismatch,
)
from netid.crypto import jose_keys
from netid.crypto.jose_keys import b64url_decode
from tests.credentials import support as s
from tests.credentials.support import (
    AUDIENCE,
    DISCLOSABLE,
    ISSUER_KID,
    NONCE,
    NOW,
    craft,
    disclosure,
    present,
    verify,
    with_key_binding,
)

KAT = json.loads((s.VECTORS / "sdjwt.json").read_text("utf-8"))


def _payload_of(compact: str) -> dict[str, Any]:
    return jws.decode_unverified(compact.split("~")[0])[1]


# -- issuance -----------------------------------------------------------------------------------
def test_issuance_shape() -> None:
    credential = s.issue(decoys=4)
    parsed = sdjwt.parse(credential)
    assert credential.endswith("~") and parsed.key_binding_jwt is None
    header, payload, _, _ = jws.decode_unverified(parsed.issuer_jwt)
    assert header == {"alg": "Ed25519", "typ": "dc+sd-jwt", "kid": ISSUER_KID}
    assert payload["_sd_alg"] == "sha-256"
    assert payload["_sd"] == sorted(payload["_sd"])
    assert len(payload["_sd"]) == len(DISCLOSABLE) + 4  # decoys
    assert len(set(payload["_sd"])) == len(payload["_sd"])
    for name in DISCLOSABLE:
        assert name not in payload
    names = set()
    for text in parsed.disclosures:
        salt, name, value = json.loads(b64url_decode(text))
        assert len(b64url_decode(salt)) == 16
        assert sdjwt.digest(text) in payload["_sd"]
        assert DISCLOSABLE[name] == value
        names.add(name)
    assert names == set(DISCLOSABLE)


def test_known_answer_issuance() -> None:
    # Fixed keys and salts: a format change (JSON encoding, order, header) changes the string.
    assert s.issue() == KAT["credential"]


def test_known_answer_presentation() -> None:
    vector = KAT["presentation"]
    text = vector["text"]
    fresh = present(KAT["credential"], vector["disclose"], issued_at=vector["issued_at"])
    # ES256 signatures are randomised: everything but the KB-JWT signature is fixed.
    assert fresh.rsplit(".", 1)[0] == text.rsplit(".", 1)[0]
    result = sdjwt.verify(
        text,
        issuer_keys=s.ISSUER_KEYS,
        now=vector["verify_at"],
        audience=vector["audience"],
        nonce=vector["nonce"],
    )
    assert result.disclosed == vector["expected_disclosed"]


def test_fresh_salts_differ() -> None:
    a = sdjwt.issue(
        issuer_key=s.ISSUER_KEY, kid="k", payload=s.plain_payload(), disclosable={"name": "x"}
    )
    b = sdjwt.issue(
        issuer_key=s.ISSUER_KEY, kid="k", payload=s.plain_payload(), disclosable={"name": "x"}
    )
    assert a.split("~")[1] != b.split("~")[1]


@pytest.mark.parametrize("name", ["iss", "nbf", "exp", "cnf", "vct", "status", "_sd", "..."])
def test_issue_refuses_never_disclosable_names(name: str) -> None:
    with pytest.raises(ValueError):
        s.issue(disclosable={name: 1})


def test_issue_refuses_a_claim_both_plain_and_disclosable() -> None:
    with pytest.raises(ValueError):
        s.issue(disclosable={"jti": "x"})


def test_issue_refuses_missing_vct_or_reserved_names() -> None:
    with pytest.raises(ValueError):
        sdjwt.issue(issuer_key=s.ISSUER_KEY, kid="k", payload={"iss": "x"}, disclosable={})
    with pytest.raises(ValueError):
        s.issue(_sd=["x"])


def test_issue_accepts_an_es256_issuer_key() -> None:
    credential = s.issue(key=s.ES_ISSUER_KEY)
    assert jws.decode_unverified(credential.split("~")[0])[0]["alg"] == "ES256"
    result = verify(present(credential, ["age_over_18"]))
    assert result.disclosed == {"age_over_18": True}
    assert result.kid == s.ES_ISSUER_KID


# -- holder -------------------------------------------------------------------------------------
def test_claims_of_opens_every_disclosure() -> None:
    claims = sdjwt.claims_of(s.issue())
    assert {k: claims[k] for k in DISCLOSABLE} == DISCLOSABLE
    assert claims["iss"] == s.ISSUER and claims["jti"] == "cred-0001"
    assert "_sd" not in claims and "_sd_alg" not in claims


def test_present_reveals_only_the_chosen_claims() -> None:
    presentation = present(s.issue(), ["age_over_18"])
    parsed = sdjwt.parse(presentation)
    assert len(parsed.disclosures) == 1
    assert json.loads(b64url_decode(parsed.disclosures[0]))[1:] == ["age_over_18", True]
    assert parsed.key_binding_jwt is not None
    header, payload, _, _ = jws.decode_unverified(parsed.key_binding_jwt)
    assert header == {"alg": "ES256", "typ": "kb+jwt"}
    assert payload == {
        "iat": NOW + 60,
        "aud": AUDIENCE,
        "nonce": NONCE,
        "sd_hash": sdjwt.digest(parsed.without_key_binding),
    }
    result = verify(presentation)
    assert result.disclosed == {"age_over_18": True}
    assert "name" not in result.all_claims and "birth_date" not in result.all_claims


def test_present_nothing() -> None:
    result = verify(present(s.issue(), []))
    assert result.disclosed == {}
    assert result.claims["iss"] == s.ISSUER


def test_present_refuses_a_claim_the_credential_lacks() -> None:
    with pytest.raises(ClaimNotInCredential):
        present(s.issue(), ["age_over_21"])


# -- verification: the good path ----------------------------------------------------------------
def test_verified_credential() -> None:
    result = verify(present(s.issue(), ["name", "age_over_18"]))
    assert result.issuer == s.ISSUER
    assert result.vct == sdjwt.NETWORK_IDENTITY_VCT
    assert result.disclosed == {"name": "张三", "age_over_18": True}
    assert result.status == sdjwt.StatusReference(idx=4242, uri=s.STATUS_URI)
    assert result.exp == NOW + 30 * 86400 and result.iat == NOW
    assert result.jti == "cred-0001"
    assert result.key_bound
    assert result.cnf_jwk == s.plain_payload()["cnf"]["jwk"]
    assert "_sd" not in result.claims and "cnf" in result.claims


def test_older_typ_is_accepted_on_read() -> None:
    payload = _payload_of(s.issue())
    prefix = craft(
        payload,
        sdjwt.parse(s.issue()).disclosures[:1],
        header={"typ": "vc+sd-jwt", "kid": ISSUER_KID},
    )
    assert verify(with_key_binding(prefix)).disclosed


def test_without_key_binding_when_not_required() -> None:
    credential = s.issue()
    result = sdjwt.verify(
        credential,
        issuer_keys=s.ISSUER_KEYS,
        now=NOW + 1,
        audience=None,
        nonce=None,
        require_key_binding=False,
    )
    assert not result.key_bound
    assert result.disclosed == DISCLOSABLE


def test_key_binding_requires_audience_and_nonce() -> None:
    with pytest.raises(ValueError):
        sdjwt.verify(s.issue(), issuer_keys=s.ISSUER_KEYS, now=NOW, audience=None, nonce=NONCE)


# -- verification: refusals ---------------------------------------------------------------------
def test_issuer_signature_invalid() -> None:
    credential = s.issue()
    jwt, rest = credential.split("~", 1)
    h, _, sig = jwt.split(".")
    forged_payload = jose_keys.b64url_encode(
        jws.dumps({**_payload_of(credential), "exp": NOW + 10**8})
    )
    forged = f"{h}.{forged_payload}.{sig}~{rest}"
    with pytest.raises(CredentialSignatureInvalid):
        verify(forged, require_key_binding=False, audience=None, nonce=None)


def test_issuer_key_unknown_or_wrong() -> None:
    credential = present(s.issue(), ["name"])
    with pytest.raises(CredentialIssuerUnknown):
        verify(credential, issuer_keys={"other": s.ISSUER_KEY.public_key()})
    with pytest.raises(CredentialSignatureInvalid):
        verify(
            credential,
            issuer_keys={ISSUER_KID: jose_keys.generate_private_key("EdDSA").public_key()},
        )
    with pytest.raises(CredentialTypeInvalid):  # alg confusion: an EdDSA JWT and a P-256 key
        verify(credential, issuer_keys={ISSUER_KID: s.ES_ISSUER_KEY.public_key()})


def test_expected_issuer() -> None:
    presentation = present(s.issue(), ["name"])
    assert verify(presentation, expected_issuer=s.ISSUER).issuer == s.ISSUER
    with pytest.raises(CredentialIssuerUnknown):
        verify(presentation, expected_issuer="https://evil.example")


@pytest.mark.parametrize("typ", ["JWT", "kb+jwt", "example+sd-jwt"])
def test_wrong_typ(typ: str) -> None:
    prefix = craft(_payload_of(s.issue()), [], header={"typ": typ, "kid": ISSUER_KID})
    with pytest.raises(CredentialTypeInvalid):
        verify(with_key_binding(prefix))


def test_vct_required_and_checked() -> None:
    payload = _payload_of(s.issue())
    del payload["vct"]
    with pytest.raises(CredentialTypeInvalid):
        verify(with_key_binding(craft(payload, [])))
    presentation = present(s.issue(), [])
    with pytest.raises(CredentialTypeInvalid):
        verify(presentation, expected_vct="urn:other")


def test_expired() -> None:
    presentation = present(s.issue(exp=NOW + 100), [], issued_at=NOW + 120)
    verify(presentation, now=NOW + 129)  # within the 30 s skew
    with pytest.raises(CredentialExpired):
        verify(presentation, now=NOW + 130)


def test_not_yet_valid() -> None:
    presentation = present(s.issue(nbf=NOW + 1000), [], issued_at=NOW + 60)
    with pytest.raises(CredentialNotYetValid):
        verify(presentation)
    future_iat = present(s.issue(iat=NOW + 1000, nbf=None), [], issued_at=NOW + 60)
    with pytest.raises(CredentialNotYetValid):
        verify(future_iat)


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": None},
        {"exp": "soon"},
        {"exp": True},
        {"nbf": "x"},
        {"iss": None},
        {"iss": 5},
        {"status": {"status_list": {"idx": -1, "uri": "u"}}},
        {"status": {"status_list": {"idx": 1}}},
        {"status": "revoked"},
        {"cnf": {"jwk": {"kty": "EC"}}},
        {"cnf": None},
        {"jti": 7},
    ],
)
def test_malformed_plain_claims(overrides: dict[str, Any]) -> None:
    payload = {k: v for k, v in {**_payload_of(s.issue()), **overrides}.items() if v is not None}
    with pytest.raises(CredentialMalformed):
        verify(with_key_binding(craft(payload, [])))


def test_unsupported_digest_algorithm() -> None:
    payload = {**_payload_of(s.issue()), "_sd_alg": "sha-512"}
    with pytest.raises(CredentialMalformed):
        verify(with_key_binding(craft(payload, [])))


def test_unreferenced_disclosure_is_refused() -> None:
    # The holder (or anyone) adds a disclosure the issuer never signed a digest for; even with a
    # KB-JWT over it, RFC 9901 §7.1 step 5 refuses it (sd-jwt 0.10.4 ignores it silently).
    prefix = sdjwt.parse(present(s.issue(), ["age_over_18"])).without_key_binding
    forged = prefix + disclosure("c2FsdHNhbHRzYWx0c2FsdA", "age_over_60", False) + "~"
    with pytest.raises(DisclosureUnreferenced):
        verify(with_key_binding(forged))
    with pytest.raises(DisclosureUnreferenced):
        verify(forged, require_key_binding=False, audience=None, nonce=None)


def test_duplicate_disclosure() -> None:
    prefix = sdjwt.parse(present(s.issue(), ["age_over_18"])).without_key_binding
    doubled = prefix + prefix.split("~")[1] + "~"
    with pytest.raises(DisclosureDuplicate):
        verify(with_key_binding(doubled))


def test_duplicate_digest() -> None:
    d = disclosure("c2FsdA", "name", "x")
    payload = {**s.plain_payload(), "_sd": [sdjwt.digest(d), sdjwt.digest(d)], "_sd_alg": "sha-256"}
    with pytest.raises(DigestDuplicate):
        verify(with_key_binding(craft(payload, [d])))
    # Also across levels: the same digest in a nested object.
    payload = {**s.plain_payload(), "_sd": [sdjwt.digest(d)], "address": {"_sd": [sdjwt.digest(d)]}}
    with pytest.raises(DigestDuplicate):
        verify(with_key_binding(craft(payload, [d])))
    # Even an undisclosed (decoy-looking) digest may appear only once.
    payload = {**s.plain_payload(), "_sd": ["AAAA", "AAAA"]}
    with pytest.raises(DigestDuplicate):
        verify(with_key_binding(craft(payload, [])))


def test_disclosure_for_a_plain_claim() -> None:
    d = disclosure("c2FsdA", "jti", "other")
    payload = {**s.plain_payload(), "_sd": [sdjwt.digest(d)]}
    with pytest.raises(DisclosureInvalid):
        verify(with_key_binding(craft(payload, [d])))


@pytest.mark.parametrize("name", ["iss", "nbf", "exp", "cnf", "vct", "status"])
def test_disclosure_for_a_never_disclosable_claim_also_plain(name: str) -> None:
    payload = s.plain_payload()
    d = disclosure("c2FsdA", name, payload[name])
    with pytest.raises(DisclosureInvalid):
        verify(with_key_binding(craft({**payload, "_sd": [sdjwt.digest(d)]}, [d])))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("nbf", NOW),
        ("status", {"status_list": {"idx": 1, "uri": "u"}}),
        ("vct#integrity", "sha256-x"),
    ],
)
def test_disclosure_for_a_never_disclosable_claim(name: str, value: Any) -> None:
    # SD-JWT VC §3.2.2.2: refused even when the claim is not in plain form at all.
    payload = s.plain_payload()
    payload.pop(name, None)
    d = disclosure("c2FsdA", name, value)
    with pytest.raises(DisclosureInvalid):
        verify(with_key_binding(craft({**payload, "_sd": [sdjwt.digest(d)]}, [d])))
    # The same disclosure below the top level is an ordinary claim.
    nested = {**payload, "evidence": {"_sd": [sdjwt.digest(d)]}}
    assert verify(with_key_binding(craft(nested, [d]))).claims["evidence"] == {name: value}


@pytest.mark.parametrize("name", ["_sd", "..."])
def test_disclosure_with_a_reserved_name(name: str) -> None:
    d = disclosure("c2FsdA", name, ["x"])
    payload = {**s.plain_payload(), "_sd": [sdjwt.digest(d)]}
    with pytest.raises(DisclosureInvalid):
        verify(with_key_binding(craft(payload, [d])))


def test_array_disclosure_in_an_object_and_object_disclosure_in_an_array() -> None:
    element = disclosure("c2FsdA", "CHN")
    payload = {**s.plain_payload(), "_sd": [sdjwt.digest(element)]}
    with pytest.raises(DisclosureInvalid):
        verify(with_key_binding(craft(payload, [element])))
    prop = disclosure("c2FsdA", "nationality", "CHN")
    payload = {**s.plain_payload(), "nationalities": [{"...": sdjwt.digest(prop)}]}
    with pytest.raises(DisclosureInvalid):
        verify(with_key_binding(craft(payload, [prop])))


@pytest.mark.parametrize(
    "extra",
    [
        {"_sd": "notalist"},
        {"_sd": [5]},
        {"...": "x"},
        {"nationalities": [{"...": "x", "y": 1}]},
        {"address": {"_sd_alg": "sha-256"}},
    ],
)
def test_sd_and_ellipsis_misuse(extra: dict[str, Any]) -> None:
    payload = {**s.plain_payload(), **extra}
    with pytest.raises(CredentialMalformed):
        verify(with_key_binding(craft(payload, [])))


@pytest.mark.parametrize(
    "text",
    ["WyJzYWx0Il0", "WzEsImEiLDFd", "eyJhIjoxfQ", "WyIiLCJhIiwxXQ", "WyJzIiwxLDJd", "!!!"],
    ids=["one-element", "numeric-salt", "object", "empty-salt", "numeric-name", "not-base64"],
)
def test_malformed_disclosure(text: str) -> None:
    payload = {**s.plain_payload(), "_sd": [sdjwt.digest(text)]}
    with pytest.raises((DisclosureInvalid, CredentialMalformed)):
        verify(with_key_binding(craft(payload, [text])))


def test_nested_and_array_disclosures_are_resolved() -> None:
    street = disclosure("c2FsdDE", "street", "长安街 1 号")
    city = disclosure("c2FsdDI", "city", "北京")
    element = disclosure("c2FsdDM", "CHN")
    address = disclosure(
        "c2FsdDQ", "address", {"_sd": [sdjwt.digest(street)], "locality": "东城区"}
    )
    payload = {
        **s.plain_payload(),
        "_sd": sorted([sdjwt.digest(address)]),
        "nationalities": [{"...": sdjwt.digest(element)}, {"...": "ZGVjb3k"}, "HKG"],
        "place": {"_sd": [sdjwt.digest(city)]},
    }
    result = verify(with_key_binding(craft(payload, [address, street, city, element])))
    assert result.disclosed == {"address": {"street": "长安街 1 号", "locality": "东城区"}}
    assert result.claims["nationalities"] == ["CHN", "HKG"]
    assert result.claims["place"] == {"city": "北京"}
    # Not disclosing the nested values removes them.
    result = verify(with_key_binding(craft(payload, [address])))
    assert result.disclosed == {"address": {"locality": "东城区"}}
    assert result.claims["nationalities"] == ["HKG"] and result.claims["place"] == {}


@pytest.mark.parametrize(
    "text",
    ["", "~", "a.b.c", "a.b.c~~", "a.b.c~x~y", "a~b~", "a.b.c~d~" + "e" * 70_000, "a.b.c~é~"],
)
def test_malformed_compact_form(text: str) -> None:
    with pytest.raises(CredentialMalformed):
        verify(text)


# -- key binding --------------------------------------------------------------------------------
def _prefix(disclose: list[str] | None = None) -> str:
    return sdjwt.parse(present(s.issue(), disclose or ["age_over_18"])).without_key_binding


def test_key_binding_missing() -> None:
    with pytest.raises(KeyBindingMissing):
        verify(_prefix())


def test_key_binding_by_another_key() -> None:
    with pytest.raises(KeyBindingInvalid):
        verify(with_key_binding(_prefix(), key=jose_keys.generate_private_key("ES256")))


def test_key_binding_with_wrong_typ() -> None:
    with pytest.raises(KeyBindingInvalid):
        verify(with_key_binding(_prefix(), typ="JWT"))


def test_key_binding_without_cnf() -> None:
    payload = s.plain_payload()
    del payload["cnf"]
    prefix = craft(payload, [])
    with pytest.raises(KeyBindingInvalid):
        verify(with_key_binding(prefix), require_key_binding=False)
    with pytest.raises(CredentialMalformed):
        verify(with_key_binding(prefix))


def test_key_binding_with_malformed_payload() -> None:
    prefix = _prefix()
    kb = jws.sign_compact(
        s.HOLDER_KEY, header={"typ": "kb+jwt"}, payload={"iat": NOW, "aud": AUDIENCE}
    )
    with pytest.raises(KeyBindingInvalid):
        verify(prefix + kb)


def test_audience_mismatch() -> None:
    with pytest.raises(AudienceMismatch):
        verify(with_key_binding(_prefix(), aud="https://other.example"))


def test_nonce_mismatch() -> None:
    with pytest.raises(NonceMismatch):
        verify(with_key_binding(_prefix(), nonce="n-other"))


def test_key_binding_stale_or_from_the_future() -> None:
    prefix = _prefix()
    verify(with_key_binding(prefix, iat=NOW + 61 - 300))  # exactly max_kb_age old
    with pytest.raises(KeyBindingStale):
        verify(with_key_binding(prefix, iat=NOW + 61 - 301))
    verify(with_key_binding(prefix, iat=NOW + 61 + 30))
    with pytest.raises(KeyBindingStale):
        verify(with_key_binding(prefix, iat=NOW + 61 + 31))
    with pytest.raises(KeyBindingStale):
        verify(with_key_binding(prefix, iat=NOW), max_kb_age=60)


def test_sd_hash_mismatch() -> None:
    presentation = present(s.issue(), ["age_over_18", "name"])
    parsed = sdjwt.parse(presentation)
    # Drop a disclosure after the holder signed: the KB-JWT no longer covers the presentation.
    assert parsed.key_binding_jwt is not None
    dropped = f"{parsed.issuer_jwt}~{parsed.disclosures[0]}~{parsed.key_binding_jwt}"
    with pytest.raises(SdHashMismatch):
        verify(dropped)
    with pytest.raises(SdHashMismatch):
        verify(with_key_binding(_prefix(), sd_hash=sdjwt.digest("other~")))
