"""The shipped catalogue's content, the strict loader, price plans and quotas."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netid.core.errors import ConfigurationError, InvalidInput
from netid.policy import (
    PLAINTEXT_CLAIMS,
    VERIFICATION_TYPES,
    CatalogueInvalid,
    UnknownPricePlan,
    UnknownVerificationType,
    default_catalogue,
    load_catalogue,
)

from .support import ISSUE_INDUSTRIES, SHIPPED, shipped_document

CATALOGUE = default_catalogue()


# -- content ---------------------------------------------------------------------------------
def test_every_industry_of_the_issue_exists_with_rules() -> None:
    for industry in ISSUE_INDUSTRIES:
        assert CATALOGUE.is_industry(industry), industry
        policy = CATALOGUE.policy(industry)
        assert policy.industry == industry
        assert policy.version == CATALOGUE.version == "2026-12.1"
        assert policy.purposes, industry
        info = CATALOGUE.industry_info[industry]
        assert info.zh and info.en


def test_every_purpose_is_described_and_used() -> None:
    used = {p for policy in CATALOGUE.industries.values() for p in policy.purposes}
    assert used == set(CATALOGUE.purposes)
    for code in ("hotel_check_in", "real_name_registration", "age_check", "account_opening"):
        assert CATALOGUE.is_purpose(code)
        assert CATALOGUE.purposes[code].zh and CATALOGUE.purposes[code].en
    assert not CATALOGUE.is_purpose("background_check")


def test_minimum_necessary_highlights() -> None:
    hotel = CATALOGUE.policy("hotel_lodging").purposes["hotel_check_in"]
    assert {"id2", "face"} <= hotel.verification_types
    assert {"name", "document_number"} <= hotel.claims == hotel.consent_required
    platform = CATALOGUE.policy("internet_platform")
    for rule in platform.purposes.values():
        assert "document_number" not in rule.claims  # results only, never the number
    assert platform.purposes["real_name_registration"].age_markers >= {"age_over_18"}
    ecommerce = CATALOGUE.policy("ecommerce").purposes["age_check"]
    assert ecommerce.verification_types == {"age_over"}
    assert ecommerce.age_thresholds == {18}
    assert ecommerce.claims == frozenset()


def test_only_government_sees_mismatch_reasons_and_skips_consent() -> None:
    for industry, policy in CATALOGUE.industries.items():
        for rule in policy.purposes.values():
            assert rule.basis
            if industry != "government":
                assert not rule.reveal_mismatch_reason
                assert rule.claims <= rule.consent_required
            elif rule.claims - rule.consent_required:
                assert "个人信息保护法" in rule.consent_exemption
    assert CATALOGUE.policy("government").purposes["government_service"].reveal_mismatch_reason


def test_unknown_industry_is_the_empty_policy() -> None:
    policy = CATALOGUE.policy("casino")
    assert policy.is_empty and policy.industry == "casino"
    assert policy.rule("hotel_check_in") is None


# -- prices and quotas -----------------------------------------------------------------------
def test_standard_prices_in_fen() -> None:
    expected = {"id2": 10, "id3_phone": 15, "age_over": 10, "face": 30, "status": 5, "netid_qr": 10}
    for kind, fen in expected.items():
        assert CATALOGUE.price_fen("standard", kind) == fen


@pytest.mark.parametrize("kind", VERIFICATION_TYPES)
def test_government_is_free_and_others_are_not(kind: str) -> None:
    assert CATALOGUE.price_fen("government", kind) == 0
    assert CATALOGUE.price_fen("standard", kind) > 0
    assert 0 < CATALOGUE.price_fen("nonprofit", kind) <= CATALOGUE.price_fen("standard", kind)


def test_unknown_plan_or_type_is_never_free() -> None:
    with pytest.raises(UnknownPricePlan) as caught:
        CATALOGUE.price_fen("friends_and_family", "id2")
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.code == "unknown_price_plan"
    with pytest.raises(UnknownVerificationType):
        CATALOGUE.price_fen("government", "fingerprint")
    assert CATALOGUE.is_price_plan("standard") and not CATALOGUE.is_price_plan("free")


def test_quotas() -> None:
    bank = CATALOGUE.quotas_for("banking_finance")
    assert set(bank) == set(VERIFICATION_TYPES)
    assert bank["id2"] == 100_000 and bank["face"] == 20_000
    assert CATALOGUE.quotas_for("government")["id2"] == 1_000_000
    assert CATALOGUE.quotas_for("internet_platform")["age_over"] == 500_000
    # a type the industry may never use gets no quota
    ecommerce = CATALOGUE.quotas_for("ecommerce")
    assert ecommerce["id3_phone"] == 0 and ecommerce["age_over"] == 100_000
    assert CATALOGUE.quotas_for("casino") == dict.fromkeys(VERIFICATION_TYPES, 0)


# -- loading ---------------------------------------------------------------------------------
def test_load_from_an_explicit_path_equals_the_default(tmp_path: Path) -> None:
    copy_path = tmp_path / "catalogue.json"
    copy_path.write_bytes(SHIPPED.read_bytes())
    assert load_catalogue(copy_path) == load_catalogue(None) == CATALOGUE


def test_an_operator_catalogue_replaces_the_shipped_one(tmp_path: Path) -> None:
    doc = shipped_document()
    doc["version"] = "local-1"
    del doc["industries"]["hotel_lodging"]
    del doc["defaults"]["monthly_quotas"]["industries"]["transport"]
    doc["industries"].pop("transport")
    doc["purposes"] = {
        k: v
        for k, v in doc["purposes"].items()
        if any(k in i["purposes"] for i in doc["industries"].values())
    }
    path = tmp_path / "local.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    local = load_catalogue(path)
    assert local.version == "local-1"
    assert local.policy("hotel_lodging").is_empty


Mutation = Callable[[dict[str, Any]], None]
HOTEL = ("industries", "hotel_lodging", "purposes", "hotel_check_in")


def _rule(
    doc: dict[str, Any], industry: str = "hotel_lodging", purpose: str = "hotel_check_in"
) -> dict[str, Any]:
    rule: dict[str, Any] = doc["industries"][industry]["purposes"][purpose]
    return rule


BAD: list[tuple[str, Mutation, str]] = [
    ("unknown top-level key", lambda d: d.update(extra=1), "unknown key"),
    ("missing version", lambda d: d.pop("version"), "missing key"),
    ("empty version", lambda d: d.update(version=" "), "version"),
    ("unknown rule key", lambda d: _rule(d).update(phone=True), "unknown key"),
    (
        "unknown type",
        lambda d: _rule(d)["verification_types"].append("iris"),
        "unknown verification",
    ),
    ("no type", lambda d: _rule(d).update(verification_types=[]), "at least one type"),
    ("unknown claim", lambda d: _rule(d)["claims"].append("address"), "unknown claim"),
    ("duplicate claim", lambda d: _rule(d)["claims"].append("name"), "listed twice"),
    ("unknown age marker", lambda d: _rule(d)["age_markers"].append("age_over_21"), "age marker"),
    (
        "consent for a claim not allowed",
        lambda d: _rule(d)["consent_required"].append("birth_date"),
        "does not allow",
    ),
    (
        "plaintext without consent outside government",
        lambda d: _rule(d)["consent_required"].remove("name"),
        "need separate consent",
    ),
    (
        "mismatch reason outside government",
        lambda d: _rule(d).update(reveal_mismatch_reason=True),
        "only the government",
    ),
    (
        "mismatch reason not a boolean",
        lambda d: _rule(d, "government", "government_service").update(reveal_mismatch_reason=1),
        "true or false",
    ),
    (
        "government exemption without its law",
        lambda d: _rule(d, "government", "government_service").pop("consent_exemption"),
        "consent_exemption",
    ),
    (
        "an exemption with nothing exempt",
        lambda d: _rule(d).update(consent_exemption="x"),
        "without an exempt claim",
    ),
    ("age_over without thresholds", lambda d: _rule(d).update(age_thresholds=[]), "age_thresholds"),
    (
        "thresholds without age_over",
        lambda d: _rule(d, "postal_logistics", "parcel_delivery").update(age_thresholds=[18]),
        "age_thresholds",
    ),
    ("threshold out of range", lambda d: _rule(d).update(age_thresholds=[150]), "1..99"),
    ("threshold a boolean", lambda d: _rule(d).update(age_thresholds=[True]), "integer"),
    ("threshold a string", lambda d: _rule(d).update(age_thresholds=["18"]), "integer"),
    ("missing basis", lambda d: _rule(d).pop("basis"), "missing key"),
    (
        "purpose not in the catalogue",
        lambda d: d["industries"]["hotel_lodging"]["purposes"].update(
            casino_entry=copy.deepcopy(_rule(d))
        ),
        "not in the purpose catalogue",
    ),
    ("purpose without en", lambda d: d["purposes"]["loan"].pop("en"), "missing key"),
    (
        "purpose code not a code",
        lambda d: d["purposes"].update({"Loan!": {"zh": "x", "en": "x"}}),
        "not a code",
    ),
    ("empty purpose catalogue", lambda d: d.update(purposes={}), "purpose"),
    ("plan missing a type", lambda d: d["price_plans"]["standard"].pop("face"), "missing key"),
    ("plan with an unknown type", lambda d: d["price_plans"]["standard"].update(iris=1), "unknown"),
    ("negative price", lambda d: d["price_plans"]["standard"].update(id2=-1), ">= 0"),
    ("fractional price", lambda d: d["price_plans"]["standard"].update(id2=0.1), "integer"),
    ("government not free", lambda d: d["price_plans"]["government"].update(face=1), "free"),
    ("no government plan", lambda d: d["price_plans"].pop("government"), "missing"),
    (
        "quota default incomplete",
        lambda d: d["defaults"]["monthly_quotas"]["default"].pop("id2"),
        "missing key",
    ),
    (
        "quota for an unknown industry",
        lambda d: d["defaults"]["monthly_quotas"]["industries"].update(casino={"id2": 1}),
        "unknown industry",
    ),
    ("quota negative", lambda d: d["defaults"]["monthly_quotas"]["default"].update(id2=-5), ">= 0"),
    ("industry not an object", lambda d: d["industries"].update(telecom=[]), "must be an object"),
]


@pytest.mark.parametrize(("mutate", "needle"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_broken_catalogues_are_refused(tmp_path: Path, mutate: Mutation, needle: str) -> None:
    doc = shipped_document()
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CatalogueInvalid) as caught:
        load_catalogue(path)
    error = caught.value
    assert isinstance(error, ConfigurationError)
    assert error.code == "policy_catalogue_invalid"
    assert needle in error.message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{not json", "not JSON (line 1"),
        ('{"version": "a", "version": "b"}', "duplicate key 'version'"),
        ('{"version": NaN}', "NaN is not allowed"),
        ("[]", "must be an object"),
    ],
)
def test_unreadable_catalogues_are_refused(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueInvalid, match=needle.replace("(", r"\(")):
        load_catalogue(path)


def test_a_missing_or_binary_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueInvalid, match="does not exist"):
        load_catalogue(tmp_path / "nope.json")
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CatalogueInvalid, match="cannot be read"):
        load_catalogue(binary)


def test_error_names_the_place_in_the_document(tmp_path: Path) -> None:
    doc = shipped_document()
    _rule(doc)["claims"].append("address")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(CatalogueInvalid) as caught:
        load_catalogue(path)
    assert caught.value.details["path"] == ".".join(HOTEL) + ".claims"


def test_every_plaintext_claim_is_used_somewhere() -> None:
    used = {c for p in CATALOGUE.industries.values() for r in p.purposes.values() for c in r.claims}
    assert used == set(PLAINTEXT_CLAIMS)
