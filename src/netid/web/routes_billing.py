"""Receipts and statements for the institution that owns them (issue 3 §5).

* ``GET /v1/receipts/{id}`` — the receipt of one of the caller's verifications, signed with
  the platform's SM2 key on demand (DESIGN.md "Receipts before and after the log"); verify it
  offline with ``netid receipts verify`` and the published keys. Another institution's receipt
  is 404 ``receipt_not_found``, exactly like a missing one.
* ``GET /v1/statements/{month}`` — the caller's own monthly statement (China time), JSON, or
  CSV with ``Accept: text/csv``.

Both need an institution access token with the ``receipts`` / ``statements`` scope, and the
institution must be active now (read from the database on every request, SEC-11).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from netid.billing.schemas import Statement
from netid.container import Container
from netid.core.errors import Forbidden
from netid.oauth.schemas import AccessClaims
from netid.web.auth import institution_token
from netid.web.errors import ERROR_RESPONSES
from netid.web.responses import JSONBody

_NO_STORE = {"Cache-Control": "no-store"}


class InsufficientScope(Forbidden):
    code = "insufficient_scope"
    default_message = "The access token does not grant this API."


def _scoped(scope: str) -> Any:
    async def caller(
        claims: Annotated[AccessClaims, Depends(institution_token)],
    ) -> AccessClaims:
        if scope not in claims.scopes:
            raise InsufficientScope()
        return claims

    return caller


ReceiptsCaller = Annotated[AccessClaims, Depends(_scoped("receipts"))]
StatementsCaller = Annotated[AccessClaims, Depends(_scoped("statements"))]


def _wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    media = [part.split(";", 1)[0].strip().lower() for part in accept.split(",")]
    return "text/csv" in media and "application/json" not in media


def router(container: Container) -> APIRouter:
    api = APIRouter(tags=["receipts and statements"])

    @api.get("/v1/receipts/{receipt_id}", responses=ERROR_RESPONSES)
    def get_receipt(receipt_id: str, caller: ReceiptsCaller) -> JSONBody:
        """The signed receipt (电子回执) of one of your verifications or refusals:
        `{"receipt": {id, institution_code, type, purpose, time, result_class, price_fen,
        currency, request_hash, log_index}, "signature": {"alg": "SM2-SM3", "key_id",
        "user_id": "1234567812345678", "value": base64 DER}}`. The signature is over the RFC
        8785 (JCS) encoding of `receipt`; the public keys are the platform's published ones."""
        with container.transaction(write=False) as session:
            container.institutions(session).require_active(caller.institution_id)
            signed = container.receipts(session).signed(
                receipt_id, institution_code=caller.institution_code
            )
        return JSONBody(signed, headers=_NO_STORE)

    @api.get(
        "/v1/statements/{month}",
        response_model=Statement,
        responses={
            **ERROR_RESPONSES,
            200: {"content": {"text/csv": {}}, "description": "JSON, or CSV if asked for"},
        },
    )
    def get_statement(month: str, caller: StatementsCaller, request: Request) -> Response:
        """Your statement for one calendar month in China time (`2026-11`): counts and amounts
        (fen, and a yuan string) per verification type and result class, refusals included
        at 0. `Accept: text/csv` gives the same lines as CSV."""
        with container.transaction(write=False) as session:
            container.institutions(session).require_active(caller.institution_id)
            statement = container.billing(session).statement(
                month,
                institution_id=caller.institution_id,
                institution_code=caller.institution_code,
            )
        if _wants_csv(request):
            return Response(
                statement.to_csv(),
                media_type="text/csv; charset=utf-8",
                headers={
                    **_NO_STORE,
                    "Content-Disposition": f'attachment; filename="statement-{month}.csv"',
                },
            )
        return JSONBody(statement.model_dump(mode="json"), headers=_NO_STORE)

    return api
