"""Refusals of enrolment, credentials and wallet sessions (docs/decisions/0005 "Error codes").

``chip_signature_invalid``, ``chip_expired`` and ``chip_stale`` are the classes of
:mod:`netid.documents.errors` (the chip's own package); the rest live here. Messages never
carry personal data, codes or PINs.
"""

from __future__ import annotations

from netid.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NetidError,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from netid.documents.errors import ChipExpired, ChipMalformed, ChipSignatureInvalid, ChipStale

__all__ = [
    "AccountDeregistered",
    "ChipExpired",
    "ChipMalformed",
    "ChipSignatureInvalid",
    "ChipStale",
    "CredentialExpired",
    "CredentialRevoked",
    "DeviceKeyInvalid",
    "EnrolmentDenied",
    "EnrolmentExpired",
    "EnrolmentNotFound",
    "FaceMismatch",
    "FaceReferenceMissing",
    "GuardianNotLinked",
    "GuardianRequired",
    "LivenessInvalid",
    "LoginFactorsInvalid",
    "NoPhoneOnRecord",
    "OtpExhausted",
    "OtpExpired",
    "OtpInvalid",
    "PinInvalid",
    "PinLocked",
    "PinTooWeak",
    "ProofInvalid",
    "Refusal",
    "SessionInvalid",
    "StatusListNotFound",
    "StepOutOfOrder",
]


class Refusal(Exception):
    """Carries a refusal whose traces must be committed: the access record of the failure and
    the counters it moved (OTP tries, failed PINs). The request or command that owns the
    transaction commits, then raises ``error``. The service wrote nothing else before raising.
    """

    def __init__(self, error: NetidError) -> None:
        super().__init__(error.code)
        self.error = error


class EnrolmentNotFound(NotFound):
    code = "enrolment_not_found"
    default_message = "No such enrolment."


class EnrolmentExpired(Conflict):
    code = "enrolment_expired"
    default_message = "The enrolment has expired; start again with a new chip reading."


class StepOutOfOrder(Conflict):
    code = "enrolment_step_out_of_order"
    default_message = "This enrolment step is not the next one."


class EnrolmentDenied(Forbidden):
    """A guardian refused the enrolment of a 14–17-year-old (not in the contract's list:
    a denied enrolment is final and says so)."""

    code = "enrolment_denied"
    default_message = "A guardian refused this enrolment."


class LivenessInvalid(Unauthenticated):
    code = "liveness_invalid"
    default_message = "The liveness result is not valid for this enrolment and device."


class FaceMismatch(Forbidden):
    code = "face_mismatch"
    default_message = "The face does not match."


class OtpInvalid(Unauthenticated):
    """Wrong code; ``details.tries_left``."""

    code = "otp_invalid"
    default_message = "The code is not correct."


class OtpExpired(Unauthenticated):
    code = "otp_expired"
    default_message = "The code has expired; ask for a new one."


class OtpExhausted(TooManyRequests):
    code = "otp_exhausted"
    default_message = "Too many wrong codes."


class PinInvalid(Unauthenticated):
    """Wrong PIN; ``details.tries_left``."""

    code = "pin_invalid"
    default_message = "The PIN is not correct."


class PinLocked(TooManyRequests):
    """Five wrong PINs lock the credential (15 minutes, doubling with each lockout);
    ``details.reset_at``."""

    code = "pin_locked"
    default_message = "The credential is locked after too many wrong PINs; try again later."


class PinTooWeak(InvalidInput):
    code = "pin_too_weak"
    default_message = "Choose a PIN of 6 to 64 characters that is not all one digit or a run."


class ProofInvalid(Unauthenticated):
    code = "proof_invalid"
    default_message = "The device proof is not valid."


class GuardianRequired(Forbidden):
    code = "guardian_required"
    default_message = "A person under 14 is enrolled by a guardian signed in to their wallet."


class GuardianNotLinked(Forbidden):
    code = "guardian_not_linked"
    default_message = "The signed-in person is not a registered guardian of this person."


class CredentialRevoked(Unauthenticated):
    code = "credential_revoked"
    default_message = "The credential has been revoked."


class CredentialExpired(Unauthenticated):
    code = "credential_expired"
    default_message = "The credential has expired; refresh it or enrol again."


class AccountDeregistered(Unauthenticated):
    code = "account_deregistered"
    default_message = "The account has been deregistered."


class SessionInvalid(Unauthenticated):
    code = "session_invalid"
    default_message = "The wallet session is not valid; sign in again."


# -- beyond the contract's list (each a distinct situation the list does not name) -----------
class DeviceKeyInvalid(InvalidInput):
    code = "device_key_invalid"
    default_message = "The device key must be a public P-256 JWK."


class NoPhoneOnRecord(Conflict):
    code = "no_phone_on_record"
    default_message = "The registry holds no phone number to send the code to."


class FaceReferenceMissing(Conflict):
    code = "face_not_enrolled"
    default_message = "There is no reference face to compare with."


class LoginFactorsInvalid(InvalidInput):
    code = "invalid_factors"
    default_message = "A login code is used together with a face image (L3)."


class StatusListNotFound(NotFound):
    code = "status_list_not_found"
    default_message = "No such status list."
