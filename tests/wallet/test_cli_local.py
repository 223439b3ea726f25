"""``netid wallet`` commands that need no server: init, permissions, errors, output forms."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from netid.cli.main import app
from netid.wallet import state

runner = CliRunner()


def wallet(directory: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["wallet", "--wallet", str(directory), *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def test_init_creates_a_private_wallet(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    code, out, _ = wallet(directory, "--json", "init", "--server", "http://127.0.0.1:9/")
    assert code == 0, out
    answer = json.loads(out)
    assert answer["server"] == "http://127.0.0.1:9" and len(answer["device_kid"]) == 43
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / state.KEY_FILE).stat().st_mode) == 0o600
    # A second init is refused: the device key is never replaced.
    code, out, _ = wallet(directory, "init", "--server", "http://127.0.0.1:9", "--json")
    assert code == 1 and json.loads(out)["error"]["code"] == "wallet_exists"


def test_the_environment_names_the_wallet(tmp_path: Path) -> None:
    directory = tmp_path / "from-env"
    result = runner.invoke(
        app,
        ["wallet", "init", "--server", "http://127.0.0.1:9"],
        env={state.WALLET_ENV: str(directory)},
    )
    assert result.exit_code == 0, result.output
    assert "Wallet ready for http://127.0.0.1:9" in result.stdout
    assert (directory / state.WALLET_FILE).exists()


def test_a_bad_server_url_is_refused(tmp_path: Path) -> None:
    code, _, err = wallet(tmp_path / "w", "init", "--server", "ftp://example")
    assert code == 1 and "error [invalid_input]" in err
    assert not (tmp_path / "w").exists()


def test_a_loose_wallet_directory_is_refused_with_its_code(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    assert wallet(directory, "init", "--server", "http://127.0.0.1:9")[0] == 0
    directory.chmod(0o750)
    code, _, err = wallet(directory, "status")
    assert code == 1 and err.startswith("error [wallet_insecure]")
    code, out, _ = wallet(directory, "status", "--json")
    assert code == 1 and json.loads(out)["error"]["code"] == "wallet_insecure"


def test_status_before_enrolment(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    wallet(directory, "init", "--server", "http://127.0.0.1:9")
    code, out, _ = wallet(directory, "status", "--json")
    assert code == 0
    answer = json.loads(out)
    assert answer["enrolled"] is False and answer["network_id"] is None
    code, out, _ = wallet(directory, "status")
    assert code == 0 and "not enrolled" in out


def test_commands_that_need_more_say_what(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    assert wallet(directory, "--json", "status")[0] == 1  # no wallet yet
    wallet(directory, "init", "--server", "http://127.0.0.1:9")
    for args, expected in [
        (["enrol", "otp", "--code-stdin"], "wallet_no_enrolment"),
        (["enrol", "finish", "--pin-stdin"], "wallet_no_enrolment"),
        (["login", "--pin-stdin"], "wallet_not_enrolled"),
        (["qr", "--once", "--text"], "wallet_not_enrolled"),
        (["present", "--claims", "name", "--nonce", "n", "--audience", "a"], "wallet_not_enrolled"),
        (["requests"], "wallet_not_logged_in"),
        (["deregister", "--confirm", "0000-0000-0000-0000"], "wallet_not_enrolled"),
    ]:
        code, out, _ = wallet(directory, "--json", *args, input="258036\n")
        assert code == 1, args
        assert json.loads(out)["error"]["code"] == expected, args


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    chip = tmp_path / "chip.json"
    chip.write_text('{"format": "netid-chip/1"}')
    wallet(directory, "init", "--server", "http://127.0.0.1:9")  # port 9: discard, closed
    code, out, _ = wallet(directory, "--json", "enrol", "start", "--chip", str(chip))
    assert code == 1 and json.loads(out)["error"]["code"] == "server_unreachable"


def test_an_empty_pin_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    wallet(directory, "init", "--server", "http://127.0.0.1:9")
    state.WalletDir(directory).update_config(
        enrolment=state.Enrolment("e" * 22, "2026-12-02T10:00:00+00:00", "none")
    )
    code, out, _ = wallet(directory, "--json", "enrol", "finish", "--pin-stdin", input="\n")
    assert code == 1 and json.loads(out)["error"]["code"] == "pin_input_invalid"


def test_the_pin_is_not_an_option(tmp_path: Path) -> None:
    code, _, _ = wallet(tmp_path / "w", "login", "--pin", "123456")
    assert code == 2  # usage error: there is no way to pass a PIN in argv


def test_codes_are_not_arguments_either(tmp_path: Path) -> None:
    # A one-time code in argv shows in ``ps`` to every local user while it is still valid.
    assert wallet(tmp_path / "w", "enrol", "otp", "123456")[0] == 2
    assert wallet(tmp_path / "w", "login", "--pin-stdin", "--otp-code", "123456")[0] == 2


def test_an_empty_code_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    wallet(directory, "init", "--server", "http://127.0.0.1:9")  # nothing listens there
    state.WalletDir(directory).update_config(
        enrolment=state.Enrolment("e" * 22, "2026-12-02T10:00:00+00:00", "none")
    )
    code, out, _ = wallet(directory, "--json", "enrol", "otp", "--code-stdin", input="\n")
    assert code == 1 and json.loads(out)["error"]["code"] == "invalid_input"
