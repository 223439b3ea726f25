"""``netid admin create | list | disable`` through the real CLI on every backend, then a real
login over HTTP with the printed provisioning URI."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from netid.container import Container
from netid.web.app import create_app
from tests.admins.support import PASSWORD, code, totp_secret

pytestmark = pytest.mark.db


@pytest.fixture
def cli(container: Container, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    import netid.cli.main as main

    monkeypatch.setattr(main, "_container", container)
    return CliRunner()


def run(cli: CliRunner, args: list[str], stdin: str | None = None) -> dict[str, object]:
    import netid.cli.main as main

    result = cli.invoke(main.app, args, input=stdin)
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def test_create_list_disable_and_log_in(cli: CliRunner, container: Container) -> None:
    import netid.cli.main as main

    created = run(
        cli,
        ["admin", "create", "--role", "security_admin", "--username", "sec1", "--password-stdin"],
        stdin=PASSWORD + "\n",
    )
    assert created["role"] == "security_admin" and created["enabled"] is True
    uri = str(created["totp_provisioning_uri"])
    assert uri.startswith("otpauth://totp/netid:sec1?")
    assert PASSWORD not in json.dumps(created)

    # the password from the hidden prompt, asked twice
    prompted = cli.invoke(
        main.app,
        ["admin", "create", "--role", "audit_admin", "--username", "aud1"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert prompted.exit_code == 0, prompted.output
    assert PASSWORD not in prompted.stdout

    listed = cli.invoke(main.app, ["admin", "list"])
    accounts = json.loads(listed.stdout)
    assert [(a["username"], a["role"]) for a in accounts] == [
        ("sec1", "security_admin"),
        ("aud1", "audit_admin"),
    ]
    assert "otpauth" not in listed.stdout and "argon2" not in listed.stdout

    http = TestClient(create_app(container))
    body = {"username": "sec1", "password": PASSWORD}
    now = container.clock.now()
    login = http.post("/v1/admin/login", json={**body, "totp": code(totp_secret(uri), now)})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert http.get("/v1/admin/me", headers=headers).json()["username"] == "sec1"

    disabled = run(cli, ["admin", "disable", "sec1"])
    assert disabled["enabled"] is False
    assert http.get("/v1/admin/me", headers=headers).status_code == 401  # at once


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["--role", "root", "--username", "x1x", "--password-stdin"], PASSWORD + "\n"),
        (["--role", "reviewer", "--username", "X", "--password-stdin"], PASSWORD + "\n"),
        (["--role", "reviewer", "--username", "rev1", "--password-stdin"], "short\n"),
        (["--role", "reviewer", "--username", "rev1", "--password-stdin"], ""),
    ],
)
def test_create_refuses_bad_input(cli: CliRunner, args: list[str], stdin: str) -> None:
    import netid.cli.main as main

    result = cli.invoke(main.app, ["admin", "create", *args], input=stdin)
    assert result.exit_code != 0
    assert "otpauth" not in result.stdout


def test_there_is_no_password_option_and_no_token_command(cli: CliRunner) -> None:
    import netid.cli.main as main

    with_password = cli.invoke(
        main.app,
        ["admin", "create", "--role", "reviewer", "--username", "rev2", "--password", PASSWORD],
    )
    assert with_password.exit_code == 2  # usage error: no such option
    assert cli.invoke(main.app, ["admin", "token", "--role", "reviewer"]).exit_code == 2
    assert cli.invoke(main.app, ["admin", "disable", "nobody"]).exit_code != 0
