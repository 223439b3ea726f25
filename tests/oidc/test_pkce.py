"""PKCE (RFC 7636), S256 only: the Appendix B known answer and the refusals."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from netid.oidc.pkce import PkceError, check_challenge, is_verifier, s256_challenge, verify_s256

B = json.loads((Path(__file__).parent / "vectors" / "rfc7636_appendix_b.json").read_text())


def _independent_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def test_rfc7636_appendix_b() -> None:
    octets = bytes(B["verifier_octets"])
    assert base64.urlsafe_b64encode(octets).decode().rstrip("=") == B["code_verifier"]
    assert s256_challenge(B["code_verifier"]) == B["code_challenge"]
    assert verify_s256(B["code_verifier"], B["code_challenge"])
    assert check_challenge(B["code_challenge"], B["code_challenge_method"]) == B["code_challenge"]


@pytest.mark.parametrize(
    "verifier",
    ["a" * 43, "Z" * 128, "0123456789-._~" * 4, "A-B.C_D~" * 6],
)
def test_verifier_grammar_accepts(verifier: str) -> None:
    assert is_verifier(verifier)
    challenge = s256_challenge(verifier)
    assert challenge == _independent_s256(verifier)
    assert verify_s256(verifier, challenge)
    assert check_challenge(challenge, "S256") == challenge


@pytest.mark.parametrize(
    "verifier",
    [
        "a" * 42,
        "a" * 129,
        "",
        "a" * 42 + "+",
        "a" * 42 + "/",
        "a" * 42 + "=",
        "a" * 42 + " ",
        "a" * 42 + "é",
        "a" * 43 + "\n",
    ],
)
def test_verifier_grammar_refuses(verifier: str) -> None:
    assert not is_verifier(verifier)
    with pytest.raises(PkceError) as refused:
        s256_challenge(verifier)
    assert refused.value.reason == "malformed"
    # Even a challenge computed from it does not make it match.
    assert not verify_s256(verifier, _independent_s256(verifier))


def test_verify_s256_refuses_mismatches() -> None:
    verifier, challenge = B["code_verifier"], B["code_challenge"]
    assert not verify_s256(verifier[:-1] + "l", challenge)
    assert not verify_s256(verifier, challenge[:-1] + "N")
    assert not verify_s256(verifier, challenge + "=")
    assert not verify_s256(verifier, verifier)  # plain: the verifier as its own challenge
    assert not verify_s256(verifier, "")
    assert not verify_s256(verifier, "É" * 43)
    assert not verify_s256(verifier, None)  # type: ignore[arg-type]
    assert not verify_s256(None, challenge)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("challenge", "method", "reason"),
    [
        (None, "S256", "missing"),
        ("", "S256", "missing"),
        (None, None, "missing"),
        (B["code_challenge"], None, "plain_not_allowed"),  # §4.3: absent means plain
        (B["code_challenge"], "plain", "plain_not_allowed"),
        (B["code_verifier"], "plain", "plain_not_allowed"),
        (B["code_challenge"], "s256", "unsupported_method"),  # names are case-sensitive
        (B["code_challenge"], "S512", "unsupported_method"),
        (B["code_challenge"], "", "unsupported_method"),
        (B["code_challenge"][:-1], "S256", "malformed"),
        (B["code_challenge"] + "A", "S256", "malformed"),
        (B["code_challenge"] + "=", "S256", "malformed"),
        (B["code_challenge"][:-1] + "N", "S256", "malformed"),  # non-zero trailing bits
        ("+" * 43, "S256", "malformed"),
        ("a" * 128, "S256", "malformed"),
    ],
)
def test_check_challenge_refusals(challenge: str | None, method: str | None, reason: str) -> None:
    with pytest.raises(PkceError) as refused:
        check_challenge(challenge, method)
    assert refused.value.reason == reason
    assert isinstance(refused.value, ValueError)
    assert str(refused.value) == reason  # the message never repeats the parameters
