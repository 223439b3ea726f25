"""``netid admin``: interim administrator bearer tokens (until issue 4 brings password + TOTP
administrators). The token is printed once and never stored; minting it is an access record
(``admin.token``, actor = the local operator)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from netid.oauth.schemas import ADMIN_ROLES, ADMIN_TOKEN_TTL_SECONDS, MAX_ADMIN_TOKEN_TTL_SECONDS

if TYPE_CHECKING:
    from netid.container import Container

admin_app = typer.Typer(help="Administrators (interim bearer tokens).", no_args_is_help=True)


def _container() -> Container:
    from netid.cli.main import container

    return container()


@admin_app.command("token")
def admin_token(
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ADMIN_ROLES)}.")],
    actor: Annotated[
        str | None, typer.Option(help="Who holds the token (default: the local operator).")
    ] = None,
    ttl: Annotated[
        int, typer.Option(min=1, max=MAX_ADMIN_TOKEN_TTL_SECONDS, help="Lifetime in seconds.")
    ] = ADMIN_TOKEN_TTL_SECONDS,
    raw: Annotated[bool, typer.Option("--raw", help="Print the token alone.")] = False,
) -> None:
    """Print an administrator bearer token for the admin API."""
    from netid.cli.main import emit

    c = _container()
    operator = c.operator_actor()
    holder = f"admin:{actor}" if actor else operator
    with c.transaction() as session:
        token, expires_at = c.admin_tokens(session).mint(
            actor=holder, role=role, minted_by=operator, ttl=ttl
        )
    if raw:
        typer.echo(token)
        return
    emit(
        {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "expires_at": expires_at,
            "role": role,
            "actor": holder,
        }
    )
