"""TOTP: the RFC known answers, the ±1-step window, and the once-only rule."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pyotp
import pytest

from netid.admins import totp
from netid.admins.totp import TotpCheck

VECTORS = json.loads((Path(__file__).parent / "vectors" / "totp.json").read_text())
SECRET = VECTORS["secret_ascii"].encode("ascii")
T = dt.datetime(2026, 12, 2, 3, 0, 5, tzinfo=dt.UTC)  # 5 s into a time step


def test_hotp_known_answers() -> None:
    assert [totp.code_at(SECRET, n) for n in range(10)] == VECTORS["hotp6"]


@pytest.mark.parametrize("row", VECTORS["totp8_sha1"])
def test_totp_known_answers(row: dict[str, int | str]) -> None:
    at = dt.datetime.fromtimestamp(int(row["unix_time"]), dt.UTC)
    assert totp.time_step(at) == row["step"]
    code = str(row["code"])
    # 8 digits as the RFC prints them; ours (6 digits) is the same truncation mod 10**6
    eight = pyotp.HOTP(totp.b32(SECRET), digits=8, digest=hashlib.sha1).at(int(row["step"]))
    assert eight == code
    assert totp.code_at(SECRET, int(row["step"])) == code[-6:]
    assert totp.check(SECRET, code[-6:], at, None) == (TotpCheck.OK, row["step"])


def test_window_is_one_step_either_side() -> None:
    now = totp.time_step(T)
    for offset in (-1, 0, 1):
        assert totp.check(SECRET, totp.code_at(SECRET, now + offset), T, None) == (
            TotpCheck.OK,
            now + offset,
        )
    for offset in (-3, -2, 2, 3):
        result, _ = totp.check(SECRET, totp.code_at(SECRET, now + offset), T, None)
        assert result is TotpCheck.WRONG


def test_a_code_is_accepted_once_and_older_steps_never_after_a_newer_one() -> None:
    now = totp.time_step(T)
    current = totp.code_at(SECRET, now)
    assert totp.check(SECRET, current, T, now - 5) == (TotpCheck.OK, now)
    assert totp.check(SECRET, current, T, now) == (TotpCheck.REPLAYED, None)
    previous = totp.code_at(SECRET, now - 1)
    assert totp.check(SECRET, previous, T, now) == (TotpCheck.REPLAYED, None)
    # still refused 29 s later, within the same step
    assert totp.check(SECRET, current, T + dt.timedelta(seconds=24), now)[0] is TotpCheck.REPLAYED
    following = totp.code_at(SECRET, now + 1)
    assert totp.check(SECRET, following, T, now) == (TotpCheck.OK, now + 1)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12345a", " 123456", "１２３４５６"])
def test_malformed_codes_are_wrong(code: str) -> None:
    assert totp.check(SECRET, code, T, None) == (TotpCheck.WRONG, None)


def test_provisioning_uri_names_the_rfc_parameters() -> None:
    secret = totp.new_secret()
    assert len(secret) == 20
    uri = totp.provisioning_uri(secret, "alice")
    assert uri.startswith("otpauth://totp/netid:alice?")
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.interval == 30 and parsed.digits == 6
    assert parsed.at(T) == totp.code_at(secret, totp.time_step(T))
