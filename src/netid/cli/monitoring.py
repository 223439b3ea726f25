"""``netid monitoring``: alerts and the watch list (the security administrator's work at the
console; over HTTP it is ``/v1/admin/alerts`` and ``/v1/admin/watchlist``).

Typer stays in this file; the logic is :mod:`netid.monitoring`. Every command owns its
transaction; the actor is the local operator (``container.operator_actor()``). A document
number is read with ``--document -`` from stdin, so it stays out of the shell history and the
process list.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from netid.monitoring.schemas import AlertStatus

if TYPE_CHECKING:
    from netid.container import Container

monitoring_app = typer.Typer(
    help="Anomaly monitoring: alerts, their resolution, the watch list.", no_args_is_help=True
)
watch_app = typer.Typer(
    help="The watch list (numbers stored as keyed hashes).", no_args_is_help=True
)
monitoring_app.add_typer(watch_app, name="watch")

Document = Annotated[
    str, typer.Option("--document", help="The document number, or '-' to read it from stdin.")
]


def _container() -> Container:
    from netid.cli.main import container

    return container()


def _emit(obj: Any) -> None:
    from netid.cli.main import emit

    emit(obj)


def _number(document: str) -> str:
    return sys.stdin.readline().strip() if document == "-" else document


@monitoring_app.command("alerts")
def alerts(
    status: Annotated[
        AlertStatus | None, typer.Option("--status", help="Only open or only resolved alerts.")
    ] = None,
    institution: Annotated[
        str | None, typer.Option("--institution", help="Only this institution's (its id).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
) -> None:
    """Alerts, newest first, one JSON object per line."""
    c = _container()
    with c.transaction() as session:
        views = c.monitoring(session).alerts(
            actor=c.operator_actor(), status=status, institution_id=institution, limit=limit
        )
    for view in views:
        _emit(view.model_dump(mode="json"))


@monitoring_app.command("resolve")
def resolve(
    alert_id: Annotated[str, typer.Argument(help="The alert's id.", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded with the resolution).")],
) -> None:
    """Resolve an open alert. Unfreeze the institution afterwards with
    ``netid institutions unfreeze ID --reason``."""
    c = _container()
    with c.transaction() as session:
        view = c.monitoring(session).resolve(alert_id, actor=c.operator_actor(), reason=reason)
    _emit(view.model_dump(mode="json"))


@watch_app.command("add")
def watch_add(document: Document) -> None:
    """Watch a document number: every query for it opens an alert."""
    number = _number(document)
    c = _container()
    with c.transaction() as session:
        view = c.monitoring(session).watch_add(number, actor=c.operator_actor())
    _emit(view.model_dump(mode="json"))


@watch_app.command("remove")
def watch_remove(document: Document) -> None:
    """Stop watching a document number."""
    number = _number(document)
    c = _container()
    with c.transaction() as session:
        view = c.monitoring(session).watch_remove(number, actor=c.operator_actor())
    _emit(view.model_dump(mode="json"))


@watch_app.command("list")
def watch_list() -> None:
    """Watch-list entries (ids, who added them and when; never the numbers)."""
    c = _container()
    with c.transaction() as session:
        views = c.monitoring(session).watch_list(actor=c.operator_actor())
    for view in views:
        _emit(view.model_dump(mode="json"))
