"""The log over HTTP on the real app: checkpoint note, RFC 9162 proofs that verify against the
signed root, 400s with a code for bad parameters, entries for the audit administrator only,
and the periodic checkpoint task of the app's lifespan."""

from __future__ import annotations

import base64
import time

import pytest
from fastapi.testclient import TestClient

from netid.audit.service import tree_hasher
from netid.config import Settings
from netid.container import Container
from netid.crypto.merkle import verify_consistency, verify_inclusion
from netid.crypto.notes import open_checkpoint
from netid.web.app import create_app
from tests.admins.support import admin_headers
from tests.audit.support import stored, write
from tests.conftest import Backend

pytestmark = pytest.mark.db


@pytest.fixture
def http(container: Container) -> TestClient:
    write(container, 13)
    with container.transaction() as session:
        container.audit(session).cut_checkpoint()
    return TestClient(create_app(container))


def _b64(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def test_proofs_verify_against_the_signed_checkpoint(
    http: TestClient, container: Container
) -> None:
    response = http.get("/v1/log/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    with container.transaction(write=False) as session:
        verifiers = container.log_verifiers(session)
    checkpoint, _ = open_checkpoint(response.text, verifiers)
    assert checkpoint.size == 13
    hasher = tree_hasher("sm3")
    for index in range(13):
        body = http.get(f"/v1/log/proof/inclusion?index={index}&tree_size=13").json()
        assert body["index"] == index and body["tree_size"] == 13
        leaf = base64.b64decode(body["leaf_hash"])
        assert verify_inclusion(hasher, index, 13, leaf, _b64(body["hashes"]), checkpoint.root)
    rows, _ = stored(container)
    small_root = tree_hasher("sm3").node(rows[0].leaf_hash, rows[1].leaf_hash)
    body = http.get("/v1/log/proof/consistency?first=2&second=13").json()
    assert (body["first"], body["second"]) == (2, 13)
    assert verify_consistency(hasher, 2, 13, _b64(body["hashes"]), small_root, checkpoint.root)


@pytest.mark.parametrize(
    "query",
    [
        "/v1/log/proof/inclusion",
        "/v1/log/proof/inclusion?index=0",
        "/v1/log/proof/inclusion?index=a&tree_size=3",
        "/v1/log/proof/inclusion?index=-1&tree_size=3",
        "/v1/log/proof/inclusion?index=3&tree_size=3",
        "/v1/log/proof/inclusion?index=0&tree_size=14",
        "/v1/log/proof/inclusion?index=0&tree_size=99999999999999999999999",
        "/v1/log/proof/inclusion?index=0&tree_size=%EF%BC%93",
        "/v1/log/proof/consistency?first=0&second=3",
        "/v1/log/proof/consistency?first=5&second=3",
        "/v1/log/proof/consistency?first=1&second=14",
        "/v1/log/proof/consistency?first=1.0&second=2",
    ],
)
def test_bad_parameters_are_400_with_a_code(http: TestClient, query: str) -> None:
    response = http.get(query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_proof_request"


def test_no_checkpoint_yet_is_404(container: Container) -> None:
    response = TestClient(create_app(container)).get("/v1/log/checkpoint")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_checkpoint"


def test_entries_are_for_the_audit_administrator_only(
    http: TestClient, container: Container
) -> None:
    assert http.get("/v1/log/entries/3").status_code == 401
    for role in ("system_admin", "security_admin"):
        assert (
            http.get("/v1/log/entries/3", headers=admin_headers(container, role)).status_code == 403
        )
    headers = admin_headers(container, "audit_admin")
    before = len(stored(container)[0])
    response = http.get("/v1/log/entries/3", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["index"] == 3 and body["entry"]["index"] == 3
    assert body["entry"]["action"] == "test.write"
    rows, _ = stored(container)
    assert rows[-1].action == "log.entry_read"  # the read is itself an entry
    assert len(rows) > before
    assert http.get("/v1/log/entries/999", headers=headers).status_code == 404
    assert http.get("/v1/log/entries/x", headers=headers).status_code == 400


def test_the_app_cuts_checkpoints_by_itself(settings: Settings, db: Backend) -> None:
    container = Container(
        settings.model_copy(update={"log_checkpoint_seconds": 0.2}), engine=db.engine
    )
    with container.transaction() as session:
        container.keyring_service(session).initialise()
    write(container, 4)
    with TestClient(create_app(container)) as http:
        deadline = time.monotonic() + 10
        while http.get("/v1/log/checkpoint").status_code == 404:
            assert time.monotonic() < deadline, "no checkpoint was cut"
            time.sleep(0.05)
        write(container, 2)
        while http.get("/v1/log/checkpoint").text.split("\n")[1] != "6":
            assert time.monotonic() < deadline, "the grown tree was not checkpointed"
            time.sleep(0.05)
