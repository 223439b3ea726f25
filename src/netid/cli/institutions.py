"""``netid institutions``: applications, approval, status changes and quotas.

Typer stays in this file; the logic is :mod:`netid.institutions`. Every command owns its
transaction; the actor is the local operator (``container.operator_actor()``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pydantic
import typer

from netid.core.errors import InvalidInput
from netid.institutions.schemas import ApplicationIn, InstitutionStatus

if TYPE_CHECKING:
    from netid.container import Container
    from netid.institutions.service import InstitutionService

institutions_app = typer.Typer(
    help="Relying institutions: apply, approve, freeze, quotas.", no_args_is_help=True
)

_MAX_FILE_BYTES = 256 * 1024
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded with the change).")]
InstitutionId = Annotated[str, typer.Argument(help="The institution's id.", show_default=False)]


def _container() -> Container:
    from netid.cli.main import container

    return container()


def _emit(obj: Any) -> None:
    from netid.cli.main import emit

    emit(obj)


def invalid_application(error: pydantic.ValidationError) -> InvalidInput:
    """Where and what kind, never the values (they may be personal data)."""
    problems = [
        {"location": [str(p) for p in err["loc"]], "type": err["type"]}
        for err in error.errors(include_input=False, include_context=False, include_url=False)
    ]
    return InvalidInput("The application is not valid.", details={"problems": problems})


def read_application(path: Path) -> ApplicationIn:
    with path.open("rb") as handle:
        data = handle.read(_MAX_FILE_BYTES + 1)
    if len(data) > _MAX_FILE_BYTES:
        raise InvalidInput("The application file is too large.")
    try:
        return ApplicationIn.model_validate_json(data)
    except pydantic.ValidationError as exc:
        raise invalid_application(exc) from None


def _change(verb: str, institution_id: str, reason: str) -> None:
    c = _container()
    with c.transaction() as session:
        service: InstitutionService = c.institutions(session)
        view = getattr(service, verb)(institution_id, actor=c.operator_actor(), reason=reason)
    _emit(view.to_json())


@institutions_app.command("apply")
def apply(
    file: Annotated[Path, typer.Option("--file", help="The application (JSON).", dir_okay=False)],
) -> None:
    """Submit an application; prints its id and status."""
    application = read_application(file)
    c = _container()
    with c.transaction() as session:
        view = c.institutions(session).apply(application, actor=c.operator_actor())
    _emit({"id": view.id, "status": view.status.value})


def _quotas(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or not number.isascii() or not number.isdigit():
            raise InvalidInput("A quota is written TYPE=N, e.g. id2=10000.")
        out[name.strip()] = int(number)
    return out


@institutions_app.command("approve")
def approve(
    institution_id: InstitutionId,
    reason: Reason,
    price_plan: Annotated[str | None, typer.Option("--price-plan")] = None,
    quota: Annotated[
        list[str] | None, typer.Option("--quota", help="TYPE=N monthly limit (repeatable).")
    ] = None,
) -> None:
    """Approve a pending application: assigns code, client id, price plan and quotas."""
    quotas = _quotas(quota or [])
    c = _container()
    with c.transaction() as session:
        view = c.institutions(session).approve(
            institution_id,
            actor=c.operator_actor(),
            reason=reason,
            price_plan=price_plan,
            quotas=quotas or None,
        )
    _emit(view.to_json())


@institutions_app.command("reject")
def reject(institution_id: InstitutionId, reason: Reason) -> None:
    """Reject a pending application."""
    _change("reject", institution_id, reason)


@institutions_app.command("suspend")
def suspend(institution_id: InstitutionId, reason: Reason) -> None:
    """Suspend an active institution (reinstate undoes it)."""
    _change("suspend", institution_id, reason)


@institutions_app.command("freeze")
def freeze(institution_id: InstitutionId, reason: Reason) -> None:
    """Freeze an active institution: refused from its very next request."""
    _change("freeze", institution_id, reason)


@institutions_app.command("unfreeze")
def unfreeze(institution_id: InstitutionId, reason: Reason) -> None:
    """Unfreeze a frozen institution."""
    _change("unfreeze", institution_id, reason)


@institutions_app.command("reinstate")
def reinstate(institution_id: InstitutionId, reason: Reason) -> None:
    """Reinstate a suspended institution."""
    _change("reinstate", institution_id, reason)


@institutions_app.command("revoke")
def revoke(institution_id: InstitutionId, reason: Reason) -> None:
    """Revoke an institution for good."""
    _change("revoke", institution_id, reason)


@institutions_app.command("show")
def show(institution_id: InstitutionId) -> None:
    """The institution and its status history (no personal data)."""
    c = _container()
    with c.transaction(write=False) as session:
        service = c.institutions(session)
        view = service.get(institution_id)
        history = service.history(institution_id)
    _emit({**view.to_json(), "history": [h.to_json() for h in history]})


@institutions_app.command("list")
def list_(
    status: Annotated[InstitutionStatus | None, typer.Option("--status")] = None,
) -> None:
    """Institutions, oldest first (one JSON array)."""
    c = _container()
    with c.transaction(write=False) as session:
        views = c.institutions(session).list(status=status)
    _emit([v.to_json() for v in views])


@institutions_app.command("quota")
def quota(institution_id: InstitutionId) -> None:
    """This month's quotas and usage (month in China time)."""
    c = _container()
    with c.transaction(write=False) as session:
        rows = c.institutions(session).quota_status(institution_id)
    _emit([q.to_json() for q in rows])
