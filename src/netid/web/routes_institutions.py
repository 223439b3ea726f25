"""Institution onboarding over HTTP (issue 3 §1).

* ``POST /v1/institutions/applications`` — public: an institution applies; 201 ``{id, status}``.
  Shape errors are 422 ``invalid_request``; semantic ones 400 with their code
  (``invalid_uscc``, ``industry_not_registered``, ``purpose_not_registered``,
  ``invalid_public_key``, ``agreement_not_accepted``, ``invalid_website``).
* ``/v1/admin/institutions`` — list, get, approve, reject, suspend, freeze, unfreeze,
  reinstate, revoke: an administrator's bearer token whose role the matrix allows the action
  ``institution.<verb>`` (``netid.web.auth.require_action``; the security administrator); the
  administrator is the actor of the status change and of its access record.

Handlers are plain ``def``: FastAPI runs them in the thread pool, so waiting for the database
write lock never blocks the event loop. Each owns its transaction.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from netid.container import Container
from netid.institutions.schemas import (
    ApplicationIn,
    ApplicationReceipt,
    InstitutionStatus,
    InstitutionView,
)
from netid.oauth.schemas import AdminPrincipal
from netid.web.auth import require_action
from netid.web.errors import ERROR_RESPONSES
from netid.web.responses import JSONBody

# Each route names its action in the role × action matrix (netid.admins.matrix).
ListAdmin = Annotated[AdminPrincipal, Depends(require_action("institution.list"))]
ReadAdmin = Annotated[AdminPrincipal, Depends(require_action("institution.read"))]
ApproveAdmin = Annotated[AdminPrincipal, Depends(require_action("institution.approve"))]
_NO_STORE = {"Cache-Control": "no-store"}
VERBS = ("reject", "suspend", "freeze", "unfreeze", "reinstate", "revoke")


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1024)


class ApprovalIn(ReasonIn):
    price_plan: str | None = Field(default=None, max_length=32)
    quotas: dict[str, int] | None = Field(default=None, max_length=32)


class InstitutionOut(BaseModel):
    id: str
    code: str | None
    client_id: str | None
    name: str
    uscc: str
    industry: str
    purposes: list[str]
    location: str
    status: InstitutionStatus
    price_plan: str | None
    sector: str | None
    agreement_version: str


class StatusChangeOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: InstitutionStatus | None = Field(alias="from")
    to: InstitutionStatus
    actor: str
    reason: str
    at: str


class QuotaOut(BaseModel):
    verification_type: str
    limit: int
    used: int
    remaining: int
    month: str


class InstitutionDetailOut(InstitutionOut):
    history: list[StatusChangeOut]
    quotas: list[QuotaOut]


def _json(body: Any, status_code: int = 200) -> JSONBody:
    return JSONBody(body, status_code=status_code, headers=_NO_STORE)


def router(container: Container) -> APIRouter:
    api = APIRouter()

    @api.post(
        "/v1/institutions/applications",
        tags=["institutions"],
        status_code=201,
        response_model=ApplicationReceipt,
        responses=ERROR_RESPONSES,
    )
    def apply(body: ApplicationIn) -> JSONBody:
        """Apply for access: name, unified social credit code, legal representative, industry,
        purposes (from the purpose catalogue), contact, acceptance of the confidentiality
        agreement (its version is recorded), location and the public JWKs (ES256, EdDSA or
        SM2; never a private key) for `private_key_jwt`. A security administrator approves or
        rejects it; the answer is the application's id and status `pending`."""
        with container.transaction() as session:
            view = container.institutions(session).apply(body, actor="applicant")
        return _json({"id": view.id, "status": view.status.value}, status_code=201)

    @api.get(
        "/v1/admin/institutions",
        tags=["admin"],
        response_model=list[InstitutionOut],
        responses=ERROR_RESPONSES,
    )
    def list_institutions(
        admin: ListAdmin, status: Annotated[InstitutionStatus | None, Query()] = None
    ) -> JSONBody:
        """Institutions, oldest first, optionally of one status."""
        with container.transaction(write=False) as session:
            views = container.institutions(session).list(status=status)
        return _json([v.to_json() for v in views])

    @api.get(
        "/v1/admin/institutions/{institution_id}",
        tags=["admin"],
        response_model=InstitutionDetailOut,
        responses=ERROR_RESPONSES,
    )
    def get_institution(institution_id: str, admin: ReadAdmin) -> JSONBody:
        """One institution with its status history and this month's quotas."""
        with container.transaction(write=False) as session:
            service = container.institutions(session)
            view = service.get(institution_id)
            history = service.history(institution_id)
            quotas = service.quota_status(institution_id)
        return _json(
            {
                **view.to_json(),
                "history": [h.to_json() for h in history],
                "quotas": [q.to_json() for q in quotas],
            }
        )

    @api.post(
        "/v1/admin/institutions/{institution_id}/approve",
        tags=["admin"],
        response_model=InstitutionOut,
        responses=ERROR_RESPONSES,
    )
    def approve(institution_id: str, body: ApprovalIn, admin: ApproveAdmin) -> JSONBody:
        """Approve a pending application: assigns the institution code, client id, price plan
        (default `government` for government, else `standard`) and monthly quotas (the
        catalogue's defaults for the industry, overridden by `quotas`)."""
        with container.transaction() as session:
            view = container.institutions(session).approve(
                institution_id,
                actor=admin.actor,
                reason=body.reason,
                price_plan=body.price_plan,
                quotas=body.quotas,
            )
        return _json(view.to_json())

    for verb in VERBS:
        _status_route(api, container, verb)
    return api


def _status_route(api: APIRouter, container: Container, verb: str) -> None:
    def change(
        institution_id: str,
        body: ReasonIn,
        admin: AdminPrincipal = Depends(require_action(f"institution.{verb}")),  # noqa: B008
    ) -> JSONBody:
        with container.transaction() as session:
            service = container.institutions(session)
            view: InstitutionView = getattr(service, verb)(
                institution_id, actor=admin.actor, reason=body.reason
            )
        return _json(view.to_json())

    change.__name__ = f"{verb}_institution"
    change.__doc__ = (
        f"`{verb}` the institution (status table: pending→active|rejected, "
        "active→suspended|frozen|revoked, suspended→active|revoked, frozen→active|revoked); "
        "anything else is 409 `invalid_transition`. Audited with the administrator and reason."
    )
    api.add_api_route(
        f"/v1/admin/institutions/{{institution_id}}/{verb}",
        change,
        methods=["POST"],
        tags=["admin"],
        response_model=InstitutionOut,
        responses=ERROR_RESPONSES,
    )
