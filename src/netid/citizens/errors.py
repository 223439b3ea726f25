"""Errors of the citizen controls. Messages never name a person, an institution's client or a
request's content."""

from __future__ import annotations

from netid.core.errors import Conflict, Forbidden, InvalidInput, NotFound


class MethodUnknown(NotFound):
    code = "method_unknown"
    default_message = "Lockable methods are document, qr and credential."


class UnlockMinutesInvalid(InvalidInput):
    code = "unlock_minutes_invalid"
    default_message = "A temporary unlock lasts 1 to 1440 minutes."


class TemporaryUnlockUnsupported(InvalidInput):
    """The credential lock is the status list's SUSPENDED bit, which offline verifiers cache
    for the list's ttl: a window of minutes cannot be enforced offline, so the credential is
    either locked or unlocked."""

    code = "temporary_unlock_unsupported"
    default_message = "The credential method can be unlocked, not unlocked for a while."


class RequestNotFound(NotFound):
    code = "request_not_found"
    default_message = "No such request."


class RequestNotPending(Conflict):
    code = "request_not_pending"
    default_message = "The request has been decided already."


class RequestExpired(Conflict):
    code = "request_expired"
    default_message = "The request has expired."


class ConsentDaysInvalid(InvalidInput):
    code = "consent_days_invalid"
    default_message = "A consent lasts 1 to 365 days."


class NetworkIdMismatch(Forbidden):
    code = "network_id_mismatch"
    default_message = "The network ID is not yours."


class NoGuardianEnrolled(Forbidden):
    """A decision that belongs to a guardian (each use under 14, the consents of a child under
    14) with no linked guardian enrolled to take it: refused, rather than a request nobody
    could ever see."""

    code = "guardian_not_enrolled"
    default_message = "A guardian must decide this, and no linked guardian is enrolled."
