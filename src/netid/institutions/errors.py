"""Errors of institution onboarding, status and quotas. Messages carry no personal data."""

from __future__ import annotations

from netid.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests


class InstitutionNotFound(NotFound):
    code = "institution_not_found"
    default_message = "No such institution."


class InvalidTransition(Conflict):
    """The status change is not in the transition table (``netid.institutions.models``)."""

    code = "invalid_transition"
    default_message = "This status change is not allowed from the institution's current status."


class InvalidUscc(InvalidInput):
    code = "invalid_uscc"
    default_message = "The unified social credit code is not valid."


class IndustryNotRegistered(InvalidInput):
    code = "industry_not_registered"
    default_message = "The industry is not in the policy catalogue."


class PurposeNotRegistered(InvalidInput):
    code = "purpose_not_registered"
    default_message = "A purpose is not in the purpose catalogue."


class InvalidPublicKey(InvalidInput):
    code = "invalid_public_key"
    default_message = "A public key is not a valid public JWK of a supported type."


class AgreementNotAccepted(InvalidInput):
    code = "agreement_not_accepted"
    default_message = "The confidentiality agreement must be accepted."


class InvalidWebsite(InvalidInput):
    code = "invalid_website"
    default_message = "The website must be an https URL with a host name."


class PricePlanUnknown(InvalidInput):
    code = "price_plan_unknown"
    default_message = "The price plan is not in the catalogue."


class InvalidQuota(InvalidInput):
    code = "invalid_quota"
    default_message = "A quota must name a verification type and a non-negative monthly limit."


class InstitutionNotActive(Forbidden):
    """Pending (not yet approved) or rejected."""

    code = "institution_not_active"
    default_message = "The institution is not active."


class InstitutionSuspended(Forbidden):
    code = "institution_suspended"
    default_message = "The institution is suspended."


class InstitutionFrozen(Forbidden):
    code = "institution_frozen"
    default_message = "The institution is frozen."


class InstitutionRevoked(Forbidden):
    code = "institution_revoked"
    default_message = "The institution's access has been revoked."


class QuotaExceeded(TooManyRequests):
    """``details["reset_at"]``: the first instant of the next month in China time, in UTC."""

    code = "quota_exceeded"
    default_message = "The monthly quota for this verification type is spent."
