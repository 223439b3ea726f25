"""`netid documents check` (the Typer sub-app, tested on its own)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from netid.cli.documents import app

runner = CliRunner()


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_all_valid_exit_0() -> None:
    result = runner.invoke(app, ["check", "11010519491231002X", "110105491231002", "H12345678"])
    assert result.exit_code == 0, result.output
    lines = _lines(result.output)
    assert len(lines) == 3
    assert lines[0] == {
        "valid": True,
        "type": "resident_id",
        "normalized": "11010519491231002X",
        "birth_date": "1949-12-31",
        "sex": "F",
        "region_code": "110105",
    }
    assert lines[1]["warnings"] == ["legacy_15_digit"]
    assert lines[2]["type"] == "travel_permit_hkmo"
    # compact JSON, one object per line
    assert result.output.splitlines()[0].startswith('{"valid":true,')


def test_any_invalid_exit_1_and_every_number_reported() -> None:
    result = runner.invoke(app, ["check", "110105194912310021", "11010519491231002X"])
    assert result.exit_code == 1
    lines = _lines(result.output)
    assert [line["valid"] for line in lines] == [False, True]
    assert lines[0]["rule"] == "check_digit"
    assert "110105194912310021" not in result.output


def test_uscc_flag() -> None:
    result = runner.invoke(app, ["check", "--uscc", "91350100M000100Y43", "91110000600037341L"])
    assert result.exit_code == 0, result.output
    assert [line["type"] for line in _lines(result.output)] == ["uscc", "uscc"]
    bad = runner.invoke(app, ["check", "--uscc", "91110000600037341M"])
    assert bad.exit_code == 1
    assert _lines(bad.output) == [
        {
            "valid": False,
            "type": "uscc",
            "rule": "check_digit",
            "message": "The check character does not match (GB 32100-2015).",
        }
    ]


def test_type_option() -> None:
    result = runner.invoke(app, ["check", "--type", "passport", "11010519491231002X"])
    assert result.exit_code == 1
    assert _lines(result.output)[0]["rule"] == "type_mismatch"
    ok = runner.invoke(app, ["check", "--type", "passport", "EA1234567"])
    assert ok.exit_code == 0


def test_full_width_argument() -> None:
    result = runner.invoke(app, ["check", "１１０１０５１９４９１２３１００２Ｘ"])
    assert result.exit_code == 0
    assert _lines(result.output)[0]["normalized"] == "11010519491231002X"


def test_usage_errors() -> None:
    assert runner.invoke(app, ["check"]).exit_code == 2
    assert runner.invoke(app, ["check", "--uscc", "--type", "passport", "E12345678"]).exit_code == 2
