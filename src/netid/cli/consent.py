"""``netid consent``: separate consents recorded at a counter, and ``netid registry mark``.

Until the wallet and the citizen portal exist (issues 5 and 7), a consent is recorded by an
operator from the person's signed form (channel ``counter``); the record names the operator.
Document numbers are read from standard input with ``-`` so they stay out of ``ps`` and the
shell history.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from netid.core.errors import NotFound

consent_app = typer.Typer(help="Separate consents (单独同意).", no_args_is_help=True)


def _number(document: str) -> str:
    return sys.stdin.readline().strip() if document == "-" else document


class InstitutionNotFound(NotFound):
    code = "institution_not_found"
    default_message = "No institution has that code."


@consent_app.command("grant")
def consent_grant(
    document: Annotated[str, typer.Option(help="The person's document number, or '-' (stdin)")],
    institution: Annotated[str, typer.Option(help="Institution code")],
    purpose: Annotated[str, typer.Option(help="Purpose code from the catalogue")],
    claims: Annotated[str, typer.Option(help="Comma-separated claims, e.g. name,document_number")],
    days: Annotated[int, typer.Option(min=1, max=365)] = 30,
) -> None:
    """Record that the person consented to give these claims to this institution."""
    from netid.cli.main import container, emit
    from netid.policy.schemas import AGE_MARKERS, PLAINTEXT_CLAIMS

    c = container()
    number = _number(document)
    with c.transaction() as session:
        found = c.institutions(session).by_code(institution)
        if found is None:
            raise InstitutionNotFound()
        person_id, key = c.registry(session).person_ref(number)
        view = c.consents(session).grant(
            person_id=person_id,
            person_key=key,
            institution_id=found.id,
            purpose=purpose,
            claims=[name.strip() for name in claims.split(",") if name.strip()],
            days=days,
            channel="counter",
            actor=c.operator_actor(),
            allowed_claims=frozenset(PLAINTEXT_CLAIMS) | frozenset(AGE_MARKERS),
        )
    emit(view.to_json())


@consent_app.command("list")
def consent_list(
    document: Annotated[str, typer.Option(help="The person's document number, or '-' (stdin)")],
) -> None:
    """The person's consents, live and past."""
    from netid.cli.main import container, emit

    c = container()
    with c.transaction() as session:
        person_id, key = c.registry(session).person_ref(_number(document))
        views = c.consents(session).of_person(person_id)
        c.recorder(session).record(
            actor=c.operator_actor(),
            action="consent.list",
            outcome="ok",
            subject_key=key,
            subject_id=person_id,
        )
    emit([v.to_json() for v in views])


@consent_app.command("revoke")
def consent_revoke(
    consent_id: str,
    document: Annotated[str, typer.Option(help="The person's document number, or '-' (stdin)")],
) -> None:
    """Revoke a consent; it stops counting from the next request."""
    from netid.cli.main import container, emit

    c = container()
    with c.transaction() as session:
        person_id, key = c.registry(session).person_ref(_number(document))
        view = c.consents(session).revoke(
            consent_id, person_id=person_id, person_key=key, actor=c.operator_actor()
        )
    emit(view.to_json())


def register_marker_commands(registry_app: typer.Typer) -> None:
    @registry_app.command("mark")
    def registry_mark(
        document: Annotated[str, typer.Option(help="Document number, or '-' (stdin)")],
        marker: Annotated[str, typer.Option(help="disputed or fraud_warning")],
        reason: Annotated[str, typer.Option(help="Case reference or short reason (sealed)")],
    ) -> None:
        """Mark a person: every later verification answer carries the marker."""
        from netid.cli.main import container, emit

        c = container()
        with c.registry_unit() as registry:
            registry.set_marker(_number(document), marker, reason=reason, actor=c.operator_actor())
        emit({"marker": marker, "set": True})

    @registry_app.command("unmark")
    def registry_unmark(
        document: Annotated[str, typer.Option(help="Document number, or '-' (stdin)")],
        marker: Annotated[str, typer.Option(help="disputed or fraud_warning")],
    ) -> None:
        """Clear a marker."""
        from netid.cli.main import container, emit

        c = container()
        with c.registry_unit() as registry:
            cleared = registry.clear_marker(_number(document), marker, actor=c.operator_actor())
        emit({"marker": marker, "cleared": cleared})
