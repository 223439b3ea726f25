"""Every failure of ``netid`` ends as one JSON line on stderr and a documented exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from netid.cli import main as cli_main
from netid.core.errors import NotFound
from tests.conftest import Backend


def run_netid(
    tmp_path: Path, *args: str, expect: int, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
    environ.update(NETID_DATA_DIR=str(tmp_path / "var"), **env)
    result = subprocess.run(
        [sys.executable, "-m", "netid.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == expect, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    return result


def error_of(stderr: str) -> dict[str, Any]:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    body = json.loads(lines[0])
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert error["code"] and error["message"]
    return error


def test_unwritable_export_path_is_a_file_error(tmp_path: Path) -> None:
    run_netid(tmp_path, "demo", "setup", "--people", "0", expect=0)
    target = "/nonexistent-dir/x.jsonl"
    result = run_netid(tmp_path, "registry", "export", "--out", target, expect=74)
    error = error_of(result.stderr)
    assert error["code"] == "file_error"
    assert "No such file or directory" in error["message"]
    assert "nonexistent-dir" not in result.stderr


def test_invalid_setting_is_a_configuration_error(tmp_path: Path) -> None:
    result = run_netid(tmp_path, "registry", "count", expect=78, NETID_PROFILE="prod")
    error = error_of(result.stderr)
    assert error["code"] == "configuration_error"
    assert "profile" in error["message"]
    assert "prod'" not in result.stderr and '"prod' not in result.stderr


def test_malformed_database_url_is_a_configuration_error(tmp_path: Path) -> None:
    result = run_netid(tmp_path, "db", "upgrade", expect=78, NETID_DATABASE_URL="garbage")
    error = error_of(result.stderr)
    assert error["code"] == "configuration_error"
    assert "garbage" not in result.stderr


# -- in process: the table itself, through main() with a stand-in command ---------------------


def raising(exc: BaseException) -> Callable[[], None]:
    def command() -> None:
        raise exc

    return command


def run_main(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: Callable[[], None],
) -> tuple[int, str]:
    stand_in = typer.Typer(pretty_exceptions_enable=False)
    stand_in.command("boom")(command)
    stand_in.command("other")(lambda: None)  # two commands: "boom" is a subcommand
    monkeypatch.setattr(cli_main, "app", stand_in)
    monkeypatch.setattr(sys, "argv", ["netid", "boom"])
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main()
    code = exit_info.value.code
    assert isinstance(code, int)
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    return code, stderr


@pytest.mark.parametrize(
    ("exc", "exit_code", "code"),
    [
        (NotFound(), 66, "not_found"),
        (FileExistsError(17, "File exists", "/home/张三/x"), 74, "file_error"),
        (PermissionError(13, "Permission denied", "/home/张三/x"), 74, "file_error"),
        (IsADirectoryError(21, "Is a directory", "/home/张三"), 74, "file_error"),
        (OSError("/home/张三/x"), 74, "file_error"),
        (OperationalError("SELECT 1", {"a": "张三"}, Exception("张三")), 69, "unavailable"),
        (IntegrityError("INSERT", {"a": "张三"}, Exception("张三")), 75, "conflict"),
        (DBAPIError("SELECT", {"a": "张三"}, Exception("张三")), 70, "internal_error"),
        (RuntimeError("张三"), 70, "internal_error"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_every_failure_is_one_json_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    exc: BaseException,
    exit_code: int,
    code: str,
) -> None:
    status, stderr = run_main(monkeypatch, capsys, raising(exc))
    assert status == exit_code, stderr
    assert error_of(stderr)["code"] == code
    assert "张三" not in stderr


def test_exit_and_system_exit_pass_through(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(monkeypatch, capsys, raising(typer.Exit(3))) == (3, "")
    assert run_main(monkeypatch, capsys, raising(SystemExit(4))) == (4, "")
    assert run_main(monkeypatch, capsys, raising(typer.Exit(130))) == (130, "")
    assert run_main(monkeypatch, capsys, lambda: None) == (0, "")


@pytest.mark.db
def test_database_errors_hide_sql_parameters(db: Backend) -> None:
    with pytest.raises(DBAPIError) as raised, db.engine.connect() as conn:
        conn.execute(text("SELECT secret FROM no_such_table WHERE x = :v"), {"v": "张三-11010519"})
    assert "张三" not in str(raised.value) and "11010519" not in str(raised.value)
