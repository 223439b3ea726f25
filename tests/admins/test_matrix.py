"""The role × action matrix: separation of duties as properties of the one table."""

from __future__ import annotations

import pytest

from netid.admins.matrix import MATRIX, allowed, roles_for
from netid.admins.schemas import AdminRole
from netid.oauth.schemas import ADMIN_ROLES


def test_the_roles_are_the_token_roles() -> None:
    assert [r.value for r in AdminRole] == list(ADMIN_ROLES)


def test_every_action_has_a_role_and_a_dotted_name() -> None:
    for name, action in MATRIX.items():
        assert action.roles, name
        assert name.count(".") == 1 and name == name.lower(), name


def test_the_audit_administrator_changes_nothing() -> None:
    audit = [n for n, a in MATRIX.items() if AdminRole.AUDIT_ADMIN in a.roles]
    assert "log.read_entry" in audit and "admin.actions" in audit
    assert all(not MATRIX[n].changes for n in audit if n != "admin.logout")


def test_log_content_and_admin_actions_are_for_the_audit_administrator_only() -> None:
    for name in ("log.read_entry", "admin.actions"):
        assert roles_for(name) == {AdminRole.AUDIT_ADMIN}


def test_the_system_administrator_sees_no_personal_data_and_no_log_content() -> None:
    system = {n for n, a in MATRIX.items() if AdminRole.SYSTEM_ADMIN in a.roles}
    assert not system & {"log.read_entry", "institution.read", "watchlist.list", "alert.read"}
    assert {"keys.list", "health.read"} <= system


def test_security_actions_belong_to_the_security_administrator_alone() -> None:
    for name, action in MATRIX.items():
        if name.split(".")[0] in {"institution", "alert", "watchlist", "rules"}:
            assert action.roles == {AdminRole.SECURITY_ADMIN}, name


def test_changes_are_never_shared_between_two_of_the_three() -> None:
    three = {AdminRole.SYSTEM_ADMIN, AdminRole.SECURITY_ADMIN, AdminRole.AUDIT_ADMIN}
    for name, action in MATRIX.items():
        if action.changes and name != "admin.logout":
            assert len(action.roles & three) <= 1, name


def test_lookups() -> None:
    assert allowed("institution.freeze", "security_admin")
    assert not allowed("institution.freeze", "audit_admin")
    assert not allowed("institution.freeze", "root")
    with pytest.raises(ValueError):
        roles_for("institution.delete")
