"""Errors of :mod:`netid.policy`. Messages name the rule or the catalogue path, never a person."""

from __future__ import annotations

from collections.abc import Iterable

from netid.core.errors import ConfigurationError, Forbidden, InvalidInput


class CatalogueInvalid(ConfigurationError):
    """The policy catalogue file is missing, not JSON, or breaks a rule. ``details["path"]`` is
    the place in the document (``industries.hotel_lodging.purposes.hotel_check_in.claims``)."""

    code = "policy_catalogue_invalid"
    default_message = "The policy catalogue is not valid."

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message, details={"path": path})
        self.path = path


class UnknownPricePlan(InvalidInput):
    """A price plan that the catalogue does not define. Never treated as free."""

    code = "unknown_price_plan"
    default_message = "No such price plan."

    def __init__(self, plan: str) -> None:
        super().__init__(details={"plan": plan[:64]})


class UnknownVerificationType(InvalidInput):
    code = "unknown_verification_type"
    default_message = "No such verification type."

    def __init__(self, verification_type: str) -> None:
        super().__init__(details={"type": verification_type[:64]})


class PolicyDenied(Forbidden):
    """The request asks for more than the institution's industry policy allows
    (issue 3 §3: ``policy_denied``). ``details`` carry the stable reason and the claims refused."""

    code = "policy_denied"
    default_message = "The industry policy does not allow this request."

    def __init__(self, reason: str, *, denied_claims: Iterable[str] = ()) -> None:
        details: dict[str, object] = {"reason": reason}
        denied = sorted(denied_claims)
        if denied:
            details["denied_claims"] = denied
        super().__init__(details=details)
        self.reason = reason


class PurposeNotRegistered(PolicyDenied):
    """The institution did not register this purpose when it applied (issue 3 §7)."""

    code = "purpose_not_registered"
    default_message = "The institution has not registered this purpose."

    def __init__(self) -> None:
        super().__init__("purpose_not_registered")
