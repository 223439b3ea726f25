"""``netid receipts show|verify`` and ``netid billing statement`` through the real command, with
the public-key file that ``netid keys export-public`` prints, on every database backend."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any, cast

import pytest

from netid.config import Settings
from netid.container import Container
from tests.billing.factories import verify_and_charge
from tests.cli.test_cli import Netid
from tests.conftest import Backend

pytestmark = pytest.mark.db

VECTORS = Path(__file__).parent / "vectors" / "receipts.json"


@pytest.fixture
def netid(db: Backend, tmp_path: Path) -> Netid:
    return Netid(db, tmp_path / "var")


@pytest.fixture
def platform(netid: Netid, db: Backend, tmp_path: Path) -> Container:
    """A platform set up by the CLI (schema, keys); the container shares its database and
    master-key file, standing in for the verification service that writes receipts."""
    netid.run("db", "upgrade")
    netid.run("keys", "init")
    settings = Settings(data_dir=tmp_path / "var", database_url=db.url, database_schema=db.schema)
    return Container(settings, engine=db.engine)


def _error(stderr: str) -> dict[str, object]:
    error: dict[str, object] = json.loads(stderr.strip().splitlines()[-1])["error"]
    return error


def test_show_then_verify_offline_with_the_exported_keys(
    netid: Netid, platform: Container, tmp_path: Path
) -> None:
    receipt = verify_and_charge(platform, code="BANK", price_fen=10)
    signed = netid.json("receipts", "show", receipt["id"])
    assert signed["receipt"] == receipt
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_text(json.dumps(signed), encoding="utf-8")
    keys_file = tmp_path / "netid-public-keys.json"
    keys_file.write_text(netid.run("keys", "export-public").stdout, encoding="utf-8")

    verified = netid.json("receipts", "verify", str(receipt_file), "--public-keys", str(keys_file))
    assert verified == {
        "valid": True,
        "key_id": signed["signature"]["key_id"],
        "receipt": receipt,
        "in_log": None,  # no checkpoint covered the entry when it was fetched
    }
    # Without a key file: this platform's own keys from the database.
    assert netid.json("receipts", "verify", str(receipt_file))["receipt"] == receipt

    tampered = tmp_path / "tampered.json"
    signed["receipt"]["price_fen"] = 0
    tampered.write_text(json.dumps(signed), encoding="utf-8")
    result = netid.run(
        "receipts", "verify", str(tampered), "--public-keys", str(keys_file), expect=65
    )
    assert result.stdout == ""
    assert _error(result.stderr) == {
        "code": "receipt_invalid",
        "message": "The receipt is not valid.",
        "details": {"reason": "signature"},
    }
    missing = netid.run("receipts", "show", "0" * 32, expect=66)
    assert _error(missing.stderr)["code"] == "receipt_not_found"


def test_verify_needs_no_database(tmp_path: Path) -> None:
    """Offline: the vector file and its published keys, with no reachable database at all."""
    nowhere = Backend("none", "postgresql+psycopg://nobody@127.0.0.1:1/none", None, cast(Any, None))
    offline = Netid(nowhere, tmp_path / "nowhere")
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(vectors["public_keys"]), encoding="utf-8")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(vectors["valid"]), encoding="utf-8")
    out = offline.json("receipts", "verify", str(good), "--public-keys", str(keys_file))
    assert out["receipt"] == vectors["valid"]["receipt"]
    for case in [vectors["tampered"][0], {"document": "not json {", "reason": "format"}]:
        bad = tmp_path / "bad.json"
        document = case["document"]
        bad.write_text(document if isinstance(document, str) else json.dumps(document))
        result = offline.run(
            "receipts", "verify", str(bad), "--public-keys", str(keys_file), expect=65
        )
        assert _error(result.stderr)["details"] == {"reason": case["reason"]}
    # A key file that is not the published key document.
    result = offline.run("receipts", "verify", str(good), "--public-keys", str(good), expect=65)
    assert _error(result.stderr)["code"] == "public_keys_invalid"


def test_statement_files(netid: Netid, platform: Container, tmp_path: Path) -> None:
    at = dt.datetime(2026, 11, 10, 2, 0, tzinfo=dt.UTC)
    for _ in range(3):
        verify_and_charge(platform, code="BANK", price_fen=10, at=at)
    verify_and_charge(platform, code="BANK", type_="face", price_fen=30, at=at)
    verify_and_charge(platform, code="BANK", result_class="refused", price_fen=0, at=at)
    verify_and_charge(platform, code="HOTEL", price_fen=10, at=at)
    # 23:30 UTC on 31 October is 07:30 on 1 November in China: a November charge.
    verify_and_charge(
        platform, code="HOTEL", price_fen=10, at=dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC)
    )
    out = tmp_path / "statements"
    summary = netid.json("billing", "statement", "--month", "2026-11", "--out", str(out))
    assert summary["totals"] == {"count": 7, "amount_fen": 80, "amount_yuan": "0.80"}
    with (out / "statement-2026-11.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["institution_code"], r["verification_type"], r["result_class"], r["count"],
             r["amount_fen"], r["amount_yuan"]) for r in rows] == [
        ("BANK", "face", "match", "1", "30", "0.30"),
        ("BANK", "id2", "match", "3", "30", "0.30"),
        ("BANK", "id2", "refused", "1", "0", "0.00"),
        ("HOTEL", "id2", "match", "2", "20", "0.20"),
    ]  # fmt: skip
    document = json.loads((out / "statement-2026-11.json").read_text(encoding="utf-8"))
    assert document["month"] == "2026-11" and document["currency"] == "CNY"
    assert document["totals"] == summary["totals"]
    assert [s["amount_yuan"] for s in document["institutions"]] == ["0.60", "0.20"]

    hotel = netid.json(
        "billing", "statement", "--month", "2026-11", "--institution", "HOTEL", "--out", str(out)
    )
    assert hotel["totals"] == {"count": 2, "amount_fen": 20, "amount_yuan": "0.20"}
    hotel_doc = json.loads((out / "statement-2026-11-HOTEL.json").read_text(encoding="utf-8"))
    assert hotel_doc["institution_code"] == "HOTEL" and len(hotel_doc["lines"]) == 1
    october = netid.json("billing", "statement", "--month", "2026-10", "--out", str(out))
    assert october["totals"]["count"] == 0

    bad = netid.run("billing", "statement", "--month", "2026-13", "--out", str(out), expect=65)
    assert _error(bad.stderr)["code"] == "invalid_month"
    assert not (out / "statement-2026-13.csv").exists()
