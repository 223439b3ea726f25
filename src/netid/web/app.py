"""The HTTP application: health, readiness, OpenAPI docs and the public document check.

Built by :func:`create_app` from a :class:`~netid.container.Container` (the composition root);
``netid serve`` runs it under uvicorn.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netid.container import Container
from netid.core.clock import today_in_china
from netid.core.fields import ShortText
from netid.db.engine import check_database
from netid.db.migrate import is_up_to_date
from netid.documents import check_document_number, check_uscc
from netid.web import (
    routes_accounts,
    routes_admin,
    routes_billing,
    routes_citizens,
    routes_enrolment,
    routes_institutions,
    routes_log,
    routes_monitoring,
    routes_oauth,
    routes_oidc,
    routes_verification,
    routes_wallet,
)
from netid.web.errors import error_response, install_error_handlers
from netid.web.pages import StaticAssets
from netid.web.responses import JSONBody

MAX_BODY_BYTES = 1024 * 1024


class BodyLimit:
    """Refuse bodies over the limit with 413 before the app sees them (SEC-46).

    A declared Content-Length over the limit is refused without reading. Otherwise the body is
    read here (it is at most ``limit`` bytes, so buffering it is cheap) and counted as it
    arrives, which also holds for chunked bodies that declare no length; the app then gets the
    buffered body through its own ``receive``. An exception raised from ``receive`` instead
    would be swallowed by FastAPI's body parsing and answered with 400.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await self._refuse(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect: nobody to answer
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:  # the body is spent: what follows is the client's disconnect
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(413, "payload_too_large", "The body is too large.")(
            scope, receive, send
        )


class DocumentCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numbers: list[ShortText] = Field(min_length=1, max_length=100)
    uscc: bool = False


class DocumentCheckResponse(BaseModel):
    results: list[dict[str, Any]]


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="netid",
        version="0.1.0",
        summary="National network identity authentication public service",
    )
    install_error_handlers(app)
    app.state.container = container  # read by netid.web.auth's dependencies
    # The hot route first, as a plain Starlette route (netid.web.routes_verification).
    app.router.routes[:0] = routes_verification.lean_routes(container)
    app.include_router(routes_institutions.router(container))
    app.include_router(routes_admin.router(container))
    app.include_router(routes_oauth.router(container))
    app.include_router(routes_verification.router(container))
    app.include_router(routes_billing.router(container))
    app.include_router(routes_log.router(container))
    app.include_router(routes_monitoring.router(container))
    app.include_router(routes_enrolment.router(container))
    app.include_router(routes_wallet.router(container))
    app.include_router(routes_citizens.router(container))
    app.include_router(routes_oidc.router(container))
    app.include_router(routes_accounts.router(container))
    # The pages' CSS and scripts (netid/web/static), for the CSP's 'self' sources.
    app.mount("/static", StaticAssets(), name="static")

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "Not ready"}})
    async def readyz() -> JSONBody:
        """Readiness: the database answers and its schema is at the newest migration."""
        try:
            check_database(container.engine)
            migrated = is_up_to_date(container.engine)
        except Exception:  # any driver failure means "not ready", never a 500
            return error_response(503, "database_unavailable", "The database does not answer.")
        if not migrated:
            return error_response(503, "schema_outdated", "Run 'netid db upgrade'.")
        if not container.counters_ready():  # Redis down: verifications fail closed
            return error_response(
                503, "monitoring_unavailable", "The counter store does not answer."
            )
        return JSONBody({"status": "ready"})

    @app.post("/v1/documents/check", tags=["documents"], response_model=DocumentCheckResponse)
    async def documents_check(body: DocumentCheckRequest) -> JSONBody:
        """Check identity document numbers (or USCCs) against their format rules.

        Pure: nothing is looked up or stored, so nothing is recorded.
        """
        today = today_in_china(container.clock)
        results = [
            (check_uscc(n) if body.uscc else check_document_number(n, today=today)).to_json()
            for n in body.numbers
        ]
        return JSONBody({"results": results}, headers={"Cache-Control": "no-store"})

    app.add_middleware(BodyLimit)
    return app
