"""Every route under /v1/admin, with every administrator role and with no token (issue 4 §2:
"100 % enforced, no endpoint missing from the matrix").

The routes are enumerated from the real app (``app.routes``), so a route added later is walked
too: one that does not declare its action through ``require_action`` (or names an action that
is not in :data:`netid.admins.matrix.MATRIX`) fails here. Allowed roles must get past the
authorisation (any answer but ``invalid_token`` / ``insufficient_role``); every other role
gets 403 ``insufficient_role``; no token gets 401 ``invalid_token``. Each authorised or denied
request must leave an ``admin.request`` access record naming its action.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient
from sqlalchemy import select

from netid.admins.matrix import MATRIX, UNAUTHENTICATED_ROUTES
from netid.admins.schemas import AdminRole
from netid.audit.models import AccessRecord
from netid.container import Container
from netid.oauth.schemas import AdminPrincipal
from netid.web.app import create_app
from netid.web.auth import AdminAction, require_admin
from tests.admins.support import admin_token

pytestmark = pytest.mark.db
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def all_routes(app: FastAPI) -> list[Any]:
    """Every route of the app with its path, methods and dependant (FastAPI >= 0.16x keeps
    included routers as such; ``iter_route_contexts`` flattens them)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are copied into app.routes
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def admin_routes(container: Container, app: FastAPI | None = None) -> list[Any]:
    """Routes under /v1/admin, and any other route that declares an administrator action."""
    routes = all_routes(app or create_app(container))
    return [
        r
        for r in routes
        if r.methods
        and (
            (r.path or "").startswith("/v1/admin")
            or declared_actions(getattr(r, "dependant", None))
        )
    ]


def declared_actions(dependant: Dependant | None) -> list[str]:
    if dependant is None:  # a plain Starlette route: no dependencies at all
        return []
    found = []
    for dep in dependant.dependencies:
        if isinstance(dep.call, AdminAction):
            found.append(dep.call.action)
        found.extend(declared_actions(dep))
    return found


def calls(route: Any) -> list[tuple[str, str]]:
    path = _PARAM.sub("0", route.path)
    return [(method, path) for method in sorted(route.methods or ())]


def violations(routes: list[Any]) -> list[str]:
    found = []
    for route in routes:
        actions = declared_actions(getattr(route, "dependant", None))
        for method in sorted(route.methods):
            where = f"{method} {route.path}"
            if (method, route.path) in UNAUTHENTICATED_ROUTES:
                if actions:
                    found.append(f"{where}: the login takes no administrator token")
            elif len(actions) != 1:
                found.append(f"{where}: declares {actions}, not one require_action(...)")
            elif actions[0] not in MATRIX:
                found.append(f"{where}: {actions[0]!r} is not in the matrix")
    return found


def test_every_admin_route_declares_one_action_of_the_matrix(container: Container) -> None:
    routes = admin_routes(container)
    assert len(routes) >= 14
    assert violations(routes) == []
    paths = {(m, r.path) for r in routes for m in r.methods}
    assert paths >= UNAUTHENTICATED_ROUTES


def test_a_route_without_an_action_is_caught(container: Container) -> None:
    app = create_app(container)

    @app.get("/v1/admin/_unlisted")
    def unlisted(
        admin: AdminPrincipal = Depends(require_admin("audit_admin")),  # noqa: B008
    ) -> dict[str, str]:
        return {}

    @app.get("/v1/admin/_public")
    def public() -> dict[str, str]:
        return {}

    found = violations(admin_routes(container, app))
    assert found == [
        "GET /v1/admin/_unlisted: declares [], not one require_action(...)",
        "GET /v1/admin/_public: declares [], not one require_action(...)",
    ]


def last_request_record(container: Container) -> dict[str, object]:
    with container.transaction(write=False) as session:
        record = session.scalars(
            select(AccessRecord)
            .where(AccessRecord.action == "admin.request")
            .order_by(AccessRecord.seq.desc())
            .limit(1)
        ).one()
    entry: dict[str, object] = json.loads(record.canonical)
    return entry


def test_every_admin_route_with_every_role_and_no_token(container: Container) -> None:
    client = TestClient(create_app(container))
    tokens = {role: admin_token(container, role.value) for role in AdminRole}
    walked = 0
    for route in admin_routes(container):
        actions = declared_actions(getattr(route, "dependant", None))
        for method, path in calls(route):
            if (method, route.path) in UNAUTHENTICATED_ROUTES:
                continue
            action = actions[0]
            anonymous = client.request(method, path, json={})
            assert anonymous.status_code == 401, (method, path)
            assert anonymous.json()["error"]["code"] == "invalid_token"
            for role in AdminRole:
                headers = {"Authorization": f"Bearer {tokens[role]}"}
                response = client.request(method, path, json={}, headers=headers)
                code = response.json()["error"]["code"] if response.status_code >= 400 else None
                where = (method, path, role.value, response.status_code, code)
                allowed = role in MATRIX[action].roles
                if allowed:
                    assert code not in {"invalid_token", "insufficient_role"}, where
                else:
                    assert response.status_code == 403 and code == "insufficient_role", where
                record = last_request_record(container)
                details = record["details"]
                assert isinstance(details, dict)
                assert details["action"] == action and details["role"] == role.value, where
                assert record["outcome"] == ("allowed" if allowed else "denied"), where
                assert details["route"] == f"{method} {route.path}", where
                walked += 1
                if client.get("/v1/admin/me", headers=headers).status_code == 401:
                    tokens[role] = admin_token(container, role.value)  # that was a logout
    assert walked >= 10 * len(AdminRole)
