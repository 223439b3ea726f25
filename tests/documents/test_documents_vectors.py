"""Known-answer vectors (tests/documents/vectors/*.json)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from stdnum.cn import uscc as stdnum_uscc

from netid.documents import (
    RULES,
    DocumentType,
    InvalidDocumentNumber,
    check_document_number,
    check_uscc,
    parse_document_number,
    upgrade_legacy_id15,
)
from netid.documents.validate import WARNINGS

from .support import TODAY, load_vectors

VALID: list[dict[str, Any]] = load_vectors("valid.json")
INVALID: list[dict[str, Any]] = load_vectors("invalid.json")
USCC: dict[str, list[dict[str, Any]]] = load_vectors("uscc.json")


def _id(v: dict[str, Any]) -> str:
    return str(v["source"])


@pytest.mark.parametrize("vector", VALID, ids=_id)
def test_valid_vector(vector: dict[str, Any]) -> None:
    result = check_document_number(vector["input"], today=TODAY)
    assert result.valid, result
    assert result.type == DocumentType(vector["type"])
    assert result.normalized == vector["normalized"]
    expected_birth = vector.get("birth_date")
    assert result.birth_date == (dt.date.fromisoformat(expected_birth) if expected_birth else None)
    assert result.sex == vector.get("sex")
    assert result.region_code == vector.get("region_code")
    assert result.nationality == vector.get("nationality")
    assert list(result.warnings) == vector.get("warnings", [])
    assert result.rule is None
    assert result.message is None
    # parse_document_number agrees and does not raise
    assert parse_document_number(vector["input"], today=TODAY) == result
    # the expected type is accepted
    assert check_document_number(vector["input"], today=TODAY, expected_type=result.type).valid
    # the normalised form is a fixed point
    again = check_document_number(result.normalized or "", today=TODAY)
    assert again.normalized == result.normalized
    assert again.type == result.type


@pytest.mark.parametrize("vector", INVALID, ids=_id)
def test_invalid_vector(vector: dict[str, Any]) -> None:
    expected_type = vector.get("expected_type")
    kwargs: dict[str, Any] = {"today": TODAY}
    if expected_type is not None:
        kwargs["expected_type"] = DocumentType(expected_type)
    result = check_document_number(vector["input"], **kwargs)
    assert not result.valid
    assert result.rule == vector["rule"]
    assert result.type == (DocumentType(vector["type"]) if "type" in vector else None)
    assert result.normalized is None
    assert result.birth_date is None
    assert result.sex is None
    assert result.warnings == ()
    assert result.message
    with pytest.raises(InvalidDocumentNumber) as info:
        parse_document_number(vector["input"], **kwargs)
    assert info.value.rule == vector["rule"]
    assert info.value.message == result.message
    assert info.value.to_dict()["code"] == "invalid_document_number"


def test_vectors_cover_every_rule() -> None:
    assert {v["rule"] for v in INVALID} == set(RULES)
    seen = {w for v in VALID for w in v.get("warnings", [])}
    assert seen == set(WARNINGS)


def test_every_document_type_has_a_valid_vector() -> None:
    assert {v["type"] for v in VALID} == {t.value for t in DocumentType}


@pytest.mark.parametrize("vector", VALID + INVALID, ids=_id)
def test_message_never_contains_the_input(vector: dict[str, Any]) -> None:
    result = check_document_number(vector["input"], today=TODAY)
    if result.message is not None:
        assert all(
            chunk not in result.message
            for chunk in (vector["input"][i : i + 4] for i in range(len(vector["input"]) - 3))
        )


def test_to_json_shape() -> None:
    ok = check_document_number("110105491231002", today=TODAY).to_json()
    assert ok == {
        "valid": True,
        "type": "resident_id",
        "normalized": "11010519491231002X",
        "birth_date": "1949-12-31",
        "sex": "F",
        "region_code": "110105",
        "warnings": ["legacy_15_digit"],
    }
    bad = check_document_number("110105194912310021", today=TODAY).to_json()
    assert set(bad) == {"valid", "type", "rule", "message"}
    assert bad["valid"] is False
    assert check_document_number("").to_json() == {
        "valid": False,
        "rule": "empty",
        "message": "The document number is empty.",
    }


def test_document_type_codes() -> None:
    assert {t.value: t.code for t in DocumentType} == {
        "resident_id": "01",
        "residence_permit": "02",
        "foreign_permanent_residence": "03",
        "travel_permit_hkmo": "04",
        "travel_permit_tw": "05",
        "passport": "06",
    }


def test_upgrade_legacy_id15() -> None:
    assert upgrade_legacy_id15("110105491231002") == "11010519491231002X"
    assert upgrade_legacy_id15("１１０１０５ ４９１２３１００２") == "11010519491231002X"
    for bad, rule in [("11010549123100", "length"), ("11010549123100X", "format"), ("", "empty")]:
        with pytest.raises(InvalidDocumentNumber) as info:
            upgrade_legacy_id15(bad)
        assert info.value.rule == rule


def test_default_today_is_used() -> None:
    # A birth date far in the future is rejected without an explicit today.
    assert check_document_number("110105209901010012").rule == "birth_date"
    assert check_document_number("11010519491231002X").valid


@pytest.mark.parametrize("vector", USCC["valid"], ids=_id)
def test_uscc_valid(vector: dict[str, Any]) -> None:
    result = check_uscc(vector["input"])
    assert result.valid, result
    normalized = vector.get("normalized", vector["input"])
    assert result.normalized == normalized
    assert result.region_code == vector["region_code"]
    assert result.organization_code == vector["organization_code"]
    assert result.to_json()["type"] == "uscc"
    # python-stdnum as the oracle for the GB 32100 check character
    assert stdnum_uscc.is_valid(normalized)


@pytest.mark.parametrize("vector", USCC["invalid"], ids=_id)
def test_uscc_invalid(vector: dict[str, Any]) -> None:
    result = check_uscc(vector["input"])
    assert not result.valid
    assert result.rule == vector["rule"]
    assert result.normalized is None
    assert set(result.to_json()) == {"valid", "type", "rule", "message"}
