"""The role × action matrix (issue 4 §2): the ONE table saying which administrator role may do
what. Every admin HTTP route names its action with ``netid.web.auth.require_action(NAME)``;
``tests/web/test_admin_matrix.py`` walks every route under ``/v1/admin`` with every role and
with no token, and fails on a route whose action is not here.

Separation of duties (三员分立; GB/T 22239-2019 8.1.5.1-8.1.5.3, NIST SP 800-53 AC-5):

* system_admin runs the system (keys, configuration, health) and sees the administrator
  accounts; it reads no personal data and no log content.
* security_admin handles institutions, policies (rules), freezes, alerts and the watch list.
* audit_admin reads and verifies the log and the administrators' actions; it changes nothing
  (``changes=False`` on all its actions, checked by a test).
* registrar corrects the registry; reviewer gives the second approval.

Actions without a route yet are here so the engineers adding those routes can name them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from netid.admins.schemas import AdminRole

SYS = AdminRole.SYSTEM_ADMIN
SEC = AdminRole.SECURITY_ADMIN
AUD = AdminRole.AUDIT_ADMIN
REG = AdminRole.REGISTRAR
REV = AdminRole.REVIEWER
EVERY_ROLE = frozenset(AdminRole)


@dataclass(frozen=True)
class Action:
    roles: frozenset[AdminRole]
    changes: bool  # changes state (the audit administrator holds no such action)
    description: str


def _a(description: str, *roles: AdminRole, changes: bool) -> Action:
    return Action(roles=frozenset(roles), changes=changes, description=description)


MATRIX: Final[Mapping[str, Action]] = MappingProxyType(
    {
        # -- the administrator's own session -------------------------------------------------
        "admin.whoami": _a("Who am I (account and role)", *EVERY_ROLE, changes=False),
        "admin.logout": _a("End my session", *EVERY_ROLE, changes=True),
        # -- accounts and the administrators' actions ---------------------------------------
        "admin.list": _a("List administrator accounts", SYS, AUD, changes=False),
        "admin.actions": _a("Read the administrators' access records", AUD, changes=False),
        # -- system (system_admin) ----------------------------------------------------------
        "keys.list": _a("List keys (ids, purposes, states)", SYS, changes=False),
        "keys.rotate": _a("Rotate a key", SYS, changes=True),
        "health.read": _a("Health, readiness and versions", SYS, changes=False),
        "config.read": _a("Effective configuration (no secrets)", SYS, changes=False),
        # -- institutions (security_admin) --------------------------------------------------
        "institution.list": _a("List institutions", SEC, changes=False),
        "institution.read": _a("One institution, history and quotas", SEC, changes=False),
        "institution.approve": _a("Approve an application", SEC, changes=True),
        "institution.reject": _a("Reject an application", SEC, changes=True),
        "institution.suspend": _a("Suspend an institution", SEC, changes=True),
        "institution.freeze": _a("Freeze an institution", SEC, changes=True),
        "institution.unfreeze": _a("Unfreeze an institution (with a reason)", SEC, changes=True),
        "institution.reinstate": _a("Reinstate a suspended institution", SEC, changes=True),
        "institution.revoke": _a("Revoke an institution", SEC, changes=True),
        # -- monitoring (security_admin) -----------------------------------------------------
        "alert.list": _a("List alerts", SEC, changes=False),
        "alert.read": _a("One alert", SEC, changes=False),
        "alert.resolve": _a("Resolve an alert (with a reason)", SEC, changes=True),
        "rules.read": _a("Read the anomaly rules", SEC, changes=False),
        "rules.update": _a("Change the anomaly rules", SEC, changes=True),
        "watchlist.list": _a("List the watch list", SEC, changes=False),
        "watchlist.add": _a("Add a person to the watch list", SEC, changes=True),
        "watchlist.remove": _a("Remove a person from the watch list", SEC, changes=True),
        # -- the transparency log (audit_admin) ----------------------------------------------
        "log.read_entry": _a("Read log entry contents", AUD, changes=False),
        "log.verify": _a("Verify the log against its checkpoints", AUD, changes=False),
        # -- registry corrections and second approvals ---------------------------------------
        "registry.correct": _a("Correct a registry record", REG, changes=True),
        "approval.review": _a("Give or refuse a second approval", REV, changes=True),
    }
)

# Routes under /v1/admin that take no administrator token (the login itself).
UNAUTHENTICATED_ROUTES: Final[frozenset[tuple[str, str]]] = frozenset({("POST", "/v1/admin/login")})


def roles_for(action: str) -> frozenset[AdminRole]:
    """The roles allowed ``action``; an unknown action is a programming error (ValueError)."""
    try:
        return MATRIX[action].roles
    except KeyError:
        raise ValueError(f"{action!r} is not in the role × action matrix") from None


def allowed(action: str, role: str) -> bool:
    return role in {r.value for r in roles_for(action)}
