"""The transparency log over HTTP (issue 4 §1).

* ``GET /v1/log/checkpoint`` — the latest signed checkpoint (C2SP tlog-checkpoint in a signed
  note; ``text/plain``), signed with SM2 and Ed25519. No authentication: it reveals hashes only.
* ``GET /v1/log/proof/inclusion?index=&tree_size=`` — ``{"index", "tree_size", "leaf_hash",
  "hashes"}``, the RFC 9162 §2.1.3.1 PATH (leaf to root), hashes in standard base64.
* ``GET /v1/log/proof/consistency?first=&second=`` — ``{"first", "second", "hashes"}``, the
  RFC 9162 §2.1.4.1 PROOF. Any tree size up to the current one may be asked for (stored
  perfect subtrees never change); a client normally uses a signed checkpoint's size.
* ``GET /v1/log/entries/{index}`` — the entry itself, for the audit administrator only; the
  read is itself recorded.

Bad parameters are 400 ``invalid_proof_request`` with ``details.reason``; never a 500.
The router's lifespan cuts checkpoints every T seconds or N entries (several workers may each
run it: the tree size is the checkpoint's primary key, so a duplicate cut does nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from netid.audit.errors import InvalidProofRequest
from netid.container import Container
from netid.oauth.schemas import AdminPrincipal
from netid.web.auth import require_action
from netid.web.errors import ERROR_RESPONSES
from netid.web.responses import JSONBody

logger = logging.getLogger(__name__)
MAX_INDEX = (1 << 63) - 1
_PUBLIC = {"Cache-Control": "no-cache"}


def _integer(value: str | None, name: str) -> int:
    # Parsed here (not by FastAPI) so that a bad value is our 400 with a code, not a 422.
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 19:
        raise InvalidProofRequest(name, f"'{name}' must be a non-negative integer.")
    number = int(value)
    if number > MAX_INDEX:
        raise InvalidProofRequest(name, f"'{name}' must be a non-negative integer.")
    return number


def cut_if_due(container: Container) -> int | None:
    """One tick of the checkpoint task: the size cut, or None. Checks in a read transaction
    first, so an idle log costs no write lock."""
    every, entries = container.log_checkpoint_policy()
    with container.transaction(write=False) as session:
        status = container.audit(session).status()
    if status.size == (status.latest_checkpoint or 0):
        return None
    with container.transaction() as session:
        cut = container.audit(session).cut_checkpoint(min_entries=entries, max_age_seconds=every)
    return cut.tree_size if cut else None


async def _checkpoint_loop(container: Container, every: float, stop: asyncio.Event) -> None:
    tick = min(1.0, every)  # N entries are noticed within a second; T bounds the age
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), tick)
            return
        try:
            await asyncio.to_thread(cut_if_due, container)
        except Exception as exc:  # never kill the task; the next tick retries
            logger.warning("checkpoint cut failed: %s", type(exc).__name__)


def router(container: Container) -> APIRouter:
    # Plain ``def`` handlers: they block on the database, so they run in the thread pool and
    # never stall the event loop that serves every other request of this worker.
    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        every, _ = container.log_checkpoint_policy()
        stop = asyncio.Event()
        task = asyncio.create_task(_checkpoint_loop(container, every, stop)) if every > 0 else None
        try:
            yield
        finally:
            if task is not None:
                stop.set()
                await task  # lets a cut in progress finish: nothing half-done at shutdown

    api = APIRouter(tags=["transparency log"], lifespan=lifespan)

    @api.get(
        "/v1/log/checkpoint",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "The signed note"}},
    )
    def checkpoint() -> Response:
        """The latest signed checkpoint (c2sp.org/tlog-checkpoint, c2sp.org/signed-note)."""
        with container.transaction(write=False) as session:
            latest = container.audit(session).latest_checkpoint()
        return Response(latest.note, media_type="text/plain; charset=utf-8", headers=_PUBLIC)

    @api.get("/v1/log/proof/inclusion", responses=ERROR_RESPONSES)
    def inclusion(
        index: Annotated[str | None, Query()] = None,
        tree_size: Annotated[str | None, Query()] = None,
    ) -> JSONBody:
        """RFC 9162 §2.1.3 inclusion proof of entry ``index`` in the tree of ``tree_size``."""
        i, n = _integer(index, "index"), _integer(tree_size, "tree_size")
        with container.transaction(write=False) as session:
            proof = container.audit(session).inclusion_proof(i, n)
        return JSONBody(proof.to_json(), headers=_PUBLIC)

    @api.get("/v1/log/proof/consistency", responses=ERROR_RESPONSES)
    def consistency(
        first: Annotated[str | None, Query()] = None,
        second: Annotated[str | None, Query()] = None,
    ) -> JSONBody:
        """RFC 9162 §2.1.4 consistency proof between the trees of ``first`` and ``second``."""
        m, n = _integer(first, "first"), _integer(second, "second")
        with container.transaction(write=False) as session:
            proof = container.audit(session).consistency_proof(m, n)
        return JSONBody(proof.to_json(), headers=_PUBLIC)

    @api.get("/v1/log/entries/{index}", responses=ERROR_RESPONSES)
    def entry(
        index: str, admin: Annotated[AdminPrincipal, Depends(require_action("log.read_entry"))]
    ) -> JSONBody:
        """One entry's content, for the audit administrator; the read is recorded."""
        i = _integer(index, "index")
        with container.transaction() as session:
            found = container.audit(session).entry(i)
            container.recorder(session).record(
                actor=admin.actor,
                action="log.entry_read",
                outcome="ok",
                details={"index": i},
            )
        return JSONBody(found, headers={"Cache-Control": "no-store"})

    return api
