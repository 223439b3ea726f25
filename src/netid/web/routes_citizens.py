"""The citizen's own controls over HTTP, ``/v1/me/*`` (docs/decisions/0005 "Citizens").

Every route takes a wallet session (``Authorization: Bearer <token>`` from ``POST
/v1/wallet/sessions``), checked against the database on each request by
:func:`netid.web.auth.citizen_session`: a revoked credential or a deregistered account is
refused on its very next request. Answers carry personal data, so ``Cache-Control: no-store``.
Each handler owns its transaction; every read and change is recorded in it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from netid.citizens.errors import RequestNotFound
from netid.citizens.schemas import MAX_UNLOCK_MINUTES, Citizen
from netid.consent.errors import ConsentNotFound
from netid.consent.schemas import MAX_CONSENT_DAYS
from netid.container import Container
from netid.core.fields import ShortText
from netid.enrolment.schemas import CitizenPrincipal
from netid.web.auth import citizen_session
from netid.web.errors import ERROR_RESPONSES
from netid.web.responses import JSONBody

_ROW_ID = re.compile(r"[0-9a-f]{32}")
_NO_STORE = {"Cache-Control": "no-store"}


class UnlockBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: int | None = Field(default=None, ge=1, le=MAX_UNLOCK_MINUTES, strict=True)


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # How long an approved consent lasts (a guardian-use approval ignores it).
    days: int | None = Field(default=None, ge=1, le=MAX_CONSENT_DAYS, strict=True)


class DeregisterBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network_id: ShortText = Field(description="Your network ID, XXXX-XXXX-XXXX-XXXX or plain")


Session = Annotated[CitizenPrincipal, Depends(citizen_session)]


def _citizen(principal: CitizenPrincipal) -> Citizen:
    return Citizen(
        person_id=principal.person_id,
        credential_id=principal.credential_id,
        session_id=principal.session_id,
    )


def _json(body: Any, status_code: int = 200) -> JSONBody:
    return JSONBody(body, status_code=status_code, headers=_NO_STORE)


def router(container: Container) -> APIRouter:
    # Plain ``def`` handlers: they block on the database, so they run in the thread pool.
    api = APIRouter(tags=["citizen"])

    @api.get("/v1/me/history", responses=ERROR_RESPONSES)
    def history(principal: Session, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> JSONBody:
        """Who used my data, when, why and with what result: my own log entries (newest
        first), each with its RFC 9162 inclusion proof against the latest signed checkpoint
        when that covers it, and that checkpoint (verify it with the log's public keys).
        This query is recorded too."""
        with container.transaction() as session:
            found = container.citizens(session).history(_citizen(principal), limit=limit)
        return _json(found)

    @api.get("/v1/me/locks", responses=ERROR_RESPONSES)
    def locks(principal: Session) -> JSONBody:
        """My method locks: ``document`` (verifications by document number), ``qr`` (dynamic
        QR codes), ``credential`` (offline presentations: status list SUSPENDED)."""
        with container.transaction() as session:
            views = container.citizens(session).locks(_citizen(principal))
        return _json({"locks": [v.to_json() for v in views]})

    @api.post("/v1/me/locks/{method}", responses=ERROR_RESPONSES)
    def lock(method: str, principal: Session) -> JSONBody:
        """Lock a method: verifications by it are refused (``method_locked``) from the next
        request."""
        with container.transaction() as session:
            view = container.citizens(session).lock(_citizen(principal), method)
        return _json(view.to_json())

    @api.delete("/v1/me/locks/{method}", responses=ERROR_RESPONSES)
    def unlock(
        method: str,
        principal: Session,
        body: Annotated[UnlockBody | None, Body()] = None,
    ) -> JSONBody:
        """Unlock a method; with ``{"minutes": N}`` (1–1440) only for N minutes, after which
        the lock holds again by itself (not for ``credential``: offline status lists are
        cached, so a window cannot be enforced there)."""
        minutes = body.minutes if body is not None else None
        with container.transaction() as session:
            view = container.citizens(session).unlock(_citizen(principal), method, minutes=minutes)
        return _json(view.to_json())

    @api.get("/v1/me/requests", responses=ERROR_RESPONSES)
    def requests(principal: Session) -> JSONBody:
        """What waits for my decision: separate-consent requests about me, and as a guardian
        my wards' requests (each use under 14, the enrolment at 14–17)."""
        with container.transaction() as session:
            found = container.citizens(session).pending_requests(_citizen(principal))
        return _json({"requests": found})

    @api.post("/v1/me/requests/{request_id}/approve", responses=ERROR_RESPONSES)
    def approve(
        request_id: str,
        principal: Session,
        body: Annotated[ApproveBody | None, Body()] = None,
    ) -> JSONBody:
        """Approve: a consent request becomes a consent (``days``, default 30) for exactly the
        claims it asked; a guardian-use request allows one verification by that institution
        for that purpose within 10 minutes."""
        if not _ROW_ID.fullmatch(request_id):
            raise RequestNotFound()
        days = body.days if body is not None else None
        with container.transaction() as session:
            found = container.citizens(session).approve(_citizen(principal), request_id, days=days)
        return _json(found)

    @api.post("/v1/me/requests/{request_id}/deny", responses=ERROR_RESPONSES)
    def deny(request_id: str, principal: Session) -> JSONBody:
        """Deny a request; the denial is recorded."""
        if not _ROW_ID.fullmatch(request_id):
            raise RequestNotFound()
        with container.transaction() as session:
            found = container.citizens(session).deny(_citizen(principal), request_id)
        return _json(found)

    @api.get("/v1/me/consents", responses=ERROR_RESPONSES)
    def consents(principal: Session) -> JSONBody:
        """My separate consents, live and past, each as a Kantara Consent Receipt v1.1
        (``KI-CR-v1.1.0``) with its state (live, expired, revoked)."""
        with container.transaction() as session:
            found = container.citizens(session).consent_receipts(_citizen(principal))
        return _json({"consents": found})

    @api.delete("/v1/me/consents/{consent_id}", responses=ERROR_RESPONSES)
    def revoke_consent(consent_id: str, principal: Session) -> JSONBody:
        """Revoke a consent: the institution's next request no longer gets these claims."""
        if not _ROW_ID.fullmatch(consent_id):
            raise ConsentNotFound()
        with container.transaction() as session:
            found = container.citizens(session).revoke_consent(_citizen(principal), consent_id)
        return _json(found)

    @api.post("/v1/me/deregister", responses=ERROR_RESPONSES)
    def deregister(body: DeregisterBody, principal: Session) -> JSONBody:
        """End my network identity (type my network ID to confirm): credentials revoked;
        consents, requests, bound phone, device keys, collected face and the account key
        deleted (answer: ``consents_deleted``, ``requests_deleted``). This session ends with
        it."""
        with container.transaction() as session:
            found = container.citizens(session).deregister(_citizen(principal), body.network_id)
        return _json(found)

    return api
