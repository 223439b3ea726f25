"""Known-answer decisions (tests/policy/vectors/decisions.json) against the shipped catalogue."""

from __future__ import annotations

from typing import Any

import pytest

from netid.policy import (
    DENIAL_REASONS,
    PolicyDenied,
    PurposeNotRegistered,
    VerificationAsk,
    decide,
    default_catalogue,
    raise_if_denied,
)

from .support import load_vectors

DATA: dict[str, Any] = load_vectors("decisions.json")
CASES: list[dict[str, Any]] = DATA["cases"]


def _ask(raw: dict[str, Any]) -> VerificationAsk:
    return VerificationAsk(
        purpose=raw["purpose"],
        verification_type=raw["type"],
        claims=frozenset(raw["claims"]),
        age_threshold=raw["threshold"],
    )


def test_vectors_are_for_the_shipped_version() -> None:
    assert default_catalogue().version == DATA["catalogue_version"]
    assert len(CASES) >= 30
    # every reason appears in at least one vector, as do both outcomes
    reasons = {case["expected"]["reason"] for case in CASES}
    assert reasons == {None, *DENIAL_REASONS}


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c["name"]))
def test_decision_vector(case: dict[str, Any]) -> None:
    policy = default_catalogue().policy(case["industry"])
    decision = decide(policy, _ask(case["ask"]), registered_purposes=frozenset(case["registered"]))
    expected = case["expected"]
    assert decision.allowed is expected["allowed"]
    assert decision.reason == expected["reason"]
    assert decision.denied_claims == frozenset(expected["denied_claims"])
    assert decision.consent_required == frozenset(expected["consent_required"])
    assert decision.reveal_mismatch_reason is expected["reveal_mismatch_reason"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c["name"]))
def test_denials_become_public_errors(case: dict[str, Any]) -> None:
    policy = default_catalogue().policy(case["industry"])
    decision = decide(policy, _ask(case["ask"]), registered_purposes=frozenset(case["registered"]))
    if decision.allowed:
        raise_if_denied(decision)  # no error
        return
    with pytest.raises(PolicyDenied) as caught:
        raise_if_denied(decision)
    error = caught.value
    if decision.reason == "purpose_not_registered":
        assert isinstance(error, PurposeNotRegistered)
        assert error.code == "purpose_not_registered"
    else:
        assert error.code == "policy_denied"
    assert error.details["reason"] == decision.reason
    assert error.details.get("denied_claims", []) == sorted(decision.denied_claims)
