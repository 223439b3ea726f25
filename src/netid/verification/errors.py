"""Refusals of a verification (policy refusals are netid.policy's errors). Each is recorded (with its receipt) before it is returned;
the messages never name the person or echo the request."""

from __future__ import annotations

from netid.core.errors import Conflict, Forbidden, InvalidInput, Unavailable


class ConsentRequired(Forbidden):
    code = "consent_required"
    default_message = "The person has not given separate consent for these claims."


class InstitutionNotApproved(Forbidden):
    code = "institution_not_active"
    default_message = "The institution is not approved."


class BatchTooLarge(InvalidInput):
    code = "batch_too_large"
    default_message = "A batch holds at most 1000 items."


# -- netid_qr (docs/decisions/0005 "Verification netid_qr"): each a distinct code ------------
# qr_malformed, qr_forged and qr_expired are the token format's own (netid.credentials.errors).
class QrReplayed(Conflict):
    code = "qr_replayed"
    default_message = "This QR code has been used already."


class CredentialRevoked(Forbidden):
    code = "credential_revoked"
    default_message = "The network credential has been revoked."


class CredentialExpired(Forbidden):
    code = "credential_expired"
    default_message = "The network credential has expired."


class CredentialStale(Forbidden):
    code = "credential_stale"
    default_message = (
        "The network credential no longer matches the identity document on record; "
        "the person must enrol again."
    )


class AccountDeregistered(Forbidden):
    code = "account_deregistered"
    default_message = "The person has deregistered their network identity."


class MethodLocked(Forbidden):
    code = "method_locked"
    default_message = "The person has locked this verification method."


class AssuranceInsufficient(Forbidden):
    code = "assurance_insufficient"
    default_message = "The person authenticated at a lower assurance level than required."


class GuardianApprovalRequired(Forbidden):
    code = "guardian_approval_required"
    default_message = "The person is a minor: a guardian must approve this use first."


class NonceStoreUnavailable(Unavailable):
    code = "nonce_store_unavailable"
    default_message = "QR codes cannot be checked right now; try again later."
