"""``netid admin``: administrator accounts (issue 4 §2).

* ``netid admin create --role ROLE --username NAME`` bootstraps an account. The password comes
  from a hidden prompt (asked twice) or, with ``--password-stdin``, from the first line of
  standard input: never from an argument, which other users could read in the process list.
  The TOTP provisioning URI (``otpauth://totp/...``, RFC 6238 secret inside) is printed once;
  add it to an authenticator app, then log in with ``POST /v1/admin/login``.
* ``netid admin list``: the accounts (no secrets, no hashes).
* ``netid admin disable NAME``: disables the account and ends its session at once.

Each is an access record by the local operator (``operator:<user>``). There is no command
that mints an administrator token without a login: administrators log in with password + TOTP.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from netid.admins.schemas import AdminRole
from netid.core.errors import InvalidInput

if TYPE_CHECKING:
    from netid.container import Container

admin_app = typer.Typer(
    help="Administrators: create, list, disable (they log in with password + TOTP).",
    no_args_is_help=True,
)

ROLES = ", ".join(r.value for r in AdminRole)


def _container() -> Container:
    from netid.cli.main import container

    return container()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise InvalidInput("No password on standard input.")
        return password
    prompted: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return prompted


@admin_app.command("create")
def admin_create(
    role: Annotated[str, typer.Option(help=f"One of: {ROLES}.")],
    username: Annotated[str, typer.Option(help="3-32 characters: a-z, then a-z 0-9 _ . -")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an administrator; prints the TOTP provisioning URI once."""
    from netid.cli.main import emit

    password = _read_password(password_stdin)
    c = _container()
    with c.transaction() as session:
        created = c.admins(session).create(
            username=username, role=role, password=password, actor=c.operator_actor()
        )
    emit(
        {
            **created.account.to_json(),
            "totp_provisioning_uri": created.provisioning_uri,
            "note": "Shown once: add it to an authenticator app (RFC 6238, 30 s, 6 digits).",
        }
    )


@admin_app.command("list")
def admin_list() -> None:
    """List the administrator accounts."""
    from netid.cli.main import emit

    c = _container()
    with c.transaction(write=False) as session:
        views = c.admins(session).accounts()
    emit([v.to_json() for v in views])


@admin_app.command("disable")
def admin_disable(
    username: Annotated[str, typer.Argument(help="The account's username.", show_default=False)],
) -> None:
    """Disable an account; its session ends at once."""
    from netid.cli.main import emit

    c = _container()
    with c.transaction() as session:
        view = c.admins(session).disable(username, actor=c.operator_actor())
    emit(view.to_json())
