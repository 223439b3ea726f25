"""``netid documents``: check document numbers from the command line.

Typer/rich stay in this file; the logic is :mod:`netid.documents`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from netid.documents import DocumentType, check_document_number, check_uscc

app = typer.Typer(
    help="Validate Chinese identity document numbers (GB 11643 and related formats).",
    no_args_is_help=True,
)


@app.callback()
def _group() -> None:
    """Validate Chinese identity document numbers (GB 11643 and related formats)."""


def _line(result: dict[str, Any]) -> str:
    return json.dumps(result, ensure_ascii=False, separators=(",", ":"))


@app.command("check")
def check(
    numbers: Annotated[
        list[str], typer.Argument(help="Document numbers to check.", show_default=False)
    ],
    uscc: Annotated[
        bool, typer.Option("--uscc", help="Check as unified social credit codes (GB 32100).")
    ] = False,
    expected_type: Annotated[
        DocumentType | None,
        typer.Option("--type", help="Require this document type (else rule type_mismatch)."),
    ] = None,
) -> None:
    """Print one JSON object per NUMBER, one per line; exit 1 if any is invalid."""
    if uscc and expected_type is not None:
        raise typer.BadParameter("--uscc and --type cannot be combined.")
    all_valid = True
    for number in numbers:
        result = (
            check_uscc(number).to_json()
            if uscc
            else check_document_number(number, expected_type=expected_type).to_json()
        )
        all_valid = all_valid and bool(result["valid"])
        typer.echo(_line(result))
    if not all_valid:
        raise typer.Exit(code=1)
