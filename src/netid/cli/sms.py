"""``netid sms outbox``: the embedded SMS sender's outbox, the stand-in for the phone.

Texts are shown in full (the one-time code must be readable here, as on the phone); phones are
masked unless ``--show-phone``. Every read is an access record.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

sms_app = typer.Typer(help="Text messages (the embedded outbox).", no_args_is_help=True)


@sms_app.command("outbox")
def sms_outbox(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many messages")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array on stdout")] = False,
    show_phone: Annotated[bool, typer.Option("--show-phone", help="Phones unmasked")] = False,
    phone: Annotated[
        str | None, typer.Option(help="Only messages to this E.164 number, or '-' (stdin)")
    ] = None,
) -> None:
    """The latest messages, newest first (the read is recorded)."""
    from netid.cli.main import container, emit

    if phone == "-":  # keeps the number out of `ps` and shell history
        phone = sys.stdin.readline().strip()
    c = container()
    with c.transaction() as session:
        messages = c.outbox(session).list(
            limit, actor=c.operator_actor(), show_phone=show_phone, phone=phone
        )
    if as_json:
        emit([m.to_json() for m in messages])
        return
    # fold, never ellipsise: the text is what the phone would show, the code must be readable
    table = Table()
    for column in ("sent", "to", "purpose", "text"):
        table.add_column(column, overflow="fold")
    for m in messages:
        table.add_row(m.created_at.isoformat(timespec="seconds"), m.phone, m.purpose, m.text)
    Console().print(table)
