"""The one table that maps the error tree to HTTP status codes, and the JSON error body.

``/v1/*`` answers ``{"error": {"code", "message", "details"?}}`` (DESIGN.md "Errors").
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from netid.core.errors import (
    ConfigurationError,
    Conflict,
    Forbidden,
    InvalidInput,
    NetidError,
    NotFound,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
)
from netid.crypto.errors import CryptoError
from netid.web.responses import JSONBody

STATUS_BY_ERROR: tuple[tuple[type[NetidError], int], ...] = (
    (InvalidInput, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TooManyRequests, 429),
    (Unavailable, 503),
    (ConfigurationError, 503),
    (CryptoError, 500),
)

# Errors from outside the tree that reach the edge, as the error a client sees; the table above
# then gives the status. First match wins (both named classes are DBAPIError subclasses).
PUBLIC_ERROR_FOR: tuple[tuple[type[Exception], type[NetidError]], ...] = (
    (OperationalError, Unavailable),  # 503: the database is down or busy; retry later
    (IntegrityError, Conflict),  # 409: a constraint refused the change; a retry won't help
    (DBAPIError, NetidError),  # 500 internal_error: any other driver error is our bug
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. policy_denied.")
    message: str = Field(description="Human message; never carries personal data.")
    details: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


# The error responses of the /v1 API, for OpenAPI.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Invalid input (e.g. invalid_document_number with details.rule)"),
        (401, "Missing, malformed or expired access token"),
        (403, "policy_denied, purpose_not_registered, consent_required, institution_frozen, …"),
        (413, "Body over the limit"),
        (422, "invalid_request: the body does not match the schema (unknown fields refused)"),
        (429, "quota_exceeded, with Retry-After and details.reset_at"),
        (503, "A dependency is unavailable"),
    )
}


def status_for(error: NetidError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 500


def public_error(error: Exception) -> NetidError:
    for cls, public in PUBLIC_ERROR_FOR:
        if isinstance(error, cls):
            return public()
    return NetidError()


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONBody:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONBody({"error": body}, status_code=status, headers={"Cache-Control": "no-store"})


def netid_error_response(exc: NetidError) -> JSONBody:
    """The error body for one of ours; 429 adds ``Retry-After`` from ``details.reset_at``
    (DESIGN.md "Errors"), 401 adds ``WWW-Authenticate`` (RFC 6750 §3)."""
    status = status_for(exc)
    response = error_response(status, exc.code, exc.message, exc.details or None)
    if status == 429 and isinstance(exc.details.get("reset_at"), str):
        reset_at = dt.datetime.fromisoformat(exc.details["reset_at"])
        wait = max(1, math.ceil((reset_at - dt.datetime.now(dt.UTC)).total_seconds()))
        response.headers["Retry-After"] = str(wait)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NetidError)
    async def _netid(_request: Request, exc: NetidError) -> JSONBody:
        return netid_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONBody:
        problems = [_problem(err) for err in exc.errors()]
        return error_response(
            422, "invalid_request", "The request body is not valid.", {"problems": problems}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONBody:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "The request failed."
        return error_response(exc.status_code, code, message)

    @app.exception_handler(DBAPIError)  # and its subclasses; never echo SQL or parameters
    async def _db_error(_request: Request, exc: DBAPIError) -> JSONBody:
        error = public_error(exc)
        return error_response(status_for(error), error.code, error.message)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, _exc: Exception) -> JSONBody:
        return error_response(500, "internal_error", "The request could not be completed.")


def _problem(error: Any) -> dict[str, Any]:
    """Where and what kind, never the input or the context (they may be personal data)."""
    kind = str(error.get("type", "invalid"))
    location = [str(part) for part in error.get("loc", ())]
    if kind == "extra_forbidden" and location:
        location[-1] = "<extra>"  # the client's own key name: it may be personal data
    return {"location": location, "type": kind}
