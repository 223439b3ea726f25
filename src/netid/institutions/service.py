"""Institution use cases: apply, approve/reject, status changes, the per-request status check,
client keys and monthly quotas (issue 3 §1, §5).

Services flush and never commit: the request or CLI command owns the transaction. Every status
change writes its history row *and* an access record (``institution.<verb>``, actor, reason) in
that same transaction.
"""

from __future__ import annotations

import builtins
import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from netid.audit.service import AccessRecorder
from netid.core.clock import CHINA_TZ, Clock, today_in_china
from netid.core.errors import Forbidden, InvalidInput
from netid.core.ids import new_row_id
from netid.crypto.sealing import open_sealed, seal, sealed_key_id
from netid.documents import check_uscc
from netid.institutions.codes import new_institution_code
from netid.institutions.errors import (
    AgreementNotAccepted,
    IndustryNotRegistered,
    InstitutionFrozen,
    InstitutionNotActive,
    InstitutionNotFound,
    InstitutionRevoked,
    InstitutionSuspended,
    InvalidQuota,
    InvalidUscc,
    InvalidWebsite,
    PricePlanUnknown,
    PurposeNotRegistered,
    QuotaExceeded,
)
from netid.institutions.jwks import check_public_jwks
from netid.institutions.models import Institution, InstitutionStatusChange
from netid.institutions.repository import InstitutionRepository, InstitutionRow
from netid.institutions.schemas import (
    ApplicationContacts,
    ApplicationIn,
    InstitutionStatus,
    InstitutionView,
    QuotaStatus,
    StatusChange,
    next_status,
)
from netid.keys.schemas import KeyPurpose
from netid.keys.service import Keyring

GOVERNMENT_INDUSTRY = "government"
GOVERNMENT_PLAN = "government"
STANDARD_PLAN = "standard"
MAX_REASON_LENGTH = 1024
MAX_QUOTA = 1_000_000_000
_QUOTA_TYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")

_FORBIDDEN_BY_STATUS: dict[InstitutionStatus, type[Forbidden]] = {
    InstitutionStatus.FROZEN: InstitutionFrozen,
    InstitutionStatus.SUSPENDED: InstitutionSuspended,
    InstitutionStatus.REVOKED: InstitutionRevoked,
    InstitutionStatus.PENDING: InstitutionNotActive,
    InstitutionStatus.REJECTED: InstitutionNotActive,
}


class PolicyCatalogue(Protocol):
    """What onboarding needs of the policy catalogue (``netid.policy``)."""

    @property
    def industries(self) -> Mapping[str, object]: ...

    @property
    def price_plans(self) -> Mapping[str, object]: ...

    def is_purpose(self, code: str) -> bool: ...

    def quotas_for(self, industry: str) -> Mapping[str, int]: ...


def month_of(clock: Clock) -> str:
    """The quota month, ``YYYY-MM`` in China Standard Time."""
    return today_in_china(clock).strftime("%Y-%m")


def next_month_start_utc(clock: Clock) -> dt.datetime:
    """The first instant of the next month in China time, as a UTC datetime."""
    today = today_in_china(clock)
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return dt.datetime(year, month, 1, tzinfo=CHINA_TZ).astimezone(dt.UTC)


def sector_of_website(website: str) -> str:
    """The host of an https URL, lower-case (the pairwise-pseudonym sector, as OIDC's
    ``sector_identifier``; OIDC Core §8.1). Raises :class:`InvalidWebsite`."""
    try:
        parts = urlsplit(website.strip())
        host = parts.hostname
        _ = parts.port  # a malformed port raises ValueError
    except ValueError:
        raise InvalidWebsite() from None
    if parts.scheme != "https" or not host or parts.username or parts.password:
        raise InvalidWebsite()
    if not host.isascii() or any(c not in "abcdefghijklmnopqrstuvwxyz0123456789.-" for c in host):
        raise InvalidWebsite("The website host must be an ASCII (IDNA A-label) host name.")
    if host.startswith(("-", ".")) or host.endswith(("-", ".")) or ".." in host:
        raise InvalidWebsite()
    return host


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(f"A reason of 1 to {MAX_REASON_LENGTH} characters is required.")
    return reason


