"""Administrator errors. A failed login is one error whatever the reason (ASVS 6.3.8)."""

from __future__ import annotations

from netid.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated


class LoginFailed(Unauthenticated):
    """Unknown user, wrong password, wrong or replayed code, locked or disabled account: all
    the same code, message and status (the reason goes to the access record only)."""

    code = "login_failed"
    default_message = "The username, password or code is not correct, or the account is locked."


class AdminExists(Conflict):
    code = "admin_exists"
    default_message = "An administrator with this username exists."


class AdminNotFound(NotFound):
    code = "admin_not_found"
    default_message = "No such administrator."


class InvalidUsername(InvalidInput):
    code = "invalid_username"
    default_message = "A username is 3-32 characters: a-z first, then a-z, 0-9, '_', '.', '-'."


class UnknownRole(InvalidInput):
    code = "unknown_role"
    default_message = "Unknown administrator role."


class PasswordRejected(InvalidInput):
    code = "password_rejected"
    default_message = "The password must be 12 to 1024 characters and not the username."
