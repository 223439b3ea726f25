"""Monitoring for the security administrator (issue 4 §3).

* ``GET /v1/admin/alerts`` (``status``, ``institution_id``, ``limit``), ``GET
  /v1/admin/alerts/{id}``, ``POST /v1/admin/alerts/{id}/resolve`` ``{reason}``. Resolving the
  alert of a freezing rule clears the institution's counters; unfreezing is the institutions
  route (``POST /v1/admin/institutions/{id}/unfreeze`` with a reason).
* ``GET /v1/admin/watchlist``, ``POST /v1/admin/watchlist`` ``{document_number}`` (201),
  ``POST /v1/admin/watchlist/remove`` ``{document_number}``: the number travels in the body,
  never in a URL (URLs end up in logs), and is stored only as its keyed blind index.
* ``GET /v1/admin/monitoring/rules``: the effective rules per industry;
  ``PUT /v1/admin/institutions/{id}/business-hours`` ``{business_hours | null}``: an
  institution's own declared hours (Asia/Shanghai), ``null`` for its industry's.

Every route names its action in the role × action matrix; each change is an access record.
Handlers are plain ``def`` (thread pool) and own their transaction.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from netid.container import Container
from netid.monitoring.errors import AlertNotFound
from netid.monitoring.schemas import AlertStatus, AlertView, IndustryRules, WatchEntryView
from netid.oauth.schemas import AdminPrincipal
from netid.web.auth import require_action
from netid.web.errors import ERROR_RESPONSES
from netid.web.responses import JSONBody

_NO_STORE = {"Cache-Control": "no-store"}
ListAlerts = Annotated[AdminPrincipal, Depends(require_action("alert.list"))]
ReadAlert = Annotated[AdminPrincipal, Depends(require_action("alert.read"))]
ResolveAlert = Annotated[AdminPrincipal, Depends(require_action("alert.resolve"))]
ListWatch = Annotated[AdminPrincipal, Depends(require_action("watchlist.list"))]
AddWatch = Annotated[AdminPrincipal, Depends(require_action("watchlist.add"))]
RemoveWatch = Annotated[AdminPrincipal, Depends(require_action("watchlist.remove"))]
ReadRules = Annotated[AdminPrincipal, Depends(require_action("rules.read"))]
UpdateRules = Annotated[AdminPrincipal, Depends(require_action("rules.update"))]


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1024)


class DocumentNumberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_number: str = Field(min_length=1, max_length=64)


class BusinessHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: list[str] = Field(min_length=1, max_length=7)
    start: str = Field(max_length=5)
    end: str = Field(max_length=5)


class BusinessHoursBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_hours: BusinessHoursIn | None


def _json(body: Any, status_code: int = 200) -> JSONBody:
    return JSONBody(body, status_code=status_code, headers=_NO_STORE)


def _alert(view: AlertView) -> dict[str, Any]:
    return view.model_dump(mode="json")


def _watch(view: WatchEntryView) -> dict[str, Any]:
    return view.model_dump(mode="json")


def _rules(rules: IndustryRules) -> dict[str, Any]:
    return {
        "business_hours": rules.business_hours.to_json(),
        "distinct_people": {
            "enabled": rules.distinct_people.enabled,
            "action": rules.distinct_people.action,
            "max_distinct": rules.distinct_people.max_distinct,
            "window_minutes": rules.distinct_people.window_minutes,
        },
        "off_hours_burst": {
            "enabled": rules.off_hours_burst.enabled,
            "action": rules.off_hours_burst.action,
            "burst": rules.off_hours_burst.burst,
            "window_minutes": rules.off_hours_burst.window_minutes,
        },
        "mismatch_ratio": {
            "enabled": rules.mismatch_ratio.enabled,
            "action": rules.mismatch_ratio.action,
            "max_ratio": rules.mismatch_ratio.max_ratio,
            "last_queries": rules.mismatch_ratio.last_queries,
            "window_minutes": rules.mismatch_ratio.window_minutes,
        },
        "watch_list": {
            "enabled": rules.watch_list.enabled,
            "action": rules.watch_list.action,
        },
    }


def router(container: Container) -> APIRouter:
    api = APIRouter(tags=["admin"])

    @api.get("/v1/admin/alerts", response_model=list[AlertView], responses=ERROR_RESPONSES)
    def list_alerts(
        admin: ListAlerts,
        status: Annotated[AlertStatus | None, Query()] = None,
        institution_id: Annotated[str | None, Query(max_length=32)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> JSONBody:
        """Alerts, newest first. Details carry counts and ids, never personal data."""
        with container.transaction() as session:
            views = container.monitoring(session).alerts(
                actor=admin.actor, status=status, institution_id=institution_id, limit=limit
            )
        return _json([_alert(v) for v in views])

    @api.get("/v1/admin/alerts/{alert_id}", response_model=AlertView, responses=ERROR_RESPONSES)
    def get_alert(alert_id: str, admin: ReadAlert) -> JSONBody:
        with container.transaction(write=False) as session:
            view = container.monitoring(session).alert(alert_id)
        if view is None:
            raise AlertNotFound()
        return _json(_alert(view))

    @api.post(
        "/v1/admin/alerts/{alert_id}/resolve",
        response_model=AlertView,
        responses=ERROR_RESPONSES,
    )
    def resolve_alert(alert_id: str, body: ResolveIn, admin: ResolveAlert) -> JSONBody:
        """Close an open alert with a reason (409 `alert_already_resolved` otherwise)."""
        with container.transaction() as session:
            view = container.monitoring(session).resolve(
                alert_id, actor=admin.actor, reason=body.reason
            )
        return _json(_alert(view))

    @api.get("/v1/admin/watchlist", response_model=list[WatchEntryView], responses=ERROR_RESPONSES)
    def list_watch(admin: ListWatch) -> JSONBody:
        """Watch-list entries (ids and who added them; the numbers are not stored)."""
        with container.transaction() as session:
            views = container.monitoring(session).watch_list(actor=admin.actor)
        return _json([_watch(v) for v in views])

    @api.post(
        "/v1/admin/watchlist",
        status_code=201,
        response_model=WatchEntryView,
        responses=ERROR_RESPONSES,
    )
    def add_watch(body: DocumentNumberIn, admin: AddWatch) -> JSONBody:
        """Watch a document number: every query for it opens an alert. Adding a watched
        number again answers the existing entry."""
        with container.transaction() as session:
            view = container.monitoring(session).watch_add(body.document_number, actor=admin.actor)
        return _json(_watch(view), status_code=201)

    @api.post(
        "/v1/admin/watchlist/remove", response_model=WatchEntryView, responses=ERROR_RESPONSES
    )
    def remove_watch(body: DocumentNumberIn, admin: RemoveWatch) -> JSONBody:
        """Stop watching a number (404 `watch_entry_not_found` if it is not watched)."""
        with container.transaction() as session:
            view = container.monitoring(session).watch_remove(
                body.document_number, actor=admin.actor
            )
        return _json(_watch(view))

    @api.get("/v1/admin/monitoring/rules", responses=ERROR_RESPONSES)
    def read_rules(admin: ReadRules) -> JSONBody:
        """The rules in force: the defaults and every industry's effective rules."""
        rules = container.monitoring_rules()
        industries = sorted(container.catalogue().industries)
        return _json(
            {
                "version": rules.version,
                "defaults": _rules(rules.defaults),
                "industries": {i: _rules(rules.for_industry(i)) for i in industries},
            }
        )

    @api.put("/v1/admin/institutions/{institution_id}/business-hours", responses=ERROR_RESPONSES)
    def set_business_hours(
        institution_id: str, body: BusinessHoursBody, admin: UpdateRules
    ) -> JSONBody:
        """Declare the institution's business hours (China Standard Time), or `null` to use
        its industry's. Queries outside them count toward the off-hours burst rule."""
        with container.transaction() as session:
            container.institutions(session).get(institution_id)  # 404 if there is none
            hours = container.monitoring(session).set_business_hours(
                institution_id,
                body.business_hours.model_dump() if body.business_hours else None,
                actor=admin.actor,
            )
        return _json(
            {
                "institution_id": institution_id,
                "business_hours": hours.to_json() if hours is not None else None,
            }
        )

    return api
