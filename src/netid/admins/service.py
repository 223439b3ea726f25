"""Administrator use cases: create, list, disable, log in (password + TOTP), authorise a
request under the role × action matrix, log out, and the audit administrator's reading of the
administrators' actions.

Services flush and never commit. :meth:`AdminService.login` therefore *returns* ``None`` on a
failed attempt instead of raising: the failure counter, the lock and the access record must be
committed, and the caller raises :class:`~netid.admins.errors.LoginFailed` after its
transaction (``netid.web.routes_admin``).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import secrets
from collections.abc import Mapping, Sequence

from netid.admins import passwords, totp
from netid.admins.errors import (
    AdminExists,
    AdminNotFound,
    InvalidUsername,
    PasswordRejected,
    UnknownRole,
)
from netid.admins.matrix import roles_for
from netid.admins.models import AdminAccount
from netid.admins.repository import AdminRepository
from netid.admins.schemas import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    USERNAME_PATTERN,
    AccountView,
    AdminAction,
    AdminRole,
    AdminTokenIssuer,
    Decision,
    LoginResult,
    NewAccount,
    admin_actor,
    lockout_delay,
)
from netid.audit.service import AccessRecorder
from netid.core.clock import Clock
from netid.core.ids import new_row_id
from netid.crypto.sealing import open_sealed, seal, sealed_key_id
from netid.keys.schemas import KeyPurpose
from netid.keys.service import Keyring

_USERNAME_RE = re.compile(USERNAME_PATTERN)
_TABLE, _TOTP_COLUMN = "admin_account", "totp_secret"
ANONYMOUS = "anonymous"
MAX_ACTIONS_PAGE = 1000


def _view(row: AdminAccount) -> AccountView:
    return AccountView(
        id=row.id,
        username=row.username,
        role=AdminRole(row.role),
        enabled=row.enabled,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
        last_login_at=row.last_login_at,
    )


def check_password_rules(password: str, username: str) -> None:
    normal = passwords.normalise(password)
    if not PASSWORD_MIN_LENGTH <= len(normal) <= PASSWORD_MAX_LENGTH:
        raise PasswordRejected()
    if normal.casefold() == username.casefold():
        raise PasswordRejected()


class AdminService:
    def __init__(
        self,
        *,
        repository: AdminRepository,
        keyring: Keyring,
        recorder: AccessRecorder,
        clock: Clock,
        issue_token: AdminTokenIssuer,
    ) -> None:
        self._repo = repository
        self._keyring = keyring
        self._recorder = recorder
        self._clock = clock
        self._issue_token = issue_token

    # -- accounts ---------------------------------------------------------------------------
    def create(self, *, username: str, role: str, password: str, actor: str) -> NewAccount:
        """A new enabled account with a fresh TOTP secret (sealed under the data key)."""
        if not isinstance(username, str) or not _USERNAME_RE.match(username):
            raise InvalidUsername()
        try:
            admin_role = AdminRole(role)
        except ValueError:
            raise UnknownRole(details={"roles": [r.value for r in AdminRole]}) from None
        check_password_rules(password, username)
        if self._repo.by_username(username) is not None:
            raise AdminExists()
        row_id = new_row_id()
        secret = totp.new_secret()
        row = AdminAccount(
            id=row_id,
            username=username,
            role=admin_role.value,
            password_hash=passwords.hash_password(password),
            totp_sealed=seal(
                self._keyring.active_seal_key(KeyPurpose.DATA),
                secret,
                table=_TABLE,
                column=_TOTP_COLUMN,
                row_id=row_id,
            ),
            totp_last_step=None,
            failed_count=0,
            locked_until=None,
            enabled=True,
            session_jti=None,
            created_at=self._clock.now(),
            disabled_at=None,
            last_login_at=None,
        )
        self._repo.add(row)
        self._recorder.record(
            actor=actor,
            action="admin.create",
            outcome="ok",
            details={"account_id": row_id, "role": admin_role.value},
        )
        return NewAccount(
            account=_view(row), provisioning_uri=totp.provisioning_uri(secret, username)
        )

    def accounts(self) -> list[AccountView]:
        return [_view(row) for row in self._repo.all()]

    def get(self, account_id: str) -> AccountView:
        row = self._repo.by_id(account_id)
        if row is None:
            raise AdminNotFound()
        return _view(row)

    def disable(self, username: str, *, actor: str) -> AccountView:
        """Disable the account and end its session at once (ASVS 7.4.2)."""
        row = self._repo.by_username(username, for_update=True)
        if row is None:
            raise AdminNotFound()
        if row.enabled:
            row.enabled = False
            row.disabled_at = self._clock.now()
            row.session_jti = None
            self._repo.flush()
        self._recorder.record(
            actor=actor,
            action="admin.disable",
            outcome="ok",
            details={"account_id": row.id, "role": row.role},
        )
        return _view(row)

    # -- login ------------------------------------------------------------------------------
    def login(self, *, username: str, password: str, code: str) -> LoginResult | None:
        """A token for the right username, password and fresh TOTP code; ``None`` otherwise.

        Every path verifies exactly one Argon2id hash (a dummy one for an unknown username),
        so the answer takes about the same time whatever was wrong (ASVS 6.3.8). The reason
        is written to the access record only.
        """
        now = self._clock.now()
        row = None
        if isinstance(username, str) and _USERNAME_RE.match(username):
            row = self._repo.by_username(username, for_update=True)
        password_ok = passwords.verify_password(
            row.password_hash if row is not None else passwords.dummy_hash(), password
        )
        if row is None:
            self._recorder.record(
                actor=ANONYMOUS,
                action="admin.login",
                outcome="refused",
                details={"reason": "unknown_user"},
            )
            return None
        reason: str | None = None
        step: int | None = None
        if not row.enabled:
            reason = "disabled"
        elif row.locked_until is not None and now < row.locked_until:
            reason = "locked"  # refused even when everything else is right; not counted
        elif not password_ok:
            reason = "wrong_password"
        else:
            result, step = totp.check(self._totp_secret(row), code, now, row.totp_last_step)
            if result is not totp.TotpCheck.OK:
                reason = f"{result.value}_code"
        if reason is not None:
            details: dict[str, str | int] = {"reason": reason}
            if reason not in ("disabled", "locked"):
                row.failed_count += 1
                delay = lockout_delay(row.failed_count)
                row.locked_until = now + dt.timedelta(seconds=delay) if delay else None
                self._repo.flush()
            details["failures"] = row.failed_count
            if row.locked_until is not None and now < row.locked_until:
                details["locked_until"] = row.locked_until.isoformat()
            self._recorder.record(
                actor=admin_actor(row.id), action="admin.login", outcome="refused", details=details
            )
            return None
        assert step is not None
        jti = secrets.token_urlsafe(16)
        row.failed_count = 0
        row.locked_until = None
        row.totp_last_step = step
        row.last_login_at = now
        row.session_jti = jti  # replaces any earlier session of this account
        if passwords.needs_rehash(row.password_hash):
            row.password_hash = passwords.hash_password(password)
        self._repo.flush()
        token, expires_at = self._issue_token(actor=admin_actor(row.id), role=row.role, jti=jti)
        self._recorder.record(
            actor=admin_actor(row.id),
            action="admin.login",
            outcome="ok",
            details={"role": row.role, "token_jti": jti, "expires_at": expires_at},
        )
        return LoginResult(
            token=token,
            expires_at=expires_at,
            expires_in=max(0, expires_at - int(now.timestamp())),
            account=_view(row),
        )

    def _totp_secret(self, row: AdminAccount) -> bytes:
        return open_sealed(
            self._keyring.seal_key,
            row.totp_sealed,
            table=_TABLE,
            column=_TOTP_COLUMN,
            row_id=row.id,
        )

    # -- requests under a token -------------------------------------------------------------
    def authorise(
        self,
        *,
        account_id: str,
        role: str,
        jti: str,
        action: str,
        route: str,
        params: Mapping[str, str] | None = None,
        roles: frozenset[str] | None = None,
    ) -> Decision:
        """May this token's session do ``action`` now? The database decides (fail closed): the
        account exists, is enabled, still has the token's role, and the token is its current
        session; then the matrix (or ``roles``) decides. Allowed and denied requests are
        access records (``admin.request``); an invalid session is not (nobody to name)."""
        row = self._repo.by_id(account_id)
        if (
            row is None
            or not row.enabled
            or row.role != role
            or row.session_jti is None
            or not hmac.compare_digest(row.session_jti.encode(), jti.encode())
        ):
            return Decision.INVALID
        permitted = roles if roles is not None else {r.value for r in roles_for(action)}
        decision = Decision.ALLOWED if role in permitted else Decision.DENIED
        self._recorder.record(
            actor=admin_actor(row.id),
            action="admin.request",
            outcome=decision.value,
            details={
                "action": action,
                "role": role,
                "route": route,
                "params": {k: str(v)[:64] for k, v in (params or {}).items()},
            },
        )
        return decision

    def logout(self, *, account_id: str, jti: str) -> None:
        row = self._repo.by_id(account_id)
        if row is not None and row.session_jti == jti:
            row.session_jti = None
            self._repo.flush()
        self._recorder.record(actor=admin_actor(account_id), action="admin.logout", outcome="ok")

    # -- data-key rotation (``netid keys rotate data`` / ``retire``) --------------------------
    def reseal_totp_secrets(self, *, batch_size: int, actor: str) -> int:
        """Re-seal up to ``batch_size`` TOTP secrets not under the active data key; 0 = done.
        (Administrators are few: the rows are read whole.)"""
        active = self._keyring.active_seal_key(KeyPurpose.DATA)
        stale = [r for r in self._repo.all() if sealed_key_id(r.totp_sealed) != active.key_id]
        stale = stale[:batch_size]
        for row in stale:
            row.totp_sealed = seal(
                active, self._totp_secret(row), table=_TABLE, column=_TOTP_COLUMN, row_id=row.id
            )
        if stale:
            self._repo.flush()
            self._recorder.record(
                actor=actor,
                action="keys.reseal_admin_totp",
                outcome="ok",
                details={"rows": len(stale)},
            )
        return len(stale)

    def references_to_key(self, key_id: str) -> int:
        """How many TOTP secrets the key still seals (a key in use must not be retired)."""
        return sum(1 for r in self._repo.all() if sealed_key_id(r.totp_sealed) == key_id)

    # -- the audit administrator's view -------------------------------------------------------
    def actions(self, *, after: int = 0, limit: int = 100) -> Sequence[AdminAction]:
        """Access records of administrators and operators after ``seq`` ``after``: the entries
        as stored (sealed subject references stay sealed; nothing is opened)."""
        limit = max(1, min(limit, MAX_ACTIONS_PAGE))
        return [
            AdminAction(seq=r.seq, entry=json.loads(r.canonical))
            for r in self._repo.admin_records(after=max(0, after), limit=limit)
        ]
