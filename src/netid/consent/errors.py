"""Errors of consent. Messages never name the person."""

from __future__ import annotations

from netid.core.errors import InvalidInput, NotFound


class ConsentNotFound(NotFound):
    code = "consent_not_found"
    default_message = "No such consent."


class ConsentInvalid(InvalidInput):
    code = "consent_invalid"
    default_message = "The consent is not valid."
