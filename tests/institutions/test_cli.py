"""``netid institutions`` end to end through the real command, on every backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netid.institutions.codes import institution_code_valid
from tests.cli.test_cli import Netid
from tests.conftest import Backend
from tests.institutions.support import REP_NAME, application

pytestmark = pytest.mark.db
EXAMPLE = Path(__file__).parents[2] / "examples" / "institution-application.json"


@pytest.fixture
def netid(db: Backend, tmp_path: Path) -> Netid:
    tool = Netid(db, tmp_path / "var")
    tool.run("keys", "init")
    return tool


def test_apply_approve_freeze_quota(netid: Netid, tmp_path: Path) -> None:
    applied = netid.json("institutions", "apply", "--file", str(EXAMPLE))
    assert applied["status"] == "pending"
    institution_id = applied["id"]
    assert [v["id"] for v in netid.json("institutions", "list", "--status", "pending")] == [
        institution_id
    ]

    approved = netid.json(
        "institutions", "approve", institution_id, "--reason", "checked",
        "--quota", "id2=7", "--quota", "face=0",
    )  # fmt: skip
    assert approved["status"] == "active" and institution_code_valid(approved["code"])
    assert approved["sector"] == "bank.example.com" and approved["price_plan"] == "standard"
    quotas = {
        q["verification_type"]: q for q in netid.json("institutions", "quota", institution_id)
    }
    assert quotas["id2"]["limit"] == 7 and quotas["id2"]["used"] == 0
    assert quotas["face"]["limit"] == 0

    frozen = netid.json("institutions", "freeze", institution_id, "--reason", "fraud report")
    assert frozen["status"] == "frozen"
    refused = netid.run("institutions", "suspend", institution_id, "--reason", "x", expect=75)
    assert json.loads(refused.stderr.splitlines()[-1])["error"]["code"] == "invalid_transition"
    netid.json("institutions", "unfreeze", institution_id, "--reason", "cleared")

    shown = netid.json("institutions", "show", institution_id)
    assert [h["to"] for h in shown["history"]] == ["pending", "active", "frozen", "active"]
    assert shown["history"][2]["reason"] == "fraud report"
    assert shown["history"][2]["actor"].startswith("operator:")


def test_bad_applications_and_unknown_ids(netid: Netid, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(application(uscc="91350100M000100Y44")), encoding="utf-8")
    failed = netid.run("institutions", "apply", "--file", str(bad), expect=65)
    assert json.loads(failed.stderr.splitlines()[-1])["error"]["code"] == "invalid_uscc"

    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(application(secret_field=REP_NAME)), encoding="utf-8")
    failed = netid.run("institutions", "apply", "--file", str(extra), expect=65)
    assert REP_NAME not in failed.stderr
    assert json.loads(failed.stderr.splitlines()[-1])["error"]["code"] == "invalid_input"

    missing = netid.run("institutions", "show", "0" * 32, expect=66)
    assert json.loads(missing.stderr.splitlines()[-1])["error"]["code"] == "institution_not_found"
    netid.run("institutions", "approve", "0" * 32, "--reason", "x", "--quota", "id2", expect=65)
    assert netid.json("institutions", "list") == []
