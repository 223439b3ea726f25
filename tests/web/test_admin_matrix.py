"""Every route under /v1/admin, with every administrator role and with no token (issue 4 §2:
"100 % enforced, no endpoint missing from the matrix").

The routes are enumerated from the real app (``app.routes``), so a route added later is walked
too: one that does not declare its action through ``require_action`` (or names an action that
is not in :data:`netid.admins.matrix.MATRIX`) fails here. Allowed roles must get past the
authorisation (any answer but ``invalid_token`` / ``insufficient_role``); every other role
gets 403 ``insufficient_role``; no token gets 401 ``invalid_token``. Each authorised or denied
request must leave an ``admin.request`` access record naming its action.

Routes still on the older ``require_admin(roles)`` are violations too, except those listed in
:data:`AWAITING_REQUIRE_ACTION` (a route whose owner is converting it); those are walked with the
roles of the matrix action they will name.
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
from netid.web.auth import AdminAction, AdminRoles, require_admin
from tests.admins.support import admin_token

pytestmark = pytest.mark.db
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")

# Routes on require_admin(...) whose owners switch them to require_action(...): remove an entry
# once its route names its action (the log engineer's entry route, issue 4 §1).
AWAITING_REQUIRE_ACTION: dict[tuple[str, str], str] = {}


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
        and ((r.path or "").startswith("/v1/admin") or declared(getattr(r, "dependant", None)))
    ]


def declared(dependant: Dependant | None) -> list[AdminAction | AdminRoles]:
    """The administrator dependencies of a route, however deep."""
    if dependant is None:  # a plain Starlette route: no dependencies at all
        return []
    found: list[AdminAction | AdminRoles] = []
    for dep in dependant.dependencies:
        if isinstance(dep.call, AdminAction | AdminRoles):
            found.append(dep.call)
        found.extend(declared(dep))
    return found


def declared_actions(dependant: Dependant | None) -> list[str]:
    return [d.action for d in declared(dependant) if isinstance(d, AdminAction)]


def calls(route: Any) -> list[tuple[str, str]]:
    path = _PARAM.sub("0", route.path)
    return [(method, path) for method in sorted(route.methods or ())]


def violations(routes: list[Any]) -> list[tuple[str, str, str]]:
    """(method, path, what is wrong) for each route that does not name one matrix action."""
    found = []
    for route in routes:
        deps = declared(getattr(route, "dependant", None))
        actions = [d.action for d in deps if isinstance(d, AdminAction)]
        for method in sorted(route.methods):
            key = (method, route.path)
            if key in UNAUTHENTICATED_ROUTES:
                if deps:
                    found.append((*key, "the login takes no administrator token"))
            elif any(isinstance(d, AdminRoles) for d in deps):
                found.append((*key, "uses require_admin(...), not require_action(...)"))
            elif len(actions) != 1:
                found.append((*key, f"declares {actions}, not one require_action(...)"))
            elif actions[0] not in MATRIX:
                found.append((*key, f"{actions[0]!r} is not in the matrix"))
    return found


def test_every_admin_route_declares_one_action_of_the_matrix(container: Container) -> None:
    routes = admin_routes(container)
    assert len(routes) >= 14
    unexpected = [v for v in violations(routes) if v[:2] not in AWAITING_REQUIRE_ACTION]
    assert unexpected == []
    assert all(action in MATRIX for action in AWAITING_REQUIRE_ACTION.values())
    paths = {(m, r.path) for r in routes for m in r.methods}
    assert paths >= UNAUTHENTICATED_ROUTES


def test_a_route_without_an_action_is_caught(container: Container) -> None:
    app = create_app(container)

    @app.get("/v1/admin/_roles")
    def roles_only(
        admin: AdminPrincipal = Depends(require_admin("audit_admin")),  # noqa: B008
    ) -> dict[str, str]:
        return {}

    @app.get("/v1/admin/_public")
    def public() -> dict[str, str]:
        return {}

    @app.get("/v1/other/_unknown")
    def elsewhere(
        admin: AdminPrincipal = Depends(require_admin("reviewer")),  # noqa: B008
    ) -> dict[str, str]:
        return {}

    found = [v for v in violations(admin_routes(container, app)) if "_" in v[1].split("/")[-1]]
    assert found == [
        ("GET", "/v1/admin/_roles", "uses require_admin(...), not require_action(...)"),
        ("GET", "/v1/admin/_public", "declares [], not one require_action(...)"),
        ("GET", "/v1/other/_unknown", "uses require_admin(...), not require_action(...)"),
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
            awaiting = AWAITING_REQUIRE_ACTION.get((method, route.path))
            action = actions[0] if actions else awaiting
            assert action is not None, (method, route.path)
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
                recorded_action = action if actions else "unlisted"  # require_admin
                assert details["action"] == recorded_action, where
                assert details["role"] == role.value, where
                assert record["outcome"] == ("allowed" if allowed else "denied"), where
                assert details["route"] == f"{method} {route.path}", where
                walked += 1
                if client.get("/v1/admin/me", headers=headers).status_code == 401:
                    tokens[role] = admin_token(container, role.value)  # that was a logout
    assert walked >= 10 * len(AdminRole)
