"""The root of netid's error tree.

Every error that crosses a package boundary is a :class:`NetidError`. It carries a stable,
machine-readable ``code`` and a human ``message`` that is safe to show to anyone: no personal
data, no secrets, no SQL. HTTP status codes and CLI exit codes are assigned to these classes in
one table at the edge (``netid.web.errors`` and ``netid.cli.errors``), never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class NetidError(Exception):
    """Base class: a failure with a stable ``code`` and a public ``message``."""

    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "The request could not be completed."

    def __init__(self, message: str | None = None, *, details: Mapping[str, Any] | None = None):
        self.message = message or self.default_message
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidInput(NetidError):
    """The caller sent something malformed; nothing was changed."""

    code = "invalid_input"
    default_message = "The input is not valid."


class NotFound(NetidError):
    code = "not_found"
    default_message = "No such record."


class Unauthenticated(NetidError):
    """No valid credentials (missing, malformed, expired or unknown token or assertion).
    Every such failure looks the same to the caller."""

    code = "unauthenticated"
    default_message = "Authentication failed."


class Forbidden(NetidError):
    """Authenticated, but this caller may not do this (role, status or policy)."""

    code = "forbidden"
    default_message = "This action is not allowed."


class TooManyRequests(NetidError):
    """A quota or rate limit is spent. ``details["reset_at"]`` (UTC, ISO 8601) says when it
    refills; the web edge turns it into ``Retry-After``."""

    code = "too_many_requests"
    default_message = "A limit has been reached; try again later."


class Conflict(NetidError):
    code = "conflict"
    default_message = "The request conflicts with the current state."


class Unavailable(NetidError):
    """A dependency (database, Redis, key store) is down; retry later."""

    code = "unavailable"
    default_message = "The service is temporarily unavailable."


class ConfigurationError(NetidError):
    code = "configuration_error"
    default_message = "The service is not configured correctly."