def _view(row: Institution | InstitutionRow) -> InstitutionView:
    return InstitutionView(
        id=row.id,
        code=row.code,
        client_id=row.client_id,
        name=row.name,
        uscc=row.uscc,
        industry=row.industry,
        purposes=tuple(row.purposes),
        location=row.location,
        status=InstitutionStatus(row.status),
        price_plan=row.price_plan,
        sector=row.sector,
        agreement_version=row.agreement_version,
    )


class InstitutionService:
    def __init__(
        self,
        *,
        repository: InstitutionRepository,
        keyring: Keyring,
        recorder: AccessRecorder,
        clock: Clock,
        catalogue: PolicyCatalogue,
    ) -> None:
        self._repo = repository
        self._keyring = keyring
        self._recorder = recorder
        self._clock = clock
        self._catalogue = catalogue

    # -- onboarding ------------------------------------------------------------------------------
    def apply(self, application: ApplicationIn, *, actor: str) -> InstitutionView:
        """Validate and store an application (status ``pending``). Nothing is written unless
        every check passes."""
        uscc = check_uscc(application.uscc)
        if not uscc.valid or uscc.normalized is None:
            raise InvalidUscc(details={"rule": uscc.rule})
        if application.industry not in self._catalogue.industries:
            raise IndustryNotRegistered(details={"industry": application.industry})
        unknown = [p for p in application.purposes if not self._catalogue.is_purpose(p)]
        if unknown:
            raise PurposeNotRegistered(details={"purposes": unknown})
        if not application.agreement.accepted:
            raise AgreementNotAccepted()
        sector = sector_of_website(application.website) if application.website else None
        jwks = check_public_jwks(application.public_jwks)

        now = self._clock.now()
        row_id = new_row_id()
        contacts = {
            "legal_representative": application.legal_representative.model_dump(),
            "contact": application.contact.model_dump(),
        }
        sealed = seal(
            self._keyring.active_seal_key(KeyPurpose.DATA),
            orjson.dumps(contacts),
            table="institution",
            column="application",
            row_id=row_id,
        )
        row = Institution(
            id=row_id,
            status=InstitutionStatus.PENDING.value,
            name=application.name,
            uscc=uscc.normalized,
            industry=application.industry,
            purposes=list(dict.fromkeys(application.purposes)),
            location=application.location,
            agreement_version=application.agreement.version,
            website=application.website.strip() if application.website else None,
            sector=sector,
            application_sealed=sealed,
            public_jwks=jwks,
            created_at=now,
            updated_at=now,
        )
        self._repo.add(row)
        self._history(row, None, InstitutionStatus.PENDING, actor, "application received")
        self._recorder.record(
            actor=actor,
            action="institution.apply",
            outcome="ok",
            details={"institution_id": row_id, "to": InstitutionStatus.PENDING.value},
        )
        return _view(row)

    def approve(
        self,
        institution_id: str,
        *,
        actor: str,
        reason: str,
        price_plan: str | None = None,
        quotas: Mapping[str, int] | None = None,
    ) -> InstitutionView:
        """Approve: assign the institution code, client id, price plan and monthly quotas."""
        reason = _check_reason(reason)
        row = self._load(institution_id, for_update=True)
        target = next_status(InstitutionStatus(row.status), "approve")
        plan = price_plan or (
            GOVERNMENT_PLAN if row.industry == GOVERNMENT_INDUSTRY else STANDARD_PLAN
        )
        if plan not in self._catalogue.price_plans:
            raise PricePlanUnknown(details={"price_plan": plan})
        limits = dict(self._catalogue.quotas_for(row.industry))
        for verification_type, limit in (quotas or {}).items():
            if (
                not verification_type
                or len(verification_type) > 32
                or not set(verification_type) <= _QUOTA_TYPE_CHARS
                or isinstance(limit, bool)
                or not isinstance(limit, int)
                or not 0 <= limit <= MAX_QUOTA
            ):
                raise InvalidQuota()
            limits[verification_type] = limit
        code = self._new_code()
        row.code = code
        row.client_id = secrets.token_urlsafe(24)
        row.price_plan = plan
        if row.sector is None:
            row.sector = code
        self._repo.set_quotas(row.id, limits)
        self._change(row, target, "approve", actor, reason, extra={"price_plan": plan})
        return _view(row)

    def reject(self, institution_id: str, *, actor: str, reason: str) -> InstitutionView:
        return self._transition(institution_id, "reject", actor, reason)

    def suspend(self, institution_id: str, *, actor: str, reason: str) -> InstitutionView:
        return self._transition(institution_id, "suspend", actor, reason)

    def freeze(self, institution_id: str, *, actor: str, reason: str) -> InstitutionView:
        return self._transition(institution_id, "freeze", actor, reason)

    def unfreeze(self, institution_id: str, *, actor: str, reason: str) -> InstitutionView:
        return self._transition(institution_id, "unfreeze", actor, reason)

    def reinstate(self, institution_id: str, *, actor: str, reason: str) -> InstitutionView:
        return self._transition(institution_id, "reinstate", actor, reason)

    def revoke(self, institution_id: str, *, actor: str, reason: str) -> InstitutionView:
        return self._transition(institution_id, "revoke", actor, reason)

    # -- reads -----------------------------------------------------------------------------------
    def get(self, institution_id: str) -> InstitutionView:
        return _view(self._load(institution_id))

    def by_code(self, code: str) -> InstitutionView | None:
        row = self._repo.by_code(code)
        return _view(row) if row else None

    def by_client_id(self, client_id: str) -> InstitutionView | None:
        row = self._repo.by_client_id(client_id)
        return _view(row) if row else None

    def list(self, status: InstitutionStatus | str | None = None) -> list[InstitutionView]:
        wanted = InstitutionStatus(status).value if status is not None else None
        return [_view(r) for r in self._repo.list(wanted)]

    def history(self, institution_id: str) -> builtins.list[StatusChange]:
        self._load(institution_id)
        return [
            StatusChange(
                from_status=InstitutionStatus(c.from_status) if c.from_status else None,
                to_status=InstitutionStatus(c.to_status),
                actor=c.actor,
                reason=c.reason,
                at=c.at,
            )
            for c in self._repo.history(institution_id)
        ]

    def require_active(self, institution_id: str) -> InstitutionView:
        """The institution if it is active; else the Forbidden error naming its status.

        Read from the database on every call (no cache), so a freeze takes effect on the very
        next request (issue 3 §2). An unknown id is refused like a revoked one would be."""
        row = self._repo.status_of(institution_id)
        if row is None:
            raise InstitutionNotActive()
        status = InstitutionStatus(row.status)
        if status is not InstitutionStatus.ACTIVE:
            raise _FORBIDDEN_BY_STATUS[status]()
        return _view(row)

    def client_keys(
        self, client_id: str
    ) -> tuple[InstitutionView, builtins.list[dict[str, Any]]] | None:
        """The institution holding ``client_id`` and its registered public JWKs (any status:
        the caller decides, typically with :meth:`require_active`)."""
        keys = self._repo.client_keys(client_id)
        row = self._repo.status_of(keys.institution_id) if keys is not None else None
        if keys is None or row is None:
            return None
        return _view(row), [dict(k) for k in keys.public_jwks]

    def application_contacts(self, institution_id: str, *, actor: str) -> ApplicationContacts:
        """Open the sealed legal representative and contact (personal data: recorded)."""
        row = self._load(institution_id)
        plain = open_sealed(
            self._keyring.seal_key,
            row.application_sealed,
            table="institution",
            column="application",
            row_id=row.id,
        )
        self._recorder.record(
            actor=actor,
            action="institution.read_contacts",
            outcome="ok",
            details={"institution_id": row.id},
        )
        data = orjson.loads(plain)
        return ApplicationContacts(
            legal_representative=data["legal_representative"], contact=data["contact"]
        )

    # -- data-key rotation ----------------------------------------------------------------------
    def reseal_applications(self, *, batch_size: int, actor: str) -> int:
        """Re-seal up to ``batch_size`` applications not under the active data key; 0 = done
        (so a rotated-out data key can be retired without losing the contacts)."""
        active = self._keyring.active_seal_key(KeyPurpose.DATA)
        stale = [
            (row_id, sealed)
            for row_id, sealed in self._repo.sealed_applications()
            if sealed_key_id(sealed) != active.key_id
        ][:batch_size]
        for row_id, sealed in stale:
            plain = open_sealed(
                self._keyring.seal_key,
                sealed,
                table="institution",
                column="application",
                row_id=row_id,
            )
            self._repo.set_application_sealed(
                row_id,
                seal(active, plain, table="institution", column="application", row_id=row_id),
            )
        if stale:
            self._recorder.record(
                actor=actor,
                action="keys.reseal_institution_applications",
                outcome="ok",
                details={"rows": len(stale)},
            )
        return len(stale)

    def references_to_key(self, key_id: str) -> int:
        """How many applications the key still seals (a key in use must not be retired)."""
        return sum(
            1 for _, sealed in self._repo.sealed_applications() if sealed_key_id(sealed) == key_id
        )

    # -- quotas ----------------------------------------------------------------------------------
    def consume_quota(self, institution_id: str, verification_type: str, count: int = 1) -> None:
        """Spend ``count`` units of this month's quota, or raise :class:`QuotaExceeded`
        (also when the institution has no quota for the type: fail closed)."""
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_QUOTA:
            raise InvalidInput("The count must be a positive integer.")
        if not self._repo.try_consume(
            institution_id, verification_type, month_of(self._clock), count
        ):
            reset_at = next_month_start_utc(self._clock)
            raise QuotaExceeded(
                details={
                    "verification_type": verification_type,
                    "reset_at": reset_at.isoformat().replace("+00:00", "Z"),
                }
            )

    def quota_status(self, institution_id: str) -> builtins.list[QuotaStatus]:
        self._load(institution_id)
        month = month_of(self._clock)
        used = self._repo.usage(institution_id, month)
        return [
            QuotaStatus(
                verification_type=q.verification_type,
                limit=q.monthly_limit,
                used=used.get(q.verification_type, 0),
                month=month,
            )
            for q in self._repo.quotas(institution_id)
        ]

    # -- internals -------------------------------------------------------------------------------
    def _load(self, institution_id: str, *, for_update: bool = False) -> Institution:
        row = self._repo.get(institution_id, for_update=for_update)
        if row is None:
            raise InstitutionNotFound()
        return row

    def _new_code(self) -> str:
        year = today_in_china(self._clock).year
        for _ in range(8):
            code = new_institution_code(year)
            if not self._repo.code_taken(code):
                return code
        raise InvalidInput("Could not assign a unique institution code.")  # pragma: no cover

    def _transition(
        self, institution_id: str, verb: str, actor: str, reason: str
    ) -> InstitutionView:
        reason = _check_reason(reason)
        row = self._load(institution_id, for_update=True)
        target = next_status(InstitutionStatus(row.status), verb)
        self._change(row, target, verb, actor, reason)
        return _view(row)

    def _change(
        self,
        row: Institution,
        target: InstitutionStatus,
        verb: str,
        actor: str,
        reason: str,
        extra: dict[str, Any] | None = None,
    ) -> None:
        before = InstitutionStatus(row.status)
        row.status = target.value
        row.updated_at = self._clock.now()
        self._history(row, before, target, actor, reason)
        self._recorder.record(
            actor=actor,
            action=f"institution.{verb}",
            outcome="ok",
            details={
                "institution_id": row.id,
                "from": before.value,
                "to": target.value,
                "reason": reason,
                **(extra or {}),
            },
        )

    def _history(
        self,
        row: Institution,
        before: InstitutionStatus | None,
        after: InstitutionStatus,
        actor: str,
        reason: str,
    ) -> None:
        self._repo.add(
            InstitutionStatusChange(
                id=new_row_id(),
                institution_id=row.id,
                from_status=before.value if before else None,
                to_status=after.value,
                actor=actor,
                reason=reason,
                at=self._clock.now(),
            )
        )
