"""The verification use case: policy → number → look-up → consent → quota → answer, and one
access record (which is the receipt) for every query, answered or refused.

Monitoring (issue 4 §3) counts each query after the number parse and before the look-up, and
its outcome after the comparison; a freezing rule refuses the query like any other refusal.

The order matters. Everything that can refuse a query runs before the one write that can
fail (the quota decrement), so a refusal leaves nothing behind but its own record; after the
decrement only inserts follow. The caller owns the transaction: :meth:`verify` returns a
refusal instead of raising it, so the caller commits the refusal's record and then answers
with the error (no record, no answer — also for refusals).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from netid.audit.service import AccessRecorder, canonical_json
from netid.billing.service import BillingService
from netid.consent.service import ConsentService
from netid.core.clock import Clock, today_in_china
from netid.core.errors import NetidError
from netid.core.ids import new_row_id
from netid.core.text import names_match
from netid.credentials import qr as qr_tokens
from netid.credentials.errors import QrExpired, QrForged
from netid.crypto.pairwise import pairwise_pseudonym
from netid.crypto.sealing import SealKey
from netid.crypto.sm3 import sm3
from netid.documents import DocumentCheck, parse_document_number
from netid.faces.schemas import FaceMatcher
from netid.institutions.schemas import InstitutionView
from netid.institutions.service import InstitutionService
from netid.monitoring.service import MonitoredQuery, MonitoringService
from netid.policy.schemas import Catalogue, Decision, VerificationAsk
from netid.policy.service import decide, raise_if_denied
from netid.registry.errors import RecordRejected
from netid.registry.schemas import normalize_phone
from netid.registry.service import RegistryService, VerificationSubject
from netid.verification.errors import (
    AccountDeregistered,
    AssuranceInsufficient,
    ConsentRequired,
    CredentialExpired,
    CredentialRevoked,
    CredentialStale,
    GuardianApprovalRequired,
    InstitutionNotApproved,
    MethodLocked,
    QrReplayed,
)
from netid.verification.nonces import NonceStore
from netid.verification.schemas import (
    ASSURANCE_RANK,
    CitizenControls,
    CredentialDirectory,
    InlineReceipt,
    LockableMethod,
    LoginVerificationRequest,
    QrVerificationRequest,
    VerificationAnswer,
    VerificationRequest,
)

ApiRequest = VerificationRequest | QrVerificationRequest  # what POST /v1/verifications takes
AnyRequest = ApiRequest | LoginVerificationRequest
LoginMethod = Literal["wallet", "password"]
# The person's lock that governs each login method (docs/decisions/0006): a wallet login is a
# use of the wallet towards an institution like a QR code; a password login starts from the
# document number.
LOGIN_LOCK: dict[str, LockableMethod] = {"wallet": "qr", "password": "document"}
# Dynamic QR codes (docs/decisions/0005): the server clock decides (SEC-07), with this much
# tolerance for the phone's clock either way.
QR_CLOCK_SKEW_SECONDS = 30
# Under this age every use of the credential waits for a guardian's approval (issue 5 §9;
# PIPL art. 31: the personal information of minors under 14 needs the guardian's consent).
GUARDIAN_APPROVES_EACH_USE_UNDER = 14

AGE_MARKER_YEARS = {"age_over_14": 14, "age_over_16": 16, "age_over_18": 18, "age_over_60": 60}


def age_on(birth: dt.date, today: dt.date) -> int:
    """Completed years; someone born on 29 February comes of age on 1 March in common years
    (the day after 28 February), as Chinese civil law counts (民法典 §1259 counts whole days)."""
    years = today.year - birth.year
    if (today.month, today.day) < (birth.month, birth.day):
        years -= 1
    return years


def request_hash(request: AnyRequest, salt: bytes) -> str:
    """sm3(salt ‖ JCS(request)). The salt goes to the caller only: the logged hash alone
    cannot confirm a guessed name and number (the numbers have little entropy)."""
    return "sm3:" + sm3(salt + canonical_json(request.fingerprint_document())).hex()


def qr_nonce_key(credential_id: str, nonce: bytes) -> bytes:
    """The key a QR nonce is spent under: 16 bytes of sm3(len ‖ credential id ‖ nonce). The
    nonce is the wallet's choice and travels in clear on the screen, so a bare nonce would let
    anyone who saw a code redeem their OWN validly signed token with the same nonce first and
    burn the victim's code; per credential, only the credential's device key can spend it."""
    cid = credential_id.encode("ascii")
    return sm3(len(cid).to_bytes(2, "big") + cid + nonce)[:16]


@dataclass(frozen=True)
class Outcome:
    """The answer, or the refusal to raise once its record is committed."""

    answer: VerificationAnswer | None
    refusal: NetidError | None


@dataclass(frozen=True)
class _Caller:
    """An approved institution: the fields a verification uses, all assigned."""

    id: str
    code: str
    sector: str
    price_plan: str
    industry: str
    purposes: tuple[str, ...]
    name: str

    @classmethod
    def of(cls, view: InstitutionView) -> _Caller:
        if view.code is None or view.sector is None or view.price_plan is None:
            # Only approval leaves these unset, and unapproved institutions get no token.
            raise InstitutionNotApproved()
        return cls(
            view.id,
            view.code,
            view.sector,
            view.price_plan,
            view.industry,
            view.purposes,
            view.name,
        )


@dataclass(frozen=True)
class RecordKey:
    """Whose access record this is, under which key: a QR use is recorded under the person's
    account key (shredded when they deregister, docs/decisions/0005), not the registry key."""

    person_id: str
    key: SealKey = field(repr=False)


@dataclass
class _Query:
    institution: _Caller
    request: AnyRequest
    record_id: str
    salt: bytes
    at: dt.datetime


@dataclass(frozen=True)
class LookUp:
    """The holder of a number and the comparison with them, or the refusal on the way."""

    subject: VerificationSubject | None = field(repr=False)
    refusal: NetidError | None = None
    matched: bool = False
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedVerification:
    """What a verification's read stage found (:meth:`VerificationService.prepare`). No
    ``query``: the caller was not active then. ``refusal``: refused before monitoring counts
    the query (policy, the number). ``found``: the look-up and comparison (None for
    ``face``: those run in the write stage, once monitoring has admitted the query)."""

    institution_id: str
    request: ApiRequest  # a QR request only when the caller was inactive at the read stage
    query: _Query | None = None
    refusal: NetidError | None = None
    decision: Decision | None = None
    monitored: MonitoredQuery | None = None
    found: LookUp | None = None


@dataclass(frozen=True)
class PreparedQr:
    """What the read stage of a scanned QR code found. ``refusal``: refused there (recorded
    against the person once ``record_key`` or ``subject`` is known)."""

    institution_id: str
    request: QrVerificationRequest
    query: _Query | None = None
    refusal: NetidError | None = None
    subject: VerificationSubject | None = field(default=None, repr=False)
    record_key: RecordKey | None = field(default=None, repr=False)
    decision: Decision | None = None
    monitored: MonitoredQuery | None = None
    nonce: bytes | None = field(default=None, repr=False)
    spent_until: dt.datetime | None = None
    level: str = ""


Prepared = PreparedVerification | PreparedQr


class VerificationService:
    def __init__(
        self,
        *,
        registry: RegistryService,
        institutions: InstitutionService,
        consents: ConsentService,
        billing: BillingService,
        recorder: AccessRecorder,
        catalogue: Catalogue,
        pairwise_key: bytes,
        face_matcher: Callable[[], FaceMatcher],
        clock: Clock,
        receipt_url: Callable[[str], str],
        monitor: MonitoringService,
        credentials: CredentialDirectory,
        citizens: CitizenControls,
        nonces: NonceStore,
    ) -> None:
        self._registry = registry
        self._institutions = institutions
        self._consents = consents
        self._billing = billing
        self._recorder = recorder
        self._catalogue = catalogue
        self._pairwise_key = pairwise_key
        self._face_matcher = face_matcher
        self._clock = clock
        self._receipt_url = receipt_url
        self._monitor = monitor
        self._credentials = credentials
        self._citizens = citizens
        self._nonces = nonces

    # -- public -----------------------------------------------------------------------------
    def institution(self, institution_id: str) -> InstitutionView | NetidError:
        """The caller, if active; read on every request so a freeze acts at once."""
        try:
            return self._institutions.require_active(institution_id)
        except NetidError as refusal:
            return refusal

    def verify(self, institution_id: str, request: ApiRequest) -> Outcome:
        """Both stages in this one transaction."""
        return self.complete(self.prepare(institution_id, request))

    def verify_for(self, institution: InstitutionView, request: ApiRequest) -> Outcome:
        return self._complete(institution, self._prepare(institution, request))

    # -- staged: the read stage, then the write stage (docs/decisions/0007) ------------------
    def prepare(self, institution_id: str, request: ApiRequest) -> Prepared:
        """The read stage of a verification: policy, the number or the QR code (its device
        signature included), the look-up, the decryption and the comparison. Writes nothing
        and may run in a read-only transaction outside the writer slot; :meth:`complete`
        then counts, spends and records. For ``face`` the look-up and the comparison wait
        for the write stage (reading the reference template is itself recorded, and only
        once monitoring has admitted the query); the face route runs both stages in one
        transaction of its own (:meth:`verify`)."""
        institution = self.institution(institution_id)
        if isinstance(institution, NetidError):
            return PreparedVerification(institution_id, request)
        return self._prepare(institution, request)

    def complete(self, prepared: Prepared) -> Outcome:
        """The write stage: the caller's status read again (a freeze committed since the read
        stage still acts), then monitoring, the person's lock, the QR nonce, consent, the
        guardian, the quota and the record — everything that must be current when the
        answer is given."""
        institution = self.institution(prepared.institution_id)
        if isinstance(institution, NetidError):
            return self.refuse_inactive_caller(
                prepared.institution_id, prepared.request, institution
            )
        if prepared.query is None:  # inactive when read, active again now: read it all now
            prepared = self._prepare(institution, prepared.request)
        return self._complete(institution, prepared)

    def _prepare(self, institution: InstitutionView, request: ApiRequest) -> Prepared:
        if isinstance(request, QrVerificationRequest):
            return self._prepare_qr(institution, request)
        return self._prepare_for(institution, request)

    def _complete(self, institution: InstitutionView, prepared: Prepared) -> Outcome:
        if isinstance(prepared, PreparedQr):
            return self._complete_qr(institution, prepared)
        return self._complete_comparison(institution, prepared)

    def _prepare_for(
        self, institution: InstitutionView, request: VerificationRequest
    ) -> PreparedVerification:
        query = self._query(institution, request)
        try:
            decision = self._decide(query)
            number = parse_document_number(request.subject.document_number, today=self._today())
            monitored = self._monitored(query, number)
        except NetidError as refusal:  # before monitoring counts it
            return PreparedVerification(institution.id, request, query, refusal=refusal)
        return PreparedVerification(
            institution.id,
            request,
            query,
            decision=decision,
            monitored=monitored,
            # A face check reads the reference template, and that read is recorded: only
            # once monitoring has admitted the query (the write stage), never before.
            found=None if request.type == "face" else self._look_up(query, request),
        )

    def _look_up(self, query: _Query, request: VerificationRequest) -> LookUp:
        """The holder of the number and the comparison (a refusal here is recorded against
        the holder, if there is one)."""
        subject: VerificationSubject | None = None
        try:
            subject = self._registry.unsafe_open_subject(
                request.subject.document_number, with_phones=request.type == "id3_phone"
            )
            matched, reason, extra = self._compare(query, subject)
        except NetidError as refusal:
            return LookUp(subject, refusal=refusal)
        return LookUp(subject, matched=matched, reason=reason, extra=extra)

    def _admit(self, prepared: Prepared) -> tuple[Decision, MonitoredQuery]:
        """The write stage's start: the read stage's refusal raised, else the query counted
        before it is answered (a freezing rule refuses it; issue 4 §3)."""
        if prepared.refusal is not None:
            raise prepared.refusal
        assert prepared.decision is not None
        assert prepared.monitored is not None
        self._monitor.admit(prepared.monitored)
        return prepared.decision, prepared.monitored

    def _complete_comparison(
        self, institution: InstitutionView, prepared: PreparedVerification
    ) -> Outcome:
        query = prepared.query
        assert query is not None
        request = prepared.request
        assert isinstance(request, VerificationRequest)
        # Until monitoring has admitted the query, its refusal names nobody (as if the look-up
        # had not happened yet; docs/decisions/0007 "Staged units").
        subject: VerificationSubject | None = None
        try:
            decision, monitored = self._admit(prepared)
            found = prepared.found or self._look_up(query, request)
            subject = found.subject
            if found.refusal is not None:
                raise found.refusal
            matched = found.matched
            self._monitor.conclude(monitored, matched=matched)
            if matched and subject and self._citizens.is_locked(subject.person_id, "document"):
                # Only on a match: a mismatch must stay a mismatch, or a lock would confirm
                # that the number exists.
                raise MethodLocked()
            released = self._release(query, decision, subject) if matched and subject else {}
            self._institutions.consume_quota(institution.id, request.type)
        except NetidError as refusal:
            return self._refused(query, refusal, subject)
        answer = self._answer(query, decision, subject, matched, released, dict(found.extra))
        if found.reason and decision.reveal_mismatch_reason:
            answer.reason = found.reason
        return Outcome(answer=answer, refusal=None)

    def refuse_inactive_caller(
        self, institution_id: str, request: AnyRequest, refusal: NetidError
    ) -> Outcome:
        """A valid token of an institution that is no longer active (frozen, suspended,
        revoked): refused, and the refusal recorded like any other. A token of an institution
        that does not exist at all has nothing to record against."""
        try:
            institution = self._institutions.get(institution_id)
        except NetidError:
            return Outcome(answer=None, refusal=refusal)
        if institution.code is None:
            return Outcome(answer=None, refusal=refusal)
        query = self._query(institution, request)
        return self._refused(query, refusal, None)

    def _query(self, institution: InstitutionView, request: AnyRequest) -> _Query:
        return _Query(
            _Caller.of(institution), request, new_row_id(), os.urandom(16), self._clock.now()
        )

    # -- steps ------------------------------------------------------------------------------
    def _today(self) -> dt.date:
        return today_in_china(self._clock)

    def _monitored(self, query: _Query, number: DocumentCheck) -> MonitoredQuery:
        assert number.type is not None  # parsed: valid
        assert number.normalized is not None
        return self._monitor.query(
            institution_id=query.institution.id,
            institution_code=query.institution.code,
            industry=query.institution.industry,
            verification_id=query.record_id,
            doc_type=number.type,
            normalized=number.normalized,
            at=query.at,
        )

    def _decide(self, query: _Query) -> Decision:
        request = query.request
        decision = decide(
            self._catalogue.policy(query.institution.industry),
            VerificationAsk(
                purpose=request.purpose,
                verification_type=request.type,
                claims=frozenset(request.claims),
                age_threshold=request.threshold
                if isinstance(request, VerificationRequest)
                else None,
            ),
            registered_purposes=frozenset(query.institution.purposes),
        )
        raise_if_denied(decision)  # policy_denied / purpose_not_registered, recorded by the caller
        return decision

    def _compare(
        self, query: _Query, subject: VerificationSubject | None
    ) -> tuple[bool, str | None, dict[str, Any]]:
        """(matched, reason for a mismatch, type-specific answer fields)."""
        request = query.request
        assert isinstance(request, VerificationRequest)  # the QR path does not compare
        extra: dict[str, Any] = {}
        if request.type == "face":
            # Computed before the look-up result is used: a photo without a face is refused
            # the same way whether or not the number exists.
            probe = self._face_matcher().template(request.subject.face_image_bytes())
        if subject is None:
            return False, "document_not_found", extra
        if not names_match(request.subject.name, subject.name):
            return False, "name_mismatch", extra
        if request.type == "id3_phone":
            try:
                phone = normalize_phone(request.subject.phone or "", "subject.phone")
            except RecordRejected:
                return False, "phone_mismatch", extra
            if phone not in subject.phones:
                return False, "phone_mismatch", extra
        if request.type == "face":
            reference = self._registry.load_face_template(
                subject.person_id,
                actor=f"institution:{query.institution.code}",
                purpose=request.purpose,
            )
            if reference is None:
                return False, "face_not_enrolled", extra
            comparison = self._face_matcher().compare(probe, reference)
            extra["face_similarity"] = round(comparison.similarity, 3)
            if not comparison.match:
                return False, "face_mismatch", extra
        if request.type == "age_over":
            assert request.threshold is not None
            extra["age_over"] = {
                "threshold": request.threshold,
                "value": age_on(subject.birth_date, self._today()) >= request.threshold,
            }
        if request.type == "status":
            valid, why = self._document_valid(subject)
            extra["document_valid"] = valid
            if not valid:
                extra["_status_reason"] = why
        return True, None, extra

    def _document_valid(self, subject: VerificationSubject) -> tuple[bool, str | None]:
        if subject.status == "deceased":
            return False, "holder_deceased"
        doc = subject.document
        if doc.status != "valid":
            return False, f"document_{doc.status}"
        if doc.expires_on is not None and doc.expires_on < self._today():
            return False, "document_expired"
        return True, None

    def _release(
        self,
        query: _Query,
        decision: Decision,
        subject: VerificationSubject,
        *,
        consented_now: frozenset[str] = frozenset(),
    ) -> dict[str, str | bool]:
        """The asked claims' values; those needing separate consent only if it was given
        (remembered, or ``consented_now``: ticked by the person for this very request)."""
        if decision.consent_required:
            granted = consented_now | self._consents.granted_claims(
                subject.person_id, query.institution.id, query.request.purpose
            )
            missing = decision.consent_required - granted
            if missing:
                raise self._consent_required(query, subject.person_id, sorted(missing))
        values: dict[str, str | bool] = {}
        today = self._today()
        for claim in query.request.claims:
            if claim in AGE_MARKER_YEARS:
                values[claim] = age_on(subject.birth_date, today) >= AGE_MARKER_YEARS[claim]
            elif claim == "name":
                values[claim] = subject.name
            elif claim == "document_type":
                values[claim] = subject.document.type.value
            elif claim == "document_number":
                values[claim] = subject.document.number
            elif claim == "birth_date":
                values[claim] = subject.birth_date.isoformat()
            elif claim == "sex":
                values[claim] = subject.sex
            elif claim == "nationality":
                values[claim] = subject.nationality
        return values

    def _consent_required(self, query: _Query, person_id: str, missing: list[str]) -> NetidError:
        """The refusal for missing separate consent. An enrolled person also gets the request
        in their wallet (issue 5 §8): once they approve it, the institution's next request is
        answered with the claims."""
        details: dict[str, Any] = {"claims": missing}
        if self._credentials.network_id_of(person_id) and not self._credentials.is_deregistered(
            person_id
        ):
            details["request_id"] = self._citizens.open_consent_request(
                person_id=person_id,
                institution_id=query.institution.id,
                institution_code=query.institution.code,
                institution_name=query.institution.name,  # the person sees who asks
                purpose=query.request.purpose,
                claims=sorted(query.request.claims),
                verification_id=query.record_id,
            )
        return ConsentRequired(details=details)

    # -- OpenID Connect logins (oidc) ------------------------------------------------------
    def authorize_login(
        self,
        institution_id: str,
        request: LoginVerificationRequest,
        *,
        person_id: str,
        method: LoginMethod,
        assurance: str,
        consented_now: frozenset[str] = frozenset(),
    ) -> Outcome:
        """An OIDC login as a verification (docs/decisions/0006 "Completion"): policy,
        monitoring, the person's lock, assurance, consent (remembered, or ``consented_now``
        ticked on the consent page), guardian, quota; then one access record (the receipt) and
        the charge. The answer carries the pairwise pseudonym (the OIDC ``sub``) and the
        released claims."""
        institution = self.institution(institution_id)
        if isinstance(institution, NetidError):
            return self.refuse_inactive_caller(institution_id, request, institution)
        query = self._query(institution, request)
        subject: VerificationSubject | None = None
        record_key: RecordKey | None = None
        try:
            decision = self._decide(query)
            if method == "wallet":
                account_key = self._credentials.account_key(person_id)
                if account_key is not None:
                    record_key = RecordKey(person_id, account_key)
                subject = self._credentials.unsafe_open_subject_of(person_id)
            else:
                subject = self._registry.unsafe_open_person_subject(person_id)
            if subject is None:
                raise CredentialStale()
            monitored = self._monitored(query, self._subject_number(subject))
            self._monitor.admit(monitored)
            if self._citizens.is_locked(person_id, LOGIN_LOCK[method]):
                raise MethodLocked()
            self._monitor.conclude(monitored, matched=True)
            if request.min_assurance and (
                ASSURANCE_RANK.get(assurance, 0) < ASSURANCE_RANK[request.min_assurance]
            ):
                raise AssuranceInsufficient(
                    details={"required": request.min_assurance, "reached": assurance}
                )
            released = self._release(query, decision, subject, consented_now=consented_now)
            self._require_guardian_approval(query, subject)
            self._institutions.consume_quota(institution.id, request.type)
        except NetidError as refusal:
            return self._refused(query, refusal, subject, record_key=record_key)
        answer = self._answer(query, decision, subject, True, released, {}, record_key=record_key)
        answer.assurance = assurance
        return Outcome(answer=answer, refusal=None)

    # -- the dynamic QR code (netid_qr) -----------------------------------------------------
    def _prepare_qr(
        self, institution: InstitutionView, request: QrVerificationRequest
    ) -> PreparedQr:
        """The read stage of a scanned QR code, in the order of docs/decisions/0005: shape,
        ref, credential, device signature, expiry, the person, the credential's status. The
        write stage (:meth:`_complete_qr`) goes on with the person's lock, the nonce (once),
        assurance, policy and consent, guardian, quota. Anything after the ref is recorded
        against the person."""
        query = self._query(institution, request)
        subject: VerificationSubject | None = None
        record_key: RecordKey | None = None
        try:
            decision = self._decide(query)
            claims = qr_tokens.read(request.qr)  # qr_malformed
            ref = self._credentials.open_credential_ref(claims.ref)  # qr_forged
            credential = self._credentials.credential_for_qr(ref.cid)
            if credential is None:
                raise QrForged()
            account_key = self._credentials.account_key(credential.person_id)
            if account_key is not None:
                record_key = RecordKey(credential.person_id, account_key)
            if credential.device_key is None or credential.account_status != "active":
                raise AccountDeregistered()  # erased: nothing left to check a signature with
            now = int(query.at.timestamp())
            # The device signature before anything the token says is believed (its times, its
            # nonce); the server clock decides expiry (SEC-07).
            qr_tokens.verify(request.qr, credential.device_key, now=now, skew=QR_CLOCK_SKEW_SECONDS)
            # The ref's end is the platform's own time (session or credential end), so no
            # phone-clock skew applies: a ref dies with its session, not 30 s later.
            if now >= ref.exp:
                raise QrExpired()
            # The person as the credential names them: the document they enrolled with.
            subject = self._credentials.unsafe_open_subject_of(credential.person_id)
            if subject is None:
                raise CredentialStale()
            # "suspended" is the person's lock on offline presentations (the status list), not
            # on QR codes: the "qr" lock (write stage) governs those.
            if credential.status == "revoked":
                raise CredentialRevoked()
            if credential.status == "expired":
                raise CredentialExpired()
            monitored = self._monitored(query, self._subject_number(subject))
        except NetidError as refusal:
            return PreparedQr(
                institution.id,
                request,
                query,
                refusal=refusal,
                subject=subject,
                record_key=record_key,
            )
        return PreparedQr(
            institution.id,
            request,
            query,
            subject=subject,
            record_key=record_key,
            decision=decision,
            monitored=monitored,
            nonce=qr_nonce_key(credential.credential_id, claims.nonce),
            # The expiry check compares whole seconds (accepted while int(now) <= exp + skew,
            # that is until exp + skew + 1): the nonce is remembered until then, or a replay in
            # that last second would find it purged (SEC-16; found in review).
            spent_until=dt.datetime.fromtimestamp(claims.exp + QR_CLOCK_SKEW_SECONDS + 1, dt.UTC),
            level=ref.lvl,
        )

    def _complete_qr(self, institution: InstitutionView, prepared: PreparedQr) -> Outcome:
        query = prepared.query
        assert query is not None
        subject, record_key = prepared.subject, prepared.record_key
        try:
            decision, monitored = self._admit(prepared)
            assert subject is not None
            assert prepared.nonce is not None
            assert prepared.spent_until is not None
            if self._citizens.is_locked(subject.person_id, "qr"):
                raise MethodLocked()
            if not self._nonces.spend(
                prepared.nonce, expires_at=prepared.spent_until, now=query.at
            ):
                raise QrReplayed()
            self._monitor.conclude(monitored, matched=True)
            minimum = prepared.request.min_assurance
            if minimum and ASSURANCE_RANK.get(prepared.level, 0) < ASSURANCE_RANK[minimum]:
                raise AssuranceInsufficient(
                    details={"required": minimum, "reached": prepared.level}
                )
            released = self._release(query, decision, subject)
            # After consent (a consent refusal must not use up the guardian's one-use approval)
            # and before the quota, the last check that can refuse.
            self._require_guardian_approval(query, subject)
            self._institutions.consume_quota(institution.id, prepared.request.type)
        except NetidError as refusal:
            return self._refused(query, refusal, subject, record_key=record_key)
        answer = self._answer(query, decision, subject, True, released, {}, record_key=record_key)
        answer.assurance = prepared.level
        return Outcome(answer=answer, refusal=None)

    @staticmethod
    def _subject_number(subject: VerificationSubject) -> DocumentCheck:
        doc = subject.document
        return DocumentCheck(valid=True, type=doc.type, normalized=doc.number)

    def _require_guardian_approval(self, query: _Query, subject: VerificationSubject) -> None:
        """Under 14 each use waits for a guardian (issue 5 §9). The age is computed now, so the
        rule ends by itself on the 14th birthday."""
        if age_on(subject.birth_date, self._today()) >= GUARDIAN_APPROVES_EACH_USE_UNDER:
            return
        institution = query.institution
        if self._citizens.take_guardian_use_approval(
            subject.person_id, institution.id, query.request.purpose
        ):
            return
        request_id = self._citizens.open_guardian_use_request(
            ward_person_id=subject.person_id,
            institution_id=institution.id,
            institution_code=institution.code,
            purpose=query.request.purpose,
            verification_id=query.record_id,
        )
        raise GuardianApprovalRequired(details={"request_id": request_id})

    # -- records ----------------------------------------------------------------------------
    def _receipt(self, query: _Query, result_class: str, price: int) -> dict[str, Any]:
        return {
            "id": query.record_id,
            "institution_code": query.institution.code,
            "type": query.request.type,
            "purpose": query.request.purpose,
            "time": query.at.isoformat(),
            "result_class": result_class,
            "price_fen": price,
            "currency": "CNY",
            "request_hash": request_hash(query.request, query.salt),
        }

    def _record(
        self,
        query: _Query,
        *,
        result_class: str,
        price: int,
        subject: VerificationSubject | None,
        disclosed: list[str],
        reason: str | None = None,
        record_key: RecordKey | None = None,
    ) -> InlineReceipt:
        receipt = self._receipt(query, result_class, price)
        details: dict[str, Any] = {"receipt": receipt, "claims_disclosed": disclosed}
        if reason:
            details["reason"] = reason
        row = self._recorder.record(
            record_id=query.record_id,
            actor=f"institution:{query.institution.code}",
            action=f"verification.{query.request.type}",
            outcome=result_class,
            purpose=query.request.purpose,
            subject_key=record_key.key if record_key else subject.key if subject else None,
            subject_id=record_key.person_id
            if record_key
            else subject.person_id
            if subject
            else None,
            details=details,
        )
        self._billing.charge(
            receipt_id=query.record_id,
            institution_id=query.institution.id,
            institution_code=query.institution.code,
            verification_type=query.request.type,
            purpose=query.request.purpose,
            result_class=result_class,
            price_fen=price,
            at=query.at,
        )
        return InlineReceipt(
            id=query.record_id,
            log_index=row.log_index,
            request_hash=receipt["request_hash"],
            request_salt=query.salt.hex(),
            price_fen=price,
            url=self._receipt_url(query.record_id),
        )

    def _refused(
        self,
        query: _Query,
        refusal: NetidError,
        subject: VerificationSubject | None,
        *,
        record_key: RecordKey | None = None,
    ) -> Outcome:
        receipt = self._record(
            query,
            result_class="refused",
            price=0,
            subject=subject,
            disclosed=[],
            reason=refusal.code,
            record_key=record_key,
        )
        refusal.details["receipt"] = receipt.model_dump()
        return Outcome(answer=None, refusal=refusal)

    def _answer(
        self,
        query: _Query,
        decision: Decision,
        subject: VerificationSubject | None,
        matched: bool,
        released: dict[str, str | bool],
        extra: dict[str, Any],
        *,
        record_key: RecordKey | None = None,
    ) -> VerificationAnswer:
        """The answer. A mismatch carries nothing about the person (not even whether the
        number exists), but its record names the holder if there is one: people see who
        tried their number with another name."""
        result = "match" if matched else "mismatch"
        if not matched:
            extra = {}  # not even a face similarity: it would say a template exists
        price = self._catalogue.price_fen(query.institution.price_plan, query.request.type)
        receipt = self._record(
            query,
            result_class=result,
            price=price,
            subject=subject,
            disclosed=sorted(released),
            reason=None,
            record_key=record_key,
        )
        status_reason = extra.pop("_status_reason", None)
        answer = VerificationAnswer(
            verification_id=query.record_id,
            type=query.request.type,
            result=result,
            pseudonym=(
                pairwise_pseudonym(
                    self._pairwise_key,
                    sector=query.institution.sector,
                    subject_id=subject.subject_id,
                )
                if matched and subject is not None
                else None
            ),
            markers=sorted(subject.markers) if matched and subject is not None else [],
            claims=released,
            receipt=receipt,
            **extra,
        )
        if status_reason and decision.reveal_mismatch_reason:
            answer.reason = status_reason
        return answer
