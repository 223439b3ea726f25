"""Errors of the transparency log. Messages never carry entry contents."""

from __future__ import annotations

from netid.core.errors import InvalidInput, NotFound, Unavailable


class InvalidProofRequest(InvalidInput):
    """A proof was asked for sizes or an index the log cannot answer for (``details.reason``)."""

    code = "invalid_proof_request"
    default_message = "The proof parameters are not valid for this log."

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message, details={"reason": reason})


class EntryNotFound(NotFound):
    code = "log_entry_not_found"
    default_message = "The log has no entry with that index."


class NoCheckpoint(NotFound):
    code = "no_checkpoint"
    default_message = "No checkpoint has been cut yet."


class LogInconsistent(Unavailable):
    """The stored nodes do not cover a proof (the log's storage is damaged)."""

    code = "log_inconsistent"
    default_message = "The log cannot answer this proof; run 'netid audit verify'."


class WitnessInvalid(InvalidInput):
    """The witness file or a checkpoint offered to it failed a check (``details.reason``)."""

    code = "witness_invalid"
    default_message = "The checkpoint could not be witnessed."

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message, details={"reason": reason})


class LogAlreadyCreated(InvalidInput):
    code = "log_already_created"
    default_message = "The log already has entries; its hash algorithm is fixed."
