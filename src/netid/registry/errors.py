"""Errors of the registry. Messages name the field and rule, never the value."""

from __future__ import annotations

from netid.core.errors import Conflict, InvalidInput, NotFound


class PersonNotFound(NotFound):
    code = "person_not_found"
    default_message = "No person holds that document."


class RecordRejected(InvalidInput):
    """One import row failed a rule; ``field`` and ``rule`` say which."""

    code = "record_rejected"

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message, details={"field": field, "rule": rule})
        self.field = field
        self.rule = rule


class ImportFileInvalid(InvalidInput):
    code = "import_file_invalid"
    default_message = "The import file cannot be read (use .csv or .jsonl, UTF-8)."


class KeysChanged(Conflict):
    code = "keys_changed"
    default_message = (
        "The keys changed while this ran (a rotation); run it again: it resumes where it stopped."
    )


class InvalidMarker(InvalidInput):
    code = "invalid_marker"
    default_message = "A marker is 'disputed' or 'fraud_warning'."
