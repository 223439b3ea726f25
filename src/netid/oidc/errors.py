"""OpenID Connect errors. Each carries the registered OAuth/OIDC ``error`` code
(``oauth_error``: RFC 6749 §4.1.2.1 and §5.2, OIDC Core §3.1.2.6, RFC 9101 §6.3); the edge
decides how it travels: back to the relying party's redirect URI, on an error page (client or
redirect URI in doubt: never redirected), or as a ``{"error", "error_description"}`` body.
"""

from __future__ import annotations

from typing import ClassVar

from netid.core.errors import Forbidden, InvalidInput, NotFound, Unauthenticated


class OidcError(InvalidInput):
    """An authorization request the provider refuses; sent back to the redirect URI."""

    code = "invalid_request"
    oauth_error: ClassVar[str] = "invalid_request"
    default_message = "The authorization request is malformed."


class AuthorizationRequestInvalid(OidcError):
    pass


class ClientUnknown(OidcError):
    """Never redirected: the redirect URI cannot be trusted for an unknown client."""

    code = "client_unknown"
    oauth_error = "invalid_client"
    default_message = "The client is unknown or not registered for OpenID Connect."


class RedirectUriMismatch(OidcError):
    """Never redirected (RFC 6749 §4.1.2.1): an error page instead."""

    code = "redirect_uri_mismatch"
    oauth_error = "invalid_request"
    default_message = "The redirect URI is not one the client registered."


class UnsupportedResponseType(OidcError):
    code = "unsupported_response_type"
    oauth_error = "unsupported_response_type"
    default_message = "Only the authorization code flow (response_type=code) is supported."


class ScopeInvalid(OidcError):
    code = "invalid_scope"
    oauth_error = "invalid_scope"
    default_message = "The scope must include openid."


class RequestObjectInvalid(OidcError):
    code = "invalid_request_object"
    oauth_error = "invalid_request_object"
    default_message = "The request object is invalid."


class RequestUriNotSupported(OidcError):
    code = "request_uri_not_supported"
    oauth_error = "request_uri_not_supported"
    default_message = "request_uri is not supported; send the request object by value."


class LoginRequired(OidcError):
    code = "login_required"
    oauth_error = "login_required"
    default_message = "prompt=none, and the person must log in."


class ConsentNeeded(OidcError):
    code = "consent_needed"
    oauth_error = "consent_required"
    default_message = "prompt=none, and the person must consent."


class AccessDenied(OidcError):
    code = "access_denied"
    oauth_error = "access_denied"
    default_message = "The person or the platform did not authorise this login."


class TemporarilyUnavailable(OidcError):
    code = "temporarily_unavailable"
    oauth_error = "temporarily_unavailable"
    default_message = "The login cannot be completed now; try again later."


class LoginRequestNotFound(NotFound):
    """No such login in progress for this browser (a relayed QR code, another browser)."""

    code = "login_request_not_found"
    default_message = "No such login request for this browser."


class LoginRequestExpired(Forbidden):
    code = "login_request_expired"
    default_message = "The login request has expired; start again at the site."


class LoginRequestDecided(Forbidden):
    code = "login_request_decided"
    default_message = "The login request was already approved or denied."


class ClientRegistrationInvalid(InvalidInput):
    code = "client_registration_invalid"
    default_message = "The OpenID Connect client registration is not valid."


class GrantInvalid(InvalidInput):
    """RFC 6749 §5.2 ``invalid_grant``: unknown, expired, used, revoked or not this client's
    code; wrong redirect URI or PKCE verifier; consent withdrawn."""

    code = "invalid_grant"
    oauth_error: ClassVar[str] = "invalid_grant"
    default_message = "The authorization code is invalid, expired or already used."

    def __init__(self, reason: str = "invalid", message: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason  # for the access record


class UserinfoTokenInvalid(Unauthenticated):
    code = "invalid_token"
    default_message = "The access token is missing, invalid, expired or revoked."
