"""The wallet's errors: its own (state directory, local checks) and the server's, relayed.

Messages never carry a path, a PIN, a token or personal data: the wallet directory's file
names (``device.key`` …) are the most a message or ``details`` names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netid.core.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NetidError,
    NotFound,
    Unauthenticated,
    Unavailable,
)


class WalletInsecure(ConfigurationError):
    """The directory (or a file in it) is readable by others, or not the user's own."""

    code = "wallet_insecure"
    default_message = (
        "The wallet directory must be yours and private (mode 0700, files 0600); "
        "fix its permissions (chmod 700) and try again."
    )


class WalletFileCorrupt(ConfigurationError):
    """A state file does not parse or lacks a member (``details.file`` names which)."""

    code = "wallet_file_corrupt"
    default_message = "A wallet file is damaged; restore it or start a new wallet."

    def __init__(self, file: str) -> None:
        super().__init__(details={"file": file})


class WalletNotInitialised(NotFound):
    code = "wallet_not_initialised"
    default_message = "No wallet here: run 'netid wallet init --server URL' first."


class WalletExists(Conflict):
    code = "wallet_exists"
    default_message = "This directory already holds a wallet (a device key)."


class NoEnrolment(Conflict):
    code = "wallet_no_enrolment"
    default_message = "No enrolment in progress: run 'netid wallet enrol start' first."


class NotEnrolled(Conflict):
    code = "wallet_not_enrolled"
    default_message = "This wallet holds no credential: enrol first."


class AlreadyEnrolled(Conflict):
    code = "wallet_already_enrolled"
    default_message = "This wallet already holds a credential."


class NotLoggedIn(Unauthenticated):
    code = "wallet_not_logged_in"
    default_message = "No valid session: run 'netid wallet login' first."


class ClaimNotInCredential(InvalidInput):
    code = "claim_not_in_credential"
    default_message = "The credential has no such claim to disclose."


class ConfirmationMismatch(InvalidInput):
    code = "confirmation_mismatch"
    default_message = "The network ID given does not match this wallet's."


class LoginTextInvalid(InvalidInput):
    code = "login_text_invalid"
    default_message = "This is not a netid login code (netid://login?r=…)."


class PinInputInvalid(InvalidInput):
    code = "pin_input_invalid"
    default_message = "No PIN was given."


class ServerUnreachable(Unavailable):
    code = "server_unreachable"
    default_message = "The netid server does not answer."


class ServerAnswerInvalid(NetidError):
    """The server answered something the contract does not allow (not JSON, a missing
    member): a bug or not a netid server."""

    code = "server_answer_invalid"
    default_message = "The server's answer is not what the API promises."


class ServerError(NetidError):
    """A refusal by the server: its ``error.code``, ``message`` and ``details``, as sent."""

    code = "server_error"

    def __init__(
        self,
        status: int,
        server_code: str,
        message: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message or f"The server refused the request ({status}).", details=details)
        self.status = status
        self.server_code = server_code

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["code"] = self.server_code
        body["status"] = self.status
        return body
