"""``netid verify-presentation`` with files and standard input (no server needed)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netid.cli.main import app
from netid.credentials import sdjwt, status_list
from netid.crypto import jose_keys
from tests.credentials import support as s

AUDIENCE = "https://hotel.example.test"
NONCE = "n-cli-1"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    now = int(time.time())  # the command checks against the system clock
    credential = sdjwt.issue(
        issuer_key=s.ISSUER_KEY,
        kid=s.ISSUER_KID,
        payload=s.plain_payload(iat=now - 10, nbf=now - 10, exp=now + 3600),
        disclosable=s.DISCLOSABLE,
    )
    text = sdjwt.present(
        credential,
        disclose=["age_over_18"],
        holder_key=s.HOLDER_KEY,
        audience=AUDIENCE,
        nonce=NONCE,
        issued_at=now,
    )
    statuses = [status_list.VALID] * 8192
    revoked = list(statuses)
    revoked[4242] = status_list.INVALID
    paths = {
        "presentation": tmp_path / "presentation.txt",
        "jwks": tmp_path / "jwks.json",
        "status": tmp_path / "status.jwt",
        "revoked": tmp_path / "revoked.jwt",
    }
    paths["presentation"].write_text(text + "\n")
    paths["jwks"].write_text(
        json.dumps({"keys": [jose_keys.public_jwk(s.ISSUER_KEY, s.ISSUER_KID)]})
    )
    for name, values in (("status", statuses), ("revoked", revoked)):
        paths[name].write_text(
            status_list.sign_token(
                s.ISSUER_KEY,
                s.ISSUER_KID,
                uri=s.STATUS_URI,
                iat=now - 5,
                exp=now + 600,
                ttl=300,
                lst=status_list.encode(values, 2),
                bits=2,
            )
        )
    return paths


def _args(
    files: dict[str, Path], *, status: str = "status", nonce: str = NONCE, source: str | None = None
) -> list[str]:
    return [
        "verify-presentation",
        source or str(files["presentation"]),
        "--nonce",
        nonce,
        "--audience",
        AUDIENCE,
        "--jwks",
        str(files["jwks"]),
        "--status-list",
        str(files[status]),
    ]


def test_prints_the_disclosed_claims(files: dict[str, Path]) -> None:
    result = CliRunner().invoke(app, _args(files))
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["disclosed"] == {"age_over_18": True}
    assert body["issuer"] == s.ISSUER
    assert "cnf" not in body and "jti" not in json.dumps(body)


def test_reads_standard_input(files: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        app, _args(files, source="-"), input=files["presentation"].read_text()
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["disclosed"] == {"age_over_18": True}


def test_revoked_credential_exits_with_its_code(files: dict[str, Path]) -> None:
    result = CliRunner().invoke(app, _args(files, status="revoked"))
    assert result.exit_code == 77
    assert json.loads(result.stderr)["error"]["code"] == "credential_revoked"
    assert result.stdout == ""


def test_wrong_nonce(files: dict[str, Path]) -> None:
    result = CliRunner().invoke(app, _args(files, nonce="n-other"))
    assert result.exit_code == 77
    assert json.loads(result.stderr)["error"]["code"] == "nonce_mismatch"


def test_garbage_input(files: dict[str, Path], tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"\xff\xfe not a presentation")
    result = CliRunner().invoke(app, _args(files, source=str(garbage)))
    assert result.exit_code == 65
    assert json.loads(result.stderr)["error"]["code"] == "credential_malformed"


def test_missing_file(files: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, _args(files, source=str(tmp_path / "none.txt")))
    assert result.exit_code == 74
    assert json.loads(result.stderr)["error"]["code"] == "file_error"


def test_needs_jwks_or_server(files: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        app,
        [
            "verify-presentation",
            str(files["presentation"]),
            "--nonce",
            NONCE,
            "--audience",
            AUDIENCE,
        ],
    )
    assert result.exit_code == 2
    assert "--server" in result.output


@pytest.mark.parametrize("nonce", ["", "  "])
def test_an_empty_nonce_is_a_usage_error_not_a_traceback(
    files: dict[str, Path], nonce: str
) -> None:
    result = CliRunner().invoke(app, _args(files, nonce=nonce))
    assert result.exit_code == 2, (result.output, result.exception)
    assert "--nonce" in result.output
