"""Citizen controls (docs/decisions/0005 "Citizens"; issue 5 §8 Consent, §9 Minors, §10):
method locks, pending requests (separate consent, guardian approvals), consent receipts, the
person's own history with proofs, deregistration.

Services flush, never commit; every change and every read of the person's data is an access
record in the caller's transaction. Entries made through the wallet are sealed under the
account key (deregistration deletes it, crypto-shredding them); entries that are evidence
towards institutions (consents, decisions on their requests, deregistration itself) under the
person's registry key, which outlives the account.

Ages are computed on every call from the registry birth date in China time, so the rules for
minors change at the 14th and 18th birthday by themselves.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from netid.audit.errors import NoCheckpoint
from netid.audit.service import AccessRecorder, AuditService
from netid.citizens.errors import (
    ConsentDaysInvalid,
    MethodUnknown,
    NetworkIdMismatch,
    NoGuardianEnrolled,
    RequestExpired,
    RequestNotFound,
    RequestNotPending,
    TemporaryUnlockUnsupported,
    UnlockMinutesInvalid,
)
from netid.citizens.models import CitizenRequest, MethodLock
from netid.citizens.repository import CitizenRepository, LockState
from netid.citizens.schemas import (
    ADULT_AGE,
    CONSENT_REQUEST_TTL,
    DEFAULT_CONSENT_DAYS,
    GUARDIAN_APPROVAL_WINDOW,
    GUARDIAN_USE_BELOW,
    GUARDIAN_USE_TTL,
    LOCK_METHODS,
    MAX_UNLOCK_MINUTES,
    Accounts,
    Citizen,
    LockMethod,
    LockView,
    RequestView,
)
from netid.consent.errors import ConsentNotFound
from netid.consent.receipts import PiiController, kantara_receipt
from netid.consent.schemas import MAX_CONSENT_DAYS, ConsentView
from netid.consent.service import ConsentService
from netid.core.clock import Clock, today_in_china
from netid.core.errors import NotFound
from netid.core.ids import new_row_id
from netid.credentials.network_id import format_network_id, normalize_network_id
from netid.crypto.sealing import SealKey
from netid.crypto.sm3 import sm3
from netid.enrolment.schemas import PendingWardEnrolment, age_on
from netid.institutions.service import InstitutionService
from netid.registry.service import RegistryService

MAX_HISTORY = 500


def _pending_key(kind: str, person_id: str, addressee_id: str, *parts: str) -> str:
    # Ids and closed vocabulary only; hashed so the unique index stays short.
    text = "|".join((kind, person_id, addressee_id, *parts))
    return sm3(text.encode()).hex()


def _check_method(method: str) -> LockMethod:
    for known in LOCK_METHODS:
        if method == known:
            return known
    raise MethodUnknown()


class CitizenService:
    def __init__(
        self,
        *,
        repository: CitizenRepository,
        registry: RegistryService,
        accounts: Accounts,
        consents: ConsentService,
        institutions: InstitutionService,
        audit: AuditService,
        recorder: AccessRecorder,
        clock: Clock,
        allowed_claims: frozenset[str],
        purpose_labels: Mapping[str, str] | None = None,
        policy_url: str = "",
    ) -> None:
        self._repo = repository
        self._registry = registry
        self._accounts = accounts
        self._consents = consents
        self._institutions = institutions
        self._audit = audit
        self._recorder = recorder
        self._clock = clock
        self._allowed_claims = allowed_claims
        self._purpose_labels = purpose_labels or {}
        self._policy_url = policy_url
        # Opened once per unit of work (a service lives for one request).
        self._subjects: dict[str, tuple[SealKey, dt.date] | None] = {}

    # -- the person -------------------------------------------------------------------------
    def _subject(self, person_id: str) -> tuple[SealKey, dt.date] | None:
        if person_id not in self._subjects:
            # Opened without its own record: every caller here records what it does with it.
            subject = self._registry.unsafe_open_person_subject(person_id)
            self._subjects[person_id] = (
                (subject.key, subject.birth_date) if subject is not None else None
            )
        return self._subjects[person_id]

    def _person_key(self, person_id: str) -> SealKey | None:
        subject = self._subject(person_id)
        return subject[0] if subject else None

    def _wallet_key(self, person_id: str) -> SealKey | None:
        """The key that seals wallet-side entries: the account key (the person key when the
        account has none, so nothing is recorded without a subject)."""
        return self._accounts.account_key(person_id) or self._person_key(person_id)

    def age(self, person_id: str) -> int | None:
        """Completed years today in China time (None: the person cannot be opened)."""
        subject = self._subject(person_id)
        if subject is None:
            return None
        return age_on(subject[1], today_in_china(self._clock))

    def _record(
        self,
        *,
        actor: str,
        action: str,
        person_id: str,
        key: SealKey | None,
        outcome: str = "ok",
        purpose: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self._recorder.record(
            actor=actor,
            action=action,
            outcome=outcome,
            purpose=purpose,
            subject_key=key,
            subject_id=person_id if key is not None else None,
            details=details,
        )

    # -- locks ------------------------------------------------------------------------------
    def is_locked(self, person_id: str, method: LockMethod) -> bool:
        """Whether the person has ``method`` locked now: a fresh read, a temporary unlock
        counting until (not including) its end."""
        row = self._repo.lock_state(person_id, _check_method(method))
        return row is not None and self._locked_now(row)

    def _locked_now(self, row: MethodLock | LockState) -> bool:
        if not row.locked:
            return False
        return row.unlocked_until is None or self._clock.now() >= row.unlocked_until

    def _lock_view(self, method: str, row: MethodLock | None) -> LockView:
        if row is None:
            return LockView(method=method, locked=False, unlocked_until=None, updated_at=None)
        locked = self._locked_now(row)
        until = row.unlocked_until if row.locked and not locked else None
        return LockView(
            method=method, locked=locked, unlocked_until=until, updated_at=row.updated_at
        )

    def locks(self, citizen: Citizen) -> list[LockView]:
        rows = {row.method: row for row in self._repo.locks_of(citizen.person_id)}
        views = [self._lock_view(m, rows.get(m)) for m in LOCK_METHODS]
        self._record(
            actor=citizen.actor,
            action="citizen.locks.read",
            person_id=citizen.person_id,
            key=self._wallet_key(citizen.person_id),
        )
        return views

    def lock(self, citizen: Citizen, method: str) -> LockView:
        known = _check_method(method)
        row = self._set_lock(citizen.person_id, known, locked=True, until=None)
        if known == "credential":
            # The status list shows SUSPENDED from the next fetch: offline checks fail too.
            self._accounts.set_credential_suspended(citizen.person_id, True)
        self._record(
            actor=citizen.actor,
            action="citizen.lock",
            person_id=citizen.person_id,
            key=self._wallet_key(citizen.person_id),
            details={"method": known},
        )
        return self._lock_view(known, row)

    def unlock(self, citizen: Citizen, method: str, *, minutes: int | None = None) -> LockView:
        """Unlock ``method``; with ``minutes`` (1–1440), only for that long: the lock holds
        again from then on without anyone acting."""
        known = _check_method(method)
        if minutes is not None:
            if isinstance(minutes, bool) or not 1 <= minutes <= MAX_UNLOCK_MINUTES:
                raise UnlockMinutesInvalid()
            if known == "credential":
                raise TemporaryUnlockUnsupported()
        current = self._repo.lock(citizen.person_id, known)
        outcome = "ok"
        if minutes is not None:
            if current is None or not current.locked:
                outcome = "not_locked"  # nothing to open for a while: it is open
                row = current
            else:
                until = self._clock.now() + dt.timedelta(minutes=minutes)
                row = self._set_lock(citizen.person_id, known, locked=True, until=until)
        else:
            row = self._set_lock(citizen.person_id, known, locked=False, until=None)
            if known == "credential":
                self._accounts.set_credential_suspended(citizen.person_id, False)
        self._record(
            actor=citizen.actor,
            action="citizen.unlock",
            outcome=outcome,
            person_id=citizen.person_id,
            key=self._wallet_key(citizen.person_id),
            details={"method": known, "minutes": minutes},
        )
        return self._lock_view(known, row)

    def _set_lock(
        self, person_id: str, method: str, *, locked: bool, until: dt.datetime | None
    ) -> MethodLock:
        now = self._clock.now()
        row = self._repo.lock(person_id, method)
        if row is None:
            new = MethodLock(
                person_id=person_id,
                method=method,
                locked=locked,
                unlocked_until=until,
                updated_at=now,
            )
            row = self._repo.add_lock(new)
            if row is new:
                return row
        # An existing row, or the one a concurrent request inserted first: this request is
        # the later one, so its setting is the one that holds.
        row.locked, row.unlocked_until, row.updated_at = locked, until, now
        self._repo.flush()
        return row

    # -- opening requests (called by the verification use case) -----------------------------
    def open_consent_request(
        self,
        *,
        person_id: str,
        institution_id: str,
        institution_code: str,
        institution_name: str | None,
        purpose: str,
        claims: list[str],
        verification_id: str,
    ) -> str:
        """A pending separate-consent request (24 h), one per (person, institution, purpose,
        claim set): an open one is reused. Addressed to the person, or — under 14, PIPL
        art. 31 — to each of their guardians. Returns its id; records the opening."""
        names = sorted(set(claims))
        age = self.age(person_id)
        minor = age is not None and age < GUARDIAN_USE_BELOW
        addressees = self._accounts.guardian_ids(person_id) if minor else [person_id]
        return self._open(
            kind="consent",
            person_id=person_id,
            addressees=addressees,
            institution_id=institution_id,
            institution_code=institution_code,
            institution_name=institution_name,
            purpose=purpose,
            claims=names,
            verification_id=verification_id,
            ttl=CONSENT_REQUEST_TTL,
            details={"claims": names, "addressed_to": "guardians" if minor else "person"},
        )

    def open_guardian_use_request(
        self,
        *,
        ward_person_id: str,
        institution_id: str,
        institution_code: str,
        purpose: str,
        verification_id: str,
    ) -> str:
        """A request (10 min) to every guardian linked to the ward: one of them approves one
        use by this institution for this purpose. Returns its id; records the opening."""
        return self._open(
            kind="guardian_use",
            person_id=ward_person_id,
            addressees=self._accounts.guardian_ids(ward_person_id),
            institution_id=institution_id,
            institution_code=institution_code,
            institution_name=self._institution_name(institution_id),
            purpose=purpose,
            claims=[],
            verification_id=verification_id,
            ttl=GUARDIAN_USE_TTL,
            details={},
        )

    def _open(
        self,
        *,
        kind: str,
        person_id: str,
        addressees: Sequence[str],
        institution_id: str,
        institution_code: str,
        institution_name: str | None,
        purpose: str,
        claims: list[str],
        verification_id: str,
        ttl: dt.timedelta,
        details: Mapping[str, Any],
    ) -> str:
        """Open (or reuse) the pending request of this kind for each addressee, under one group
        id, and record the opening under the person's key; returns the group id."""
        if not addressees:  # a ward whose guardians have all deregistered (or never enrolled)
            raise NoGuardianEnrolled()
        now = self._clock.now()
        claim_text = " ".join(claims)
        keys = {
            a: _pending_key(kind, person_id, a, institution_id, purpose, claim_text)
            for a in addressees
        }
        existing: dict[str, CitizenRequest | None] = {}
        for addressee, key in keys.items():
            row = self._repo.by_pending_key(key)
            if row is not None and row.expires_at <= now:
                self._close(row, "expired", now)
                row = None
            existing[addressee] = row
        group = next((r.group_id for r in existing.values() if r is not None), None)
        created = group is None
        group = group or new_row_id()
        for addressee, found in existing.items():
            if found is not None:
                continue
            row = self._repo.insert_pending(
                CitizenRequest(
                    id=new_row_id(),
                    kind=kind,
                    person_id=person_id,
                    addressee_id=addressee,
                    group_id=group,
                    institution_id=institution_id,
                    institution_code=institution_code,
                    institution_name=institution_name,
                    purpose=purpose,
                    claims=claim_text,
                    verification_id=verification_id,
                    state="pending",
                    pending_key=keys[addressee],
                    created_at=now,
                    expires_at=now + ttl,
                    decided_at=None,
                    used_at=None,
                )
            )
            if row.group_id != group and created:
                # Another verification opened the same request a moment earlier: use its id.
                group, created = row.group_id, False
        self._record(
            actor=f"institution:{institution_code}",
            action="citizen.request.open",
            outcome="opened" if created else "pending",
            purpose=purpose,
            person_id=person_id,
            key=self._person_key(person_id),
            details={
                "request_id": group,
                "kind": kind,
                "institution_id": institution_id,
                "verification_id": verification_id,
                **details,
            },
        )
        return group

    def _close(self, row: CitizenRequest, state: str, now: dt.datetime) -> None:
        row.state, row.decided_at, row.pending_key = state, now, None
        self._repo.flush()

    def _institution_name(self, institution_id: str) -> str | None:
        try:
            return self._institutions.get(institution_id).name
        except NotFound:
            return None

    # -- guardian approvals (consumed by the verification use case) -------------------------
    def take_guardian_use_approval(
        self, ward_person_id: str, institution_id: str, purpose: str
    ) -> bool:
        """Consume one guardian approval of a use by this institution for this purpose given
        within the last 10 minutes; exactly once, also when verifications race."""
        now = self._clock.now()
        since = now - GUARDIAN_APPROVAL_WINDOW
        for request_id in self._repo.approved_uses(ward_person_id, institution_id, purpose, since):
            if self._repo.mark_used(request_id, since, now):
                return True
        return False

    # -- the person's requests ---------------------------------------------------------------
    def _may_decide(self, row: CitizenRequest, me: str) -> bool:
        """Who decides, now (the age is today's): a person of 14 or more decides their own
        consent requests; under 14 a linked guardian does, and approves each use."""
        age = self.age(row.person_id)
        if age is None:
            return False
        as_guardian = (
            row.addressee_id == me
            and row.person_id != me
            and self._repo.is_guardian(me, row.person_id)
        )
        if row.kind == "consent":
            return as_guardian if age < GUARDIAN_USE_BELOW else row.person_id == me
        if row.kind == "guardian_use":
            return age < GUARDIAN_USE_BELOW and as_guardian
        return False

    def _view(self, row: CitizenRequest, me: str, consent_id: str | None = None) -> RequestView:
        return RequestView(
            id=row.group_id,
            kind=row.kind,
            about="self" if row.person_id == me else "ward",
            state=row.state,
            institution_code=row.institution_code,
            institution_name=row.institution_name,
            purpose=row.purpose,
            claims=tuple(row.claims.split()),
            created_at=row.created_at,
            expires_at=row.expires_at,
            decided_at=row.decided_at,
            consent_id=consent_id,
        )

    def pending_requests(self, citizen: Citizen) -> list[dict[str, Any]]:
        """What waits for my decision: consent requests about me, my wards' requests, and
        enrolments of my wards (14–17) awaiting a guardian."""
        me, now = citizen.person_id, self._clock.now()
        shown: dict[str, RequestView] = {}
        wards: dict[str, set[str]] = {}
        for row in self._repo.visible_to(me):
            if row.expires_at <= now:
                self._close(row, "expired", now)
                continue
            if not self._may_decide(row, me):
                continue
            if row.group_id not in shown or row.addressee_id == me:
                shown[row.group_id] = self._view(row, me)
            if row.person_id != me:
                wards.setdefault(row.person_id, set()).add(row.group_id)
        out = [v.to_json() for v in shown.values()]
        out.extend(self._enrolment_json(e) for e in self._pending_enrolments(me))
        # What an institution asks about a ward is the ward's data: the guardian's reading of
        # it goes into the ward's own history too (under the ward's registry key).
        for ward_id, groups in sorted(wards.items()):
            self._record(
                actor=citizen.actor,
                action="citizen.requests.read",
                person_id=ward_id,
                key=self._person_key(ward_id),
                details={"by": "guardian", "request_ids": sorted(groups)},
            )
        self._record(
            actor=citizen.actor,
            action="citizen.requests.read",
            person_id=me,
            key=self._wallet_key(me),
            details={"requests": len(out)},
        )
        return out

    def _pending_enrolments(self, guardian_id: str) -> list[PendingWardEnrolment]:
        """The enrolment service's ward enrolments awaiting me, while the ward is a minor."""
        out = []
        for item in self._accounts.pending_guardian_enrolments(guardian_id):
            age = self.age(item.ward_person_id)
            if age is not None and age < ADULT_AGE:
                out.append(item)
        return out

    @staticmethod
    def _enrolment_json(item: PendingWardEnrolment) -> dict[str, Any]:
        return {
            "id": item.enrolment_id,
            "kind": "guardian_enrolment",
            "about": "ward",
            "state": "pending",
            "ward_name": item.ward_name_masked,  # masked by the enrolment service
            "created_at": item.requested_at.isoformat(),
            "expires_at": item.expires_at.isoformat(),
        }

    def approve(
        self, citizen: Citizen, request_id: str, *, days: int | None = None
    ) -> dict[str, Any]:
        """Approve a request addressed to me. A consent request becomes a consent record
        (channel ``wallet``, ``days`` long, default 30) for exactly the claims it asked; a
        guardian-use request becomes the one-time approval the next verification consumes."""
        if days is not None and (isinstance(days, bool) or not 1 <= days <= MAX_CONSENT_DAYS):
            raise ConsentDaysInvalid()
        row = self._mine(request_id, citizen.person_id)
        if row is None:
            return self._decide_enrolment(citizen, request_id, approve=True)
        now = self._clock.now()
        consent_id = None
        if row.kind == "consent":
            assert row.institution_id is not None
            assert row.purpose is not None
            person_key = self._person_key(row.person_id)
            assert person_key is not None  # _may_decide opened the person
            consent = self._consents.grant(
                person_id=row.person_id,
                person_key=person_key,
                institution_id=row.institution_id,
                purpose=row.purpose,
                claims=row.claims.split(),
                days=days or DEFAULT_CONSENT_DAYS,
                channel="wallet",
                actor=citizen.actor,
                allowed_claims=self._allowed_claims,
            )
            consent_id = consent.id
        self._settle(row, "approved", now)
        self._record_decision(citizen, row, "citizen.request.approve", consent_id=consent_id)
        return self._view(row, citizen.person_id, consent_id).to_json()

    def deny(self, citizen: Citizen, request_id: str) -> dict[str, Any]:
        """Deny a request addressed to me; the denial is recorded (evidence for the
        institution's next attempt and for me)."""
        row = self._mine(request_id, citizen.person_id)
        if row is None:
            return self._decide_enrolment(citizen, request_id, approve=False)
        self._settle(row, "denied", self._clock.now())
        self._record_decision(citizen, row, "citizen.request.deny")
        return self._view(row, citizen.person_id).to_json()

    def _mine(self, request_id: str, me: str) -> CitizenRequest | None:
        """My copy of request ``request_id`` (the id every party sees is the group's), re-read
        with the whole group locked in id order — two guardians deciding at once never
        deadlock and never both win — and still pending. None if there is no such request
        (then it may be a ward's enrolment); RequestNotFound if it is not mine to decide."""
        rows = self._repo.group(request_id, lock=False)
        if not rows:
            return None
        decidable = [r for r in rows if self._may_decide(r, me)]
        if not decidable:
            raise RequestNotFound()  # not addressed to me: as if it did not exist
        chosen = next((r for r in decidable if r.addressee_id == me), decidable[0])
        current = {r.id: r for r in self._repo.group(request_id)}.get(chosen.id)
        if current is None:
            raise RequestNotFound()  # deleted while we waited for the lock (deregistration)
        if current.state != "pending":
            raise RequestNotPending()
        if current.expires_at <= self._clock.now():
            raise RequestExpired()
        return current

    def _settle(self, row: CitizenRequest, state: str, now: dt.datetime) -> None:
        for other in self._repo.group(row.group_id):
            if other.id == row.id:
                self._close(other, state, now)
            elif other.state == "pending":
                # Another guardian's copy: the first decision answers the request.
                self._close(other, "expired", now)

    def _record_decision(
        self, citizen: Citizen, row: CitizenRequest, action: str, consent_id: str | None = None
    ) -> None:
        details: dict[str, Any] = {
            "request_id": row.group_id,
            "kind": row.kind,
            "institution_id": row.institution_id,
            "by": "person" if row.person_id == citizen.person_id else "guardian",
        }
        if row.claims:
            details["claims"] = row.claims.split()
        if consent_id is not None:
            details["consent_id"] = consent_id
        self._record(
            actor=citizen.actor,
            action=action,
            purpose=row.purpose,
            person_id=row.person_id,
            key=self._person_key(row.person_id),
            details=details,
        )

    def _decide_enrolment(
        self, citizen: Citizen, request_id: str, *, approve: bool
    ) -> dict[str, Any]:
        pending = {e.enrolment_id for e in self._pending_enrolments(citizen.person_id)}
        if request_id not in pending:
            raise RequestNotFound()
        if approve:
            self._accounts.approve_enrolment_as_guardian(
                request_id, citizen.person_id, actor=citizen.actor
            )
        else:
            self._accounts.deny_enrolment_as_guardian(
                request_id, citizen.person_id, actor=citizen.actor
            )
        return {
            "id": request_id,
            "kind": "guardian_enrolment",
            "about": "ward",
            "state": "approved" if approve else "denied",
        }

    # -- consents ---------------------------------------------------------------------------
    def _receipt(self, view: ConsentView, principal_id: str) -> dict[str, Any]:
        try:
            institution = self._institutions.get(view.institution_id)
            controller = PiiController(
                name=institution.name,
                code=institution.code,
                address=institution.location,
                url=f"https://{institution.sector}" if institution.sector else None,
            )
        except NotFound:
            controller = PiiController(name=view.institution_id, code=None, address="")
        now = self._clock.now()
        state = "revoked" if view.revoked_at else ("live" if view.is_live(now) else "expired")
        return {
            "id": view.id,
            "state": state,
            # KI-CR v1.1 has no expiry field (only the ``termination`` text): the record's
            # times, machine-readable, beside the receipt (issue 5 §8: time, expiry).
            "granted_at": view.granted_at.isoformat(),
            "expires_at": view.expires_at.isoformat(),
            "revoked_at": view.revoked_at.isoformat() if view.revoked_at else None,
            "receipt": kantara_receipt(
                view,
                principal_id=principal_id,
                controller=controller,
                policy_url=controller.url or self._policy_url,
                purpose_label=self._purpose_labels.get(view.purpose),
            ),
        }

    def _principal_id(self, person_id: str) -> str:
        net_id = self._accounts.network_id_of(person_id)
        return format_network_id(net_id) if net_id else ""

    def consent_receipts(self, citizen: Citizen) -> list[dict[str, Any]]:
        """My consents, live and past, each as a Kantara v1.1 consent receipt."""
        principal = self._principal_id(citizen.person_id)
        out = [self._receipt(v, principal) for v in self._consents.of_person(citizen.person_id)]
        self._record(
            actor=citizen.actor,
            action="citizen.consents.read",
            person_id=citizen.person_id,
            key=self._wallet_key(citizen.person_id),
            details={"consents": len(out)},
        )
        return out

    def revoke_consent(self, citizen: Citizen, consent_id: str) -> dict[str, Any]:
        """Revoke one of my consents; the next verification no longer gets its claims."""
        person_key = self._person_key(citizen.person_id)
        if person_key is None:
            raise ConsentNotFound()
        view = self._consents.revoke(
            consent_id, person_id=citizen.person_id, person_key=person_key, actor=citizen.actor
        )
        return self._receipt(view, self._principal_id(citizen.person_id))

    # -- history ----------------------------------------------------------------------------
    def history(self, citizen: Citizen, *, limit: int = 100) -> dict[str, Any]:
        """My own entries, newest first, under my registry key and my account key, each with
        its RFC 9162 inclusion proof against the latest signed checkpoint when that covers it
        (a newer entry gets its proof once the next checkpoint is cut). The query is
        recorded, after it ran (it shows in the next one)."""
        limit = max(1, min(limit, MAX_HISTORY))
        me = citizen.person_id
        keys = [k for k in (self._person_key(me), self._accounts.account_key(me)) if k]
        merged: dict[int, dict[str, Any]] = {}
        for key in keys:
            for entry in self._audit.entries_of_person(me, key, limit=limit):
                merged.setdefault(int(entry["index"]), entry)
        entries = [merged[i] for i in sorted(merged, reverse=True)[:limit]]
        try:
            checkpoint = self._audit.latest_checkpoint()
        except NoCheckpoint:
            checkpoint = None
        for entry in entries:
            proof = None
            if checkpoint is not None and entry["index"] < checkpoint.tree_size:
                found = self._audit.inclusion_proof(entry["index"], checkpoint.tree_size)
                proof = found.to_json()
            entry["inclusion_proof"] = proof
        self._record(
            actor=citizen.actor,
            action="citizen.history",
            person_id=me,
            key=self._wallet_key(me),
            details={"entries": len(entries)},
        )
        return {
            "hash_alg": self._audit.status().hash_alg,
            "checkpoint": checkpoint.to_json() if checkpoint else None,
            "entries": entries,
        }

    # -- deregistration ---------------------------------------------------------------------
    def deregister(self, citizen: Citizen, network_id: str) -> dict[str, Any]:
        """End my network identity (issue 5 §10): credentials revoked (status INVALID), the
        consents and requests about me deleted, my wallet-only locks removed, then the account
        erased by the enrolment service (bound phone, device keys, collected face, the account
        key — which crypto-shreds the references of my wallet-side log entries). The network
        ID stays mine for a later re-enrolment. ``network_id`` must be mine (either written
        form). One transaction: a failure anywhere leaves everything as it was."""
        me = citizen.person_id
        given = normalize_network_id(network_id)
        mine = self._accounts.network_id_of(me)
        if mine is None or not hmac.compare_digest(given, normalize_network_id(mine)):
            raise NetworkIdMismatch()
        person_key = self._person_key(me)
        assert person_key is not None  # a person with a session is in the registry
        now = self._clock.now()
        # First, before the consents are read: an approval being decided right now either
        # commits first (and its consent is deleted below) or finds its request gone.
        self._repo.lock_requests_involving(me)
        self._accounts.revoke_credentials(me, reason="deregistered", actor=citizen.actor)
        consents = self._consents.unsafe_delete_all(me, person_key=person_key, actor=citizen.actor)
        requests = self._repo.unsafe_delete_requests_of(me)
        # qr and credential locks mean nothing without a credential (a re-enrolment starts
        # unlocked); the document lock protects the legal identity and stays.
        self._repo.unsafe_delete_locks(me, ("qr", "credential"))
        self._accounts.unsafe_erase_account(me, actor=citizen.actor)
        # Under the registry key: the account key is gone, and this is evidence that stays.
        self._record(
            actor=citizen.actor,
            action="citizen.deregister",
            person_id=me,
            key=person_key,
            details={"consents_deleted": len(consents), "requests_deleted": requests},
        )
        return {
            "network_id": format_network_id(mine),
            "state": "deregistered",
            "deregistered_at": now.isoformat(),
            "consents_deleted": len(consents),
            "requests_deleted": requests,
        }
