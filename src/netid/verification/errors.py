"""Refusals of a verification (policy refusals are netid.policy's errors). Each is recorded (with its receipt) before it is returned;
the messages never name the person or echo the request."""

from __future__ import annotations

from netid.core.errors import Forbidden, InvalidInput


class ConsentRequired(Forbidden):
    code = "consent_required"
    default_message = "The person has not given separate consent for these claims."


class InstitutionNotApproved(Forbidden):
    code = "institution_not_active"
    default_message = "The institution is not approved."


class BatchTooLarge(InvalidInput):
    code = "batch_too_large"
    default_message = "A batch holds at most 1000 items."
