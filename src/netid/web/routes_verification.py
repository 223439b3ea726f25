"""``POST /v1/verifications`` and its batch form.

The handler owns the transaction. A refusal (policy, consent, quota, a frozen institution, a
malformed number) is returned by the service rather than raised, so that its access record —
its receipt — commits first; only then is the error answered (no record, no answer).
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from netid.container import Container
from netid.core.errors import Forbidden, NetidError
from netid.oauth.schemas import AccessClaims
from netid.verification.schemas import (
    AnyVerificationRequest,
    BatchAnswer,
    BatchItemError,
    BatchItemResult,
    BatchRequest,
    VerificationAnswer,
)
from netid.verification.service import ApiRequest, Outcome
from netid.web.auth import institution_token
from netid.web.errors import ERROR_RESPONSES
from netid.web.responses import JSONBody


class InsufficientScope(Forbidden):
    code = "insufficient_scope"
    default_message = "The access token does not grant this API."


async def verification_caller(
    claims: Annotated[AccessClaims, Depends(institution_token)],
) -> AccessClaims:
    if "verification" not in claims.scopes:
        raise InsufficientScope()
    return claims


Caller = Annotated[AccessClaims, Depends(verification_caller)]

_ANY_REQUEST: TypeAdapter[ApiRequest] = TypeAdapter(AnyVerificationRequest)


def router(container: Container) -> APIRouter:
    api = APIRouter(tags=["verification"])

    @api.post(
        "/v1/verifications",
        response_model=VerificationAnswer,
        response_model_exclude_none=True,
        responses=ERROR_RESPONSES,
    )
    async def verify(body: AnyVerificationRequest, caller: Caller) -> JSONBody:
        """Verify one person: `id2` (name + document number), `id3_phone` (+ phone),
        `age_over` (+ `threshold`: only yes/no leaves), `face` (+ `subject.face_image`,
        base64 JPEG/PNG; never the only factor), `status` (is the document valid), or
        `netid_qr` (+ `qr`: the scanned text of the person's dynamic QR code; optional
        `min_assurance`; the answer states the `assurance` reached).

        The answer is `match` or `mismatch` (a mismatch does not say whether the number
        exists), the person's pairwise pseudonym for this institution, markers, the claims
        that policy and the person's separate consent allow, and the receipt."""
        return await _verify(container, caller, body)

    @api.post(
        "/v1/verifications/batch",
        response_model=BatchAnswer,
        response_model_exclude_none=True,
        responses=ERROR_RESPONSES,
    )
    def verify_batch(body: BatchRequest, caller: Caller) -> JSONBody:
        """Up to 1000 verifications in one call and one transaction (no `face`, no `netid_qr`:
        a QR code is one person at one counter). Each item gets its own answer or error, and
        its own receipt."""
        with container.transaction() as session:
            service = container.verification(session)
            institution = service.institution(caller.institution_id)
            if isinstance(institution, NetidError):
                outcome = service.refuse_inactive_caller(
                    caller.institution_id, body.items[0], institution
                )
                results = None
            else:
                results = [
                    _item(index, service.verify_for(institution, item))
                    for index, item in enumerate(body.items)
                ]
        if results is None:
            assert outcome.refusal is not None
            raise outcome.refusal
        return _json(BatchAnswer(results=results).model_dump(mode="json", exclude_none=True))

    return api


async def _verify(container: Container, caller: AccessClaims, body: ApiRequest) -> JSONBody:
    def work(session: Session) -> Outcome:
        return container.verification(session).verify(caller.institution_id, body)

    if body.type == "face":
        # Face matching takes tens of milliseconds of CPU: in a transaction of its own on a
        # worker thread, never inside a batch that holds the writer slot for everyone.
        outcome = await run_in_threadpool(_in_own_transaction, container, work)
    else:
        # Looked up (and a QR code's signature checked) outside the writer slot, then
        # grouped with other requests' writes; answered only once they are committed.
        outcome = await container.committer.run_staged(
            _staged(container, caller.institution_id, body)
        )
    if outcome.refusal is not None:
        raise outcome.refusal
    assert outcome.answer is not None
    return _json(outcome.answer.model_dump(mode="json", exclude_none=True))


def lean_routes(container: Container) -> list[Route]:
    """``POST /v1/verifications`` as a plain Starlette route, matched before FastAPI's (which
    stays for the OpenAPI document and describes the same contract): FastAPI's dependency
    solving and body handling cost more per request than the lookup itself
    (reference/performance.md §2, docs/decisions/0007). It answers as the FastAPI route does
    (the same errors, through the app's exception handlers: a body that does not validate is
    a :class:`RequestValidationError`, 422 ``invalid_request``, located under ``body``), with
    one deliberate difference: the token and the scope are checked before the body is read,
    so an unauthenticated caller gets 401 even for a malformed body (FastAPI parses the body
    first and would answer 422 or 400)."""

    async def verify(request: Request) -> JSONBody:
        caller = await verification_caller(await institution_token(request))
        return await _verify(container, caller, _parsed(await request.body(), request))

    return [Route("/v1/verifications", verify, methods=["POST"], include_in_schema=False)]


def _parsed(body: bytes, request: Request) -> ApiRequest:
    """The body as FastAPI 0.165 reads it (fastapi.routing, ``strict_content_type``): JSON
    only under an ``application/json`` or ``application/*+json`` media type, decoded by
    ``json.loads`` (which detects UTF-16/32 and a BOM), then validated as Python values."""
    if not body:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "", "input": None}]
        )
    message = email.message.Message()
    message["content-type"] = request.headers.get("content-type", "")
    subtype = message.get_content_subtype()
    if (
        not request.headers.get("content-type")
        or message.get_content_maintype() != "application"
        or not (subtype == "json" or subtype.endswith("+json"))
    ):
        # No JSON media type (also none at all, FastAPI's CSRF defence): the bytes themselves
        # are what fails to validate.
        raise RequestValidationError(
            [{"type": "model_attributes_type", "loc": ("body",), "msg": "", "input": None}]
        )
    try:
        decoded = json.loads(body)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "", "input": {}}]
        ) from None
    except UnicodeDecodeError:
        raise StarletteHTTPException(400, "There was an error parsing the body") from None
    try:
        return _ANY_REQUEST.validate_python(decoded)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_input=False)]
        ) from None


def _staged(
    container: Container, institution_id: str, request: ApiRequest
) -> Callable[[Session], Callable[[Session], Outcome]]:
    """A verification as a staged unit: its read stage looks up and compares (or checks the
    QR code) outside the writer slot, its write stage counts, spends and records
    (docs/decisions/0007)."""

    def read(session: Session) -> Callable[[Session], Outcome]:
        prepared = container.verification(session).prepare(institution_id, request)
        return lambda write: container.verification(write).complete(prepared)

    return read


def _in_own_transaction(container: Container, work: Callable[[Session], Outcome]) -> Outcome:
    with container.transaction() as session:
        return work(session)


def _item(index: int, outcome: Any) -> BatchItemResult:
    if outcome.refusal is not None:
        error: NetidError = outcome.refusal
        return BatchItemResult(
            index=index,
            error=BatchItemError(code=error.code, message=error.message, details=error.details),
        )
    return BatchItemResult(index=index, answer=outcome.answer)


def _json(body: dict[str, Any]) -> JSONBody:
    return JSONBody(body, headers={"Cache-Control": "no-store"})
