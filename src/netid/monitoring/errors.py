"""Errors of :mod:`netid.monitoring`. Messages name the rule or the file path, never a person."""

from __future__ import annotations

from netid.core.errors import (
    ConfigurationError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unavailable,
)


class RulesInvalid(ConfigurationError):
    """The monitoring rules file is missing, not JSON, or breaks a rule. ``details["path"]`` is
    the place in the document (``industries.hotel_lodging.rules.off_hours_burst.burst``)."""

    code = "monitoring_rules_invalid"
    default_message = "The monitoring rules are not valid."

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message, details={"path": path})
        self.path = path


class MonitoringUnavailable(Unavailable):
    """The counter store (Redis) cannot be reached: the query is refused, not answered
    unmonitored (fail closed). Retrying succeeds once the store is back."""

    code = "monitoring_unavailable"
    default_message = "Monitoring is temporarily unavailable; the query was not answered."


class FrozenByMonitor(Forbidden):
    """A freezing rule fired: the institution is frozen and this query refused. The caller
    sees the same code as for any frozen institution; which rule fired is not disclosed to it
    (it is in the alert, for the security administrator)."""

    code = "institution_frozen"
    default_message = "The institution is frozen."


class AlertNotFound(NotFound):
    code = "alert_not_found"
    default_message = "No such alert."


class AlertAlreadyResolved(Conflict):
    code = "alert_already_resolved"
    default_message = "The alert is already resolved."


class WatchEntryNotFound(NotFound):
    code = "watch_entry_not_found"
    default_message = "The document number is not on the watch list."


class InvalidReason(InvalidInput):
    code = "invalid_reason"
    default_message = "A reason of 1 to 1024 characters is required."


class InvalidBusinessHours(InvalidInput):
    code = "invalid_business_hours"
    default_message = 'Business hours are {"days": ["mon", ...], "start": "HH:MM", "end": "HH:MM"}.'
