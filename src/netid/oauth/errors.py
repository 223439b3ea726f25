"""OAuth errors. ``/oauth2/*`` answers them in the RFC 6749 §5.2 form
(``{"error", "error_description"}``); ``oauth_error`` is that registered code.

Every client-authentication failure is :class:`InvalidClient` with one description, whatever
the reason (unknown client, bad signature, expired, replayed): the caller learns nothing about
which rule failed. The reason goes to the access record only (``reason``)."""

from __future__ import annotations

from typing import ClassVar

from netid.core.errors import Forbidden, InvalidInput, Unauthenticated


class OAuthRequestError(InvalidInput):
    """Base of the token endpoint's 400 errors."""

    code = "invalid_request"
    oauth_error: ClassVar[str] = "invalid_request"
    default_message = "The token request is malformed."


class InvalidRequest(OAuthRequestError):
    pass


class UnsupportedGrantType(OAuthRequestError):
    code = "unsupported_grant_type"
    oauth_error = "unsupported_grant_type"
    default_message = "The grants are client_credentials and authorization_code."


class InvalidScope(OAuthRequestError):
    code = "invalid_scope"
    oauth_error = "invalid_scope"
    default_message = "The requested scope is not available to this client."


class InvalidClient(Unauthenticated):
    """RFC 7523 §3.2: a client assertion that fails any check is ``invalid_client``."""

    code = "invalid_client"
    oauth_error: ClassVar[str] = "invalid_client"
    default_message = "Client authentication failed."

    def __init__(self, reason: str = "invalid") -> None:
        super().__init__()
        self.reason = reason  # for the access record only; never shown to the caller


class InvalidToken(Unauthenticated):
    """A bearer token that is missing, malformed, forged, expired or for another audience.
    All look the same to the caller (RFC 6750 §3.1 ``invalid_token``)."""

    code = "invalid_token"
    default_message = "The access token is missing, invalid or expired."


class InsufficientRole(Forbidden):
    code = "insufficient_role"
    default_message = "This administrator role may not do this."
