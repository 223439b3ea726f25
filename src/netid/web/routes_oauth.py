"""``POST /oauth2/token``: OAuth 2.0 client credentials (RFC 6749 §4.4) with
``private_key_jwt`` client authentication (RFC 7523 §2.2/§3, OIDC Core §9), and the OpenID
Connect authorization code grant (RFC 6749 §4.1.3, OIDC Core §3.1.3; ``private_key_jwt`` or
``client_secret_basic``, docs/decisions/0006).

The form is parsed here (no multipart dependency): ``application/x-www-form-urlencoded`` only,
at most :data:`MAX_FORM_BYTES`, each parameter at most once (RFC 6749 §3.2), unknown ones
ignored (ibid.). Errors use the RFC 6749 §5.2 body ``{"error", "error_description"}``: 400, or
401 for ``invalid_client``; every answer carries ``Cache-Control: no-store`` and
``Pragma: no-cache`` (§5.1). The database work runs in the thread pool, so a wait for the
write lock never blocks the event loop.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from netid.container import Container
from netid.core.errors import NetidError
from netid.oauth.errors import InvalidClient, InvalidRequest, OAuthRequestError
from netid.oauth.schemas import IssuedToken, TokenRequest
from netid.oauth.service import TokenRefusal
from netid.oidc.schemas import TokenAnswer
from netid.web.errors import public_error, status_for
from netid.web.responses import JSONBody

MAX_FORM_BYTES = 16 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FIELDS = ("grant_type", "client_assertion_type", "client_assertion", "client_id", "scope")


class TokenBody(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthErrorBody(BaseModel):
    error: str
    error_description: str


def oauth_error_response(status: int, error: str, description: str) -> JSONBody:
    return JSONBody(
        {"error": error, "error_description": description}, status_code=status, headers=_NO_STORE
    )


def _refusal_response(error: TokenRefusal) -> JSONBody:
    if isinstance(error, InvalidClient):
        return oauth_error_response(401, error.oauth_error, error.message)
    return oauth_error_response(400, error.oauth_error, error.message)


def parse_form(content_type: str | None, body: bytes) -> TokenRequest:
    form = parse_pairs(content_type, body)
    values: dict[str, Any] = {name: form.get(name) or None for name in _FIELDS}
    return TokenRequest(**values)


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1 ``client_secret_basic``: Basic base64(urlencode(id) ":" urlencode(secret));
    None without such a header; a malformed one is ``invalid_client``."""
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeError):
        raise InvalidClient("malformed_basic") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise InvalidClient("malformed_basic")
    return unquote_plus(client_id), unquote_plus(secret)


def parse_pairs(content_type: str | None, body: bytes) -> dict[str, str]:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise InvalidRequest("The body must be application/x-www-form-urlencoded.")
    if len(body) > MAX_FORM_BYTES:
        raise InvalidRequest("The request is too large.")
    try:
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            errors="strict",
            max_num_fields=32,
        )
    except (UnicodeError, ValueError):
        raise InvalidRequest("The form is malformed.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise InvalidRequest("A parameter is repeated.")
        form[name] = value
    return form


def router(container: Container) -> APIRouter:
    api = APIRouter(tags=["oauth"])

    async def exchange_code(pairs: dict[str, str], basic: tuple[str, str] | None) -> JSONBody:
        """grant_type=authorization_code (OIDC Core §3.1.3, docs/decisions/0006)."""
        try:
            result = await container.committer.run(
                lambda session: container.oidc(session).exchange(pairs, basic=basic)
            )
        except NetidError as error:
            return oauth_error_response(status_for(error), "server_error", error.message)
        except DBAPIError as error:
            public = public_error(error)
            return oauth_error_response(status_for(public), "server_error", public.message)
        if isinstance(result, TokenAnswer):
            return JSONBody(result.to_json(), headers=_NO_STORE)
        if isinstance(result, InvalidClient):
            response = oauth_error_response(401, result.oauth_error, result.message)
            if basic is not None:
                response.headers["WWW-Authenticate"] = 'Basic realm="netid"'
            return response
        return oauth_error_response(400, result.oauth_error, result.message)

    @api.post(
        "/oauth2/token",
        response_model=TokenBody,
        responses={400: {"model": OAuthErrorBody}, 401: {"model": OAuthErrorBody}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["grant_type"],
                            "properties": {
                                "grant_type": {
                                    "type": "string",
                                    "enum": ["client_credentials", "authorization_code"],
                                },
                                "code": {"type": "string"},
                                "redirect_uri": {"type": "string"},
                                "code_verifier": {"type": "string"},
                                "client_assertion_type": {
                                    "type": "string",
                                    "enum": [
                                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                                    ],
                                },
                                "client_assertion": {"type": "string", "maxLength": 8192},
                                "client_id": {"type": "string"},
                                "scope": {"type": "string"},
                            },
                        }
                    }
                },
            }
        },
    )
    async def token(request: Request) -> JSONBody:
        """Exchange a client assertion signed with the institution's registered key (ES256 or
        EdDSA; ``iss`` = ``sub`` = client id, ``aud`` = this URL, lifetime ≤ 5 min, ``jti``
        once) for a bearer access token valid 10 minutes for ``/v1``."""
        body = await request.body()
        try:
            pairs = parse_pairs(request.headers.get("content-type"), body)
            if pairs.get("grant_type") == "authorization_code":
                basic = parse_basic(request.headers.get("authorization"))
                return await exchange_code(pairs, basic)
            form = parse_form(request.headers.get("content-type"), body)
        except (OAuthRequestError, InvalidClient) as error:
            return _refusal_response(error)

        try:
            # The assertion checked outside the writer slot, then grouped with other
            # requests' writes (the jti, the access record); answered only once they are
            # committed (netid.db.group).
            result = await container.committer.run_staged(_staged_token(container, form))
        except NetidError as error:  # keys missing, database down: never a 500 for a client
            return oauth_error_response(status_for(error), "server_error", error.message)
        except DBAPIError as error:
            public = public_error(error)
            return oauth_error_response(status_for(public), "server_error", public.message)
        if isinstance(result, IssuedToken):
            return JSONBody(result.to_json(), headers=_NO_STORE)
        return _refusal_response(result)

    return api


def _staged_token(
    container: Container, form: TokenRequest
) -> Callable[[Session], Callable[[Session], IssuedToken | TokenRefusal]]:
    """A token request as a staged unit (docs/decisions/0007): the client and its assertion
    read and verified outside the writer slot, the jti spent and the token recorded in the
    write."""

    def read(session: Session) -> Callable[[Session], IssuedToken | TokenRefusal]:
        prepared = container.token_service(session).prepare(form)
        return lambda write: container.token_service(write).complete(prepared)

    return read
