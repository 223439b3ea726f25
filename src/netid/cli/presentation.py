"""``netid verify-presentation``: an institution checks a network-credential presentation offline.

It needs only the platform's public JWKS and the credential's status list token, fetched over
HTTP(S) or read from files (:mod:`netid.credentials.presentation`). On success it prints the
disclosed claims as JSON; on refusal one JSON error line on stderr (its ``code``, e.g.
``credential_revoked``) and a non-zero exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Final

import orjson
import typer

from netid.core.errors import NetidError

MAX_PRESENTATION_BYTES: Final = 64 * 1024


def _is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))


def _read_presentation(source: str) -> str:
    from netid.credentials.errors import CredentialMalformed

    if source == "-":
        data = sys.stdin.read(MAX_PRESENTATION_BYTES + 1)
    else:
        try:
            with Path(source).open("r", encoding="ascii") as handle:
                data = handle.read(MAX_PRESENTATION_BYTES + 1)
        except UnicodeDecodeError:
            raise CredentialMalformed() from None
    if len(data) > MAX_PRESENTATION_BYTES:
        raise CredentialMalformed()
    return data.strip()


def verify_presentation_command(
    presentation: Annotated[
        str, typer.Argument(help="The presentation (SD-JWT+KB) file, or '-' for standard input")
    ],
    nonce: Annotated[str, typer.Option(help="The nonce you gave the holder")],
    audience: Annotated[str, typer.Option(help="Your audience (client id) the holder signed for")],
    jwks: Annotated[
        str | None,
        typer.Option(help="Issuer JWKS: URL or file (default <server>/v1/credentials/jwks)"),
    ] = None,
    status_list: Annotated[
        str | None,
        typer.Option(help="Status list token: URL or file (default: the credential's status URI)"),
    ] = None,
    server: Annotated[
        str | None, typer.Option(help="The platform's public URL, e.g. https://id.example")
    ] = None,
    issuer: Annotated[
        str | None, typer.Option(help="Refuse credentials whose iss is not this URL")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.5, max=120, help="HTTP timeout (s)")] = 5.0,
) -> None:
    """Verify a credential presentation: issuer signature, key binding, nonce, audience, status."""
    from netid.cli.errors import report_error
    from netid.credentials import presentation as checks

    if not nonce.strip() or not audience.strip():
        # An empty nonce or audience would check the key binding against nothing.
        raise typer.BadParameter("--nonce and --audience must not be empty")
    try:
        text = _read_presentation(presentation)
        base = server.rstrip("/") if server else None
        if jwks is None:
            if base is None:
                raise typer.BadParameter("give --jwks or --server")
            jwks_document = checks.fetch_jwks(base + checks.JWKS_PATH, timeout=timeout)
        elif _is_url(jwks):
            jwks_document = checks.fetch_jwks(jwks, timeout=timeout)
        else:
            jwks_document = checks.read_jwks_file(Path(jwks))
        source: checks.StatusListSource
        if status_list is None:
            source = checks.http_status_list_source(
                timeout=timeout, allowed_prefix=base + "/" if base else None
            )
        elif _is_url(status_list):
            source = checks.fetch_status_list(status_list, timeout=timeout)
        else:
            source = checks.read_status_list_file(Path(status_list))
        result = checks.verify_presentation(
            text,
            jwks=jwks_document,
            status_list_token=source,
            audience=audience,
            nonce=nonce,
            expected_issuer=issuer,
        )
    except (NetidError, OSError) as exc:
        raise typer.Exit(code=report_error(exc)) from None
    sys.stdout.write(orjson.dumps(result.to_json()).decode() + "\n")


def register_presentation_commands(app: typer.Typer) -> None:
    """Add ``verify-presentation`` to the top-level ``netid`` command."""
    app.command("verify-presentation")(verify_presentation_command)
