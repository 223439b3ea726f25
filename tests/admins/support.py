"""Administrators for tests: create an account of a role and log it in (password + TOTP).

Use ``admin_headers(container, "security_admin")`` wherever a test needs an administrator's
``Authorization`` header; it goes through the real login (argon2id, TOTP, one session)."""

from __future__ import annotations

import datetime as dt
import itertools

import pyotp

from netid.admins.schemas import AccountView
from netid.container import Container

PASSWORD = "correct horse battery staple"
_counter = itertools.count()


def totp_secret(provisioning_uri: str) -> str:
    otp = pyotp.parse_uri(provisioning_uri)
    assert isinstance(otp, pyotp.TOTP)
    return otp.secret


def code(secret: str, at: dt.datetime, *, steps: int = 0) -> str:
    """The code of the time step ``steps`` away from ``at``'s."""
    return pyotp.TOTP(secret).at(at + dt.timedelta(seconds=30 * steps))


def create_admin(
    container: Container, role: str, username: str | None = None, password: str = PASSWORD
) -> tuple[AccountView, str]:
    """(account, base32 TOTP secret)."""
    name = username or f"{role.replace('_', '')}{next(_counter)}"
    with container.transaction() as session:
        created = container.admins(session).create(
            username=name, role=role, password=password, actor="operator:test"
        )
    return created.account, totp_secret(created.provisioning_uri)


def login(container: Container, account: AccountView, secret: str, *, steps: int = 0) -> str:
    now = container.clock.now()
    with container.transaction() as session:
        result = container.admins(session).login(
            username=account.username, password=PASSWORD, code=code(secret, now, steps=steps)
        )
    assert result is not None, "login failed"
    return result.token


def admin_token(container: Container, role: str) -> str:
    account, secret = create_admin(container, role)
    return login(container, account, secret)


def admin_headers(container: Container, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token(container, role)}"}
