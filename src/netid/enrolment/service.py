"""Enrolment (申领), network credentials (网证), wallet sessions and status lists.

Use cases for the public HTTP API (``/v1/enrolments*``, ``/v1/wallet/*``, the issuer
endpoints), for ``netid.citizens`` (revocation, erasure, locks, guardian decisions) and for
``netid.verification`` (QR credential references). The service flushes and never commits.

Refusals whose traces must stay (the access record of the failure, OTP tries, failed PINs) are
raised as :class:`~netid.enrolment.errors.Refusal`: the caller commits, then raises the error
it carries. Nothing else has been written when a refusal is raised: every check runs before
the first write of the step.

Keys: enrolment steps are recorded under the person's key (they read the registry);
credential and wallet-side entries under the per-account key, which deregistration deletes
(crypto-shredding those references).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import secrets
import struct
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, Protocol

import orjson
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from netid.admins.passwords import dummy_hash, hash_password, verify_password
from netid.audit.service import AccessRecorder
from netid.core.clock import CHINA_TZ, Clock, today_in_china
from netid.core.errors import NetidError
from netid.core.ids import new_row_id
from netid.core.masking import mask_name, mask_phone
from netid.credentials import jws, sdjwt
from netid.credentials import status_list as status_lists
from netid.credentials.errors import JwsError, QrForged
from netid.credentials.network_id import format_network_id, new_network_id
from netid.crypto.errors import CryptoError, InvalidKeyMaterial
from netid.crypto.jose_keys import (
    JosePublicKey,
    b64url_decode,
    b64url_encode,
    jwk_thumbprint,
    load_private_key,
    public_jwk,
    public_key_from_jwk,
)
from netid.crypto.sealing import SealKey, generate_seal_key, open_sealed, seal, sealed_key_id
from netid.crypto.sm2 import Sm2PublicKey
from netid.crypto.sm3 import hmac_sm3, length_prefixed
from netid.documents import DocumentType
from netid.documents.chip import ChipData, read_chip
from netid.documents.errors import ChipStale
from netid.enrolment.errors import (
    AccountDeregistered,
    CredentialExpired,
    CredentialRevoked,
    DeviceKeyInvalid,
    EnrolmentDenied,
    EnrolmentExpired,
    EnrolmentNotFound,
    FaceMismatch,
    FaceReferenceMissing,
    GuardianNotLinked,
    GuardianRequired,
    LivenessInvalid,
    LoginFactorsInvalid,
    NoPhoneOnRecord,
    OtpExhausted,
    OtpExpired,
    OtpInvalid,
    PinInvalid,
    PinLocked,
    PinTooWeak,
    ProofInvalid,
    Refusal,
    SessionInvalid,
    StatusListNotFound,
    StepOutOfOrder,
)
from netid.enrolment.models import (
    CollectedFace,
    Credential,
    Enrolment,
    NetworkIdentity,
    OneTimeCode,
    StatusList,
)
from netid.enrolment.repository import EnrolmentRepository
from netid.enrolment.schemas import (
    ADULT_AGE,
    AGE_MARKERS,
    ASSURANCE_LEVELS,
    CREDENTIAL_MAX_DAYS,
    ENROLMENT_TTL,
    FACE_TRIES,
    GUARDIAN_ENROLS_BELOW,
    GUARDIAN_WAIT,
    LOGIN_CODE_COOLDOWN,
    MAX_QR_REFS,
    OTP_DIGITS,
    OTP_TRIES,
    OTP_TTL,
    PIN_LOCK,
    PIN_LOCK_MAX,
    PIN_TRIES,
    PROOF_SKEW_SECONDS,
    SESSION_TTL_SECONDS,
    STATUS_LIST_BITS,
    STATUS_LIST_LIFETIME_SECONDS,
    STATUS_LIST_SIZE,
    STATUS_LIST_TTL_SECONDS,
    VCT,
    AccountView,
    Assurance,
    CitizenPrincipal,
    Completion,
    CredentialRef,
    EnrolmentStarted,
    EnrolmentState,
    IssuedCredential,
    PendingWardEnrolment,
    QrCredential,
    StatusCode,
    Supervision,
    WalletSession,
    age_band,
    age_on,
    birthday,
)
from netid.faces.schemas import FaceMatcher
from netid.keys.schemas import KeyPurpose
from netid.keys.service import Keyring
from netid.oauth.errors import InvalidToken
from netid.oauth.tokens import mint_wallet_token, verify_wallet_token
from netid.registry.errors import PersonNotFound
from netid.registry.service import RegistryService, VerificationSubject
from netid.sms.schemas import SmsSender, otp_message

LIVENESS_TYP = "netid-liveness+jwt"
PROOF_TYP = "netid-proof+jwt"
DEVICE_ALGS = frozenset({"ES256"})
CITIZEN = "citizen"  # the actor of citizen-initiated steps (no identifier in clear)
_SECRET_LENGTH = 22  # 16 random bytes, base64url
_JTI_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_HEX = frozenset("0123456789abcdef")
_OTP_LABEL = b"netid/one-time-code/v1"
# A credential reference: credential id (16 bytes), level (1 byte), session id (16 bytes),
# expiry (uint32, Unix seconds), sealed under the data key (AAD qr_ref|credential|key id).
_REF = struct.Struct(">16sB16sI")
MAX_FACE_IMAGE_BYTES = 2 * 1024 * 1024


def _hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def _ts(at: dt.datetime) -> int:
    return int(at.timestamp())


def _midnight_china(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), CHINA_TZ).astimezone(dt.UTC)


def _is_hex_id(value: str) -> bool:
    return isinstance(value, str) and len(value) == 32 and set(value) <= _HEX


def normalise_pin(pin: str) -> str:
    """NFKC (as the admins' hasher does), then the strength rules of docs/decisions/0005: 6–64
    characters, not one character repeated, not a run of digits up or down (wrapping 9→0)."""
    if not isinstance(pin, str):
        raise PinTooWeak()
    normal = unicodedata.normalize("NFKC", pin)
    if not 6 <= len(normal) <= 64 or len(set(normal)) == 1:
        raise PinTooWeak()
    if all(c in "0123456789" for c in normal):
        steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(normal)}
        if steps in ({1}, {9}):
            raise PinTooWeak()
    return normal


def _device_key(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    try:
        key = public_key_from_jwk(jwk)
    except (InvalidKeyMaterial, TypeError, AttributeError):
        raise DeviceKeyInvalid() from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise DeviceKeyInvalid()
    return key


class SealedIdentity(Protocol):
    """What opens a person's account key and enrolment document: a
    :class:`~netid.enrolment.models.NetworkIdentity`, or the hot path's
    :class:`~netid.enrolment.repository.SealedIdentityRow`."""

    @property
    def person_id(self) -> str: ...
    @property
    def account_key_id(self) -> str | None: ...
    @property
    def account_key_wrapped(self) -> bytes | None: ...
    @property
    def document_sealed(self) -> bytes | None: ...


class EnrolmentService:
    def __init__(
        self,
        *,
        repository: EnrolmentRepository,
        registry: RegistryService,
        keyring: Keyring,
        recorder: AccessRecorder,
        clock: Clock,
        sms: SmsSender,
        face_matcher: Callable[[], FaceMatcher],
        chip_issuers: Callable[[], Mapping[str, Sm2PublicKey]],
        issuer: str,
        status_list_size: int = STATUS_LIST_SIZE,
    ) -> None:
        self._repo = repository
        self._registry = registry
        self._keyring = keyring
        self._recorder = recorder
        self._clock = clock
        self._sms = sms
        self._face_matcher = face_matcher
        self._chip_issuers = chip_issuers
        self._issuer = issuer.rstrip("/")
        self._status_list_size = status_list_size

    # -- addresses ------------------------------------------------------------------------------
    @property
    def enrolment_audience(self) -> str:
        return f"{self._issuer}/v1/enrolments"

    @property
    def wallet_audience(self) -> str:
        return f"{self._issuer}/v1/wallet"

    def status_list_uri(self, list_id: str) -> str:
        return f"{self._issuer}/v1/status-lists/{list_id}"

    # -- small helpers ----------------------------------------------------------------------------
    def _now(self) -> dt.datetime:
        return self._clock.now()

    def _refuse(
        self,
        error: NetidError,
        *,
        action: str,
        key: SealKey | None = None,
        person_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> NoReturn:
        self._record(action, key=key, person_id=person_id, outcome=error.code, details=details)
        raise Refusal(error)

    def _record(
        self,
        action: str,
        *,
        key: SealKey | None,
        person_id: str | None,
        outcome: str = "ok",
        actor: str = CITIZEN,
        details: dict[str, Any] | None = None,
    ) -> None:
        """One access record under ``key`` (the person's or the account's key). The subject
        is named only when there is a key to seal its reference; without one (not enrolled,
        deregistered) the entry is kept without a subject."""
        self._recorder.record(
            actor=actor,
            action=action,
            outcome=outcome,
            subject_key=key,
            subject_id=person_id if key is not None else None,
            details=details,
        )

    def _data_seal(self, value: bytes, table: str, column: str, row_id: str) -> bytes:
        key = self._keyring.active_seal_key(KeyPurpose.DATA)
        return seal(key, value, table=table, column=column, row_id=row_id)

    def _data_open(self, sealed: bytes, table: str, column: str, row_id: str) -> bytes:
        return open_sealed(
            self._keyring.seal_key, sealed, table=table, column=column, row_id=row_id
        )

    # -- account keys -----------------------------------------------------------------------------
    def _wrap_account_key(self, person_id: str, key: SealKey) -> tuple[bytes, str]:
        data_key = self._keyring.active_seal_key(KeyPurpose.DATA)
        wrapped = seal(
            data_key,
            key.secret,
            table="network_identity",
            column="account_key",
            row_id=f"{person_id}/{key.key_id}",
        )
        return wrapped, data_key.key_id

    def _account_key_of(self, identity: SealedIdentity) -> SealKey | None:
        if identity.account_key_wrapped is None or identity.account_key_id is None:
            return None
        secret = self._data_open(
            identity.account_key_wrapped,
            "network_identity",
            "account_key",
            f"{identity.person_id}/{identity.account_key_id}",
        )
        return SealKey(identity.account_key_id, secret)

    def account_key(self, person_id: str) -> SealKey | None:
        """The per-account key (seals the references of wallet-side access records), or None
        when the person never enrolled or deregistered (the key is gone)."""
        identity = self._repo.sealed_identity(person_id)
        return self._account_key_of(identity) if identity else None

    def _account_open(self, key: SealKey, sealed: bytes, column: str, person_id: str) -> bytes:
        return open_sealed(
            {key.key_id: key}, sealed, table="network_identity", column=column, row_id=person_id
        )

    # -- the registry, reached through the enrolment document ------------------------------------
    def _stored_document(self, identity: SealedIdentity) -> tuple[DocumentType, str] | None:
        key = self._account_key_of(identity)
        if key is None or identity.document_sealed is None:
            return None
        doc = orjson.loads(
            self._account_open(key, identity.document_sealed, "document", identity.person_id)
        )
        return DocumentType(doc["type"]), str(doc["number"])

    def unsafe_open_subject_of(self, person_id: str) -> VerificationSubject | None:
        """:meth:`RegistryService.unsafe_open_subject` (WITHOUT recording the access:
        the caller records it) for an enrolled person, held to the document they enrolled
        with. What it adds: None when the person never enrolled or deregistered (the account
        key, which seals that document, is gone), and None when the registry's document of
        that type is no longer the enrolled one (replaced: the person enrols again, so a
        refresh answers chip_stale rather than signing another document's number). The
        document is found by its number, so a person holding two of one type gets the right
        one."""
        identity = self._repo.sealed_identity(person_id)
        document = self._stored_document(identity) if identity else None
        if document is None:
            return None
        subject = self._registry.unsafe_open_subject(document[1])
        if subject is None or subject.person_id != person_id:
            return None
        return subject

    def _person_key(self, person_id: str, number: str | None = None) -> SealKey | None:
        """The person's key (for access records), found through a document number."""
        if number is None:
            identity = self._repo.identity(person_id)
            document = self._stored_document(identity) if identity else None
            if document is None:
                return None
            number = document[1]
        try:
            found_id, key = self._registry.person_ref(number)
        except PersonNotFound:
            return None
        return key if found_id == person_id else None

    def person_age(self, person_id: str) -> int | None:
        """Completed years today (China time) from the registry birth date; None if unknown."""
        subject = self.unsafe_open_subject_of(person_id)
        if subject is None:
            return None
        return age_on(subject.birth_date, today_in_china(self._clock))

    def network_id_of(self, person_id: str) -> str | None:
        """The network ID in display form (``XXXX-XXXX-XXXX-XXXX``), or None."""
        identity = self._repo.identity(person_id)
        return format_network_id(identity.net_id) if identity else None

    def is_deregistered(self, person_id: str) -> bool:
        identity = self._repo.identity(person_id)
        return identity is not None and identity.status == "deregistered"

    def guardian_ids(self, ward_person_id: str) -> list[str]:
        """The ward's guardians (registry links) who are enrolled with an active account."""
        out = []
        for guardian_id in sorted(self._repo.guardian_ids_of(ward_person_id)):
            identity = self._repo.identity(guardian_id)
            if identity is not None and identity.status == "active":
                out.append(guardian_id)
        return out

    def _matches(self, chip: ChipData, subject: VerificationSubject | None) -> bool:
        """The chip still describes the registry's record: same document (type and number),
        name and birth date; the document valid today; the person alive."""
        if subject is None:
            return False
        today = today_in_china(self._clock)
        document = subject.document
        return (
            document.type == chip.document_type
            and document.number == chip.number
            and hmac.compare_digest(subject.name.encode(), chip.name.encode())
            and subject.birth_date == chip.birth_date
            and document.status == "valid"
            and (document.expires_on is None or document.expires_on >= today)
            and subject.status == "active"
        )

    @staticmethod
    def _still_valid(subject: VerificationSubject | None, today: dt.date) -> bool:
        if subject is None:
            return False
        document = subject.document
        return (
            subject.status == "active"
            and document.status == "valid"
            and (document.expires_on is None or document.expires_on >= today)
        )

    # -- one-time codes ---------------------------------------------------------------------------
    def _code_mac(self, secret: bytes, row_id: str, code: str) -> bytes:
        return hmac_sm3(secret, length_prefixed(_OTP_LABEL, row_id.encode(), code.encode()))

    def _new_code(
        self, *, person_id: str, purpose: str, owner_id: str, row: OneTimeCode | None
    ) -> str:
        """A fresh code for (purpose, owner); a resend keeps the try count (SEC-03)."""
        code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
        key = self._keyring.active(KeyPurpose.TOKEN_MAC)
        now = self._now()
        if row is None:
            row_id = new_row_id()
            self._repo.add(
                OneTimeCode(
                    id=row_id,
                    person_id=person_id,
                    purpose=purpose,
                    owner_id=owner_id,
                    code_mac=self._code_mac(key.secret, row_id, code),
                    mac_key_id=key.key_id,
                    tries=0,
                    sends=1,
                    created_at=now,
                    expires_at=now + OTP_TTL,
                    used_at=None,
                    last_failed_at=None,
                )
            )
            return code
        row.code_mac = self._code_mac(key.secret, row.id, code)
        row.mac_key_id = key.key_id
        row.sends += 1
        row.expires_at = now + OTP_TTL
        row.used_at = None
        self._repo.flush()
        return code

    def _check_code(self, row: OneTimeCode | None, code: str) -> NetidError | None:
        """None if ``code`` is right (the row is marked used); else the refusal, with the
        failed try counted on the row."""
        now = self._now()
        if row is None or row.used_at is not None:
            return OtpExpired()
        if row.tries >= OTP_TRIES:
            return OtpExhausted()
        if now > row.expires_at:  # valid for OTP_TTL inclusive
            return OtpExpired()
        try:
            secret = self._keyring.get(row.mac_key_id).secret
        except CryptoError:
            return OtpExpired()  # its key was retired: the code cannot be checked any more
        # NFKC first: a Chinese input method may type full-width digits (１２３４５６), which
        # are the same code to the person.
        typed = unicodedata.normalize("NFKC", code) if isinstance(code, str) else ""
        fits = len(typed) == OTP_DIGITS and typed.isascii() and typed.isdigit()
        given = typed if fits else "-" * OTP_DIGITS
        if hmac.compare_digest(self._code_mac(secret, row.id, given), row.code_mac):
            row.used_at = now
            row.tries = 0
            self._repo.flush()
            return None
        row.tries += 1
        row.last_failed_at = now
        self._repo.flush()
        return OtpInvalid(details={"tries_left": OTP_TRIES - row.tries})

    # -- device-signed JWTs -----------------------------------------------------------------------
    def _device_jwt(self, token: str, key: JosePublicKey, typ: str) -> dict[str, Any]:
        """Signature and freshness of a device-signed JWT (``iat`` within ±60 s of our clock);
        raises ValueError for anything wrong."""
        if not isinstance(token, str):
            raise ValueError("not a token")
        try:
            _, payload = jws.verify_compact(token, key=key, typ=typ, algs=DEVICE_ALGS)
        except JwsError:
            raise ValueError("refused") from None
        iat = payload.get("iat")
        if not jws.is_numeric_date(iat) or isinstance(iat, bool):
            raise ValueError("iat")
        assert isinstance(iat, int | float)
        if abs(_ts(self._now()) - iat) > PROOF_SKEW_SECONDS:
            raise ValueError("stale")
        return payload

    def _check_proof(
        self,
        token: str,
        key: JosePublicKey,
        thumbprint: str,
        *,
        audience: str,
        nonce: str | None = None,
    ) -> None:
        """A ``netid-proof+jwt``: signed by the device, ``aud``, fresh ``iat``, the ``nonce``
        when one is expected, and a ``jti`` not seen before (kept until it would be stale).
        Raises ProofInvalid; a valid proof's jti is stored (so it is spent)."""
        try:
            payload = self._device_jwt(token, key, PROOF_TYP)
        except ValueError:
            raise ProofInvalid() from None
        jti = payload.get("jti")
        if payload.get("aud") != audience:
            raise ProofInvalid()
        if nonce is not None:
            given = payload.get("nonce")
            if not isinstance(given, str) or not hmac.compare_digest(
                given.encode(), nonce.encode()
            ):
                raise ProofInvalid()
        if (
            not isinstance(jti, str)
            or not 16 <= len(jti) <= 64
            or not set(jti) <= _JTI_CHARS
            or self._repo.proof_used(thumbprint, jti)
        ):
            raise ProofInvalid()
        now = self._now()
        self._repo.purge_proofs(now)
        # The check above does not see a proof another transaction is spending right now
        # (the same device key on two enrolments, say): the insert decides, once.
        if not self._repo.spend_proof(
            thumbprint, jti, now + dt.timedelta(seconds=2 * PROOF_SKEW_SECONDS)
        ):
            raise ProofInvalid()

    # == enrolment ==================================================================================
    def start(
        self,
        *,
        chip: Any,
        device_jwk: Mapping[str, Any],
        guardian_person_id: str | None = None,
    ) -> EnrolmentStarted:
        """Read the chip, match it with the registry, open the enrolment and send the code.

        ``guardian_person_id``: the person of a valid guardian wallet session on the request
        (needed under 14). Refusals: device_key_invalid, chip_malformed,
        chip_signature_invalid, chip_expired, chip_stale, guardian_required,
        guardian_not_linked, no_phone_on_record.
        """
        action = "enrolment.start"
        try:
            device = _device_key(device_jwk)
            data = read_chip(chip, trusted=self._chip_issuers(), now=self._now())
        except NetidError as exc:
            self._refuse(exc, action=action)
        subject = self._registry.unsafe_open_subject(data.number, with_phones=True)
        if not self._matches(data, subject):
            key = subject.key if subject else None
            self._refuse(ChipStale(), action=action, key=key, person_id=_pid(subject))
        assert subject is not None
        person_key = subject.key
        age = age_on(subject.birth_date, today_in_china(self._clock))
        supervision = Supervision.NONE
        phone: str | None = subject.phones[0] if subject.phones else None
        guardian: str | None = None
        if age < GUARDIAN_ENROLS_BELOW:
            supervision = Supervision.GUARDIAN_ENROLS
            if guardian_person_id is None:
                self._refuse(
                    GuardianRequired(), action=action, key=person_key, person_id=subject.person_id
                )
            if guardian_person_id not in self._repo.guardian_ids_of(subject.person_id):
                self._refuse(
                    GuardianNotLinked(), action=action, key=person_key, person_id=subject.person_id
                )
            guardian = guardian_person_id
            phone = self._bound_phone(guardian_person_id)
        elif age < 18:
            supervision = Supervision.GUARDIAN_APPROVES
        if phone is None:
            self._refuse(
                NoPhoneOnRecord(), action=action, key=person_key, person_id=subject.person_id
            )
        now = self._now()
        secret = b64url_encode(secrets.token_bytes(16))
        enrolment_id = new_row_id()
        jwk = public_jwk(device, kid=jwk_thumbprint(device))
        document = orjson.dumps({"type": data.document_type.value, "number": data.number})
        enrolment = Enrolment(
            id=enrolment_id,
            secret_hash=_hash_secret(secret),
            person_id=subject.person_id,
            state=EnrolmentState.FACE_PENDING.value,
            supervision=supervision.value,
            guardian_person_id=guardian,
            guardian_decided_at=now if guardian else None,
            device_jwk=json.dumps(jwk, sort_keys=True),
            device_thumbprint=jwk["kid"],
            phone_sealed=self._data_seal(phone.encode(), "enrolment", "phone", enrolment_id),
            document_sealed=self._data_seal(document, "enrolment", "document", enrolment_id),
            face_sealed=None,
            face_model=None,
            face_failures=0,
            credential_id=None,
            created_at=now,
            updated_at=now,
            expires_at=now + ENROLMENT_TTL,
            completed_at=None,
        )
        self._repo.add(enrolment)
        code = self._new_code(
            person_id=subject.person_id, purpose="enrolment", owner_id=enrolment_id, row=None
        )
        self._sms.send(
            phone, otp_message(code, int(OTP_TTL.total_seconds() // 60)), purpose="enrolment_otp"
        )
        self._record(
            action,
            key=person_key,
            person_id=subject.person_id,
            actor="guardian" if guardian else CITIZEN,
            details={"supervision": supervision.value},
        )
        return EnrolmentStarted(
            enrolment_id=secret,
            expires_at=enrolment.expires_at,
            phone_hint=mask_phone(phone),
            supervision=supervision,
            steps=("face", "otp", "complete"),
        )

    def _bound_phone(self, person_id: str) -> str | None:
        identity = self._repo.identity(person_id)
        if identity is None or identity.status != "active" or identity.phone_sealed is None:
            return None
        key = self._account_key_of(identity)
        if key is None:
            return None
        return self._account_open(key, identity.phone_sealed, "phone", person_id).decode()

    def _load(self, secret: str, action: str) -> tuple[Enrolment, SealKey | None]:
        """The enrolment a client's secret names, still alive, with the person's key."""
        row = None
        if isinstance(secret, str) and len(secret) == _SECRET_LENGTH and secret.isascii():
            row = self._repo.enrolment_by_secret(_hash_secret(secret))
        if row is None:
            self._refuse(EnrolmentNotFound(), action=action)
        key = self._enrolment_person_key(row)
        if row.state == EnrolmentState.DENIED:
            self._refuse(EnrolmentDenied(), action=action, key=key, person_id=row.person_id)
        if row.state == EnrolmentState.FAILED or (
            row.state != EnrolmentState.COMPLETED and self._now() >= row.expires_at
        ):
            self._refuse(EnrolmentExpired(), action=action, key=key, person_id=row.person_id)
        return row, key

    def _enrolment_document(self, row: Enrolment) -> tuple[DocumentType, str] | None:
        if not row.document_sealed:
            return None
        doc = orjson.loads(self._data_open(row.document_sealed, "enrolment", "document", row.id))
        return DocumentType(doc["type"]), str(doc["number"])

    def _enrolment_subject(self, row: Enrolment) -> VerificationSubject | None:
        """The registry record of the document the enrolment's chip named, WITHOUT recording
        the access (the caller records it); None when that document is no longer this
        person's (or the values were erased)."""
        document = self._enrolment_document(row)
        subject = self._registry.unsafe_open_subject(document[1]) if document else None
        return subject if subject is not None and subject.person_id == row.person_id else None

    def _enrolment_person_key(self, row: Enrolment) -> SealKey | None:
        document = self._enrolment_document(row)
        return self._person_key(row.person_id, document[1]) if document else None

    def _out_of_order(self, row: Enrolment, key: SealKey | None, action: str) -> NoReturn:
        self._refuse(
            StepOutOfOrder(details={"state": row.state}),
            action=action,
            key=key,
            person_id=row.person_id,
        )

    def submit_face(self, *, enrolment_id: str, face_image: bytes, liveness: str) -> str:
        """The face step: a device-signed liveness result and a live photo matching the
        registry's template; the live template is kept (sealed under the face key) as the
        reference for later L2/L3 sign-ins. Returns the new state."""
        action = "enrolment.face"
        row, key = self._load(enrolment_id, action)
        if row.state != EnrolmentState.FACE_PENDING:
            self._out_of_order(row, key, action)
        device = _device_key(json.loads(row.device_jwk))
        try:
            payload = self._device_jwt(liveness, device, LIVENESS_TYP)
            given = payload.get("enrolment_id")
            # The result speaks for this photo only: a liveness result replayed with another
            # image (within its 60 s) is refused.
            photo = b64url_encode(hashlib.sha256(face_image).digest())
            shown = payload.get("image_sha256")
            if (
                not isinstance(given, str)
                or not hmac.compare_digest(given.encode(), enrolment_id.encode())
                or payload.get("result") != "live"
                or not isinstance(shown, str)
                or not hmac.compare_digest(shown.encode(), photo.encode())
            ):
                raise ValueError("claims")
        except ValueError:
            self._refuse(LivenessInvalid(), action=action, key=key, person_id=row.person_id)
        matcher = self._face_matcher()
        try:
            probe = matcher.template(face_image)
        except NetidError as exc:
            self._refuse(exc, action=action, key=key, person_id=row.person_id)
        reference = self._registry.load_face_template(
            row.person_id, actor=CITIZEN, purpose="enrolment"
        )
        if reference is None:
            self._refuse(FaceReferenceMissing(), action=action, key=key, person_id=row.person_id)
        comparison = matcher.compare(probe, reference)
        now = self._now()
        if not comparison.match:
            row.face_failures += 1
            row.updated_at = now
            if row.face_failures >= FACE_TRIES:
                row.state = EnrolmentState.FAILED.value
            self._repo.flush()
            self._refuse(
                FaceMismatch(details={"tries_left": max(0, FACE_TRIES - row.face_failures)}),
                action=action,
                key=key,
                person_id=row.person_id,
            )
        face_key = self._keyring.active_seal_key(KeyPurpose.FACE)
        row.face_sealed = seal(face_key, probe, table="enrolment", column="face", row_id=row.id)
        row.face_model = matcher.model
        row.state = EnrolmentState.OTP_PENDING.value
        row.updated_at = now
        self._repo.flush()
        self._record(
            action,
            key=key,
            person_id=row.person_id,
            details={"similarity": round(comparison.similarity, 3)},
        )
        return row.state

    def check_otp(self, *, enrolment_id: str, code: str) -> str:
        """The code sent at the start (5 minutes, once, 5 tries). Returns the new state."""
        action = "enrolment.otp"
        row, key = self._load(enrolment_id, action)
        if row.state != EnrolmentState.OTP_PENDING:
            self._out_of_order(row, key, action)
        refusal = self._check_code(self._repo.code("enrolment", row.id), code)
        if refusal is not None:
            self._refuse(refusal, action=action, key=key, person_id=row.person_id)
        row.state = EnrolmentState.READY.value
        row.updated_at = self._now()
        self._repo.flush()
        self._record(action, key=key, person_id=row.person_id)
        return row.state

    def resend_otp(self, *, enrolment_id: str) -> str:
        """A new code to the same phone; the try count stays (SEC-03). Returns the phone hint."""
        action = "enrolment.otp_resend"
        row, key = self._load(enrolment_id, action)
        if row.state not in (EnrolmentState.FACE_PENDING, EnrolmentState.OTP_PENDING):
            self._out_of_order(row, key, action)
        code_row = self._repo.code("enrolment", row.id)
        if code_row is not None and (code_row.tries >= OTP_TRIES or code_row.sends >= OTP_TRIES):
            self._refuse(OtpExhausted(), action=action, key=key, person_id=row.person_id)
        phone = self._data_open(row.phone_sealed, "enrolment", "phone", row.id).decode()
        code = self._new_code(
            person_id=row.person_id, purpose="enrolment", owner_id=row.id, row=code_row
        )
        self._sms.send(
            phone, otp_message(code, int(OTP_TTL.total_seconds() // 60)), purpose="enrolment_otp"
        )
        self._record(action, key=key, person_id=row.person_id)
        return mask_phone(phone)

    def status(self, *, enrolment_id: str) -> dict[str, Any]:
        """Where the enrolment stands (poll while ``awaiting_guardian``)."""
        row, _ = self._load(enrolment_id, "enrolment.status")
        return {
            "state": row.state,
            "supervision": row.supervision,
            "expires_at": row.expires_at.isoformat(),
        }

    def complete(self, *, enrolment_id: str, pin: str, proof: str) -> Completion:
        """PIN and device proof (``aud`` …/v1/enrolments, ``nonce`` = the enrolment id), then
        the network ID (new, or the person's existing one) and a credential; every earlier
        credential of the person is revoked in the same transaction. 14–17 without a
        guardian's approval: ``awaiting_guardian`` (no credential yet)."""
        action = "enrolment.complete"
        row, key = self._load(enrolment_id, action)
        if row.state not in (EnrolmentState.READY, EnrolmentState.AWAITING_GUARDIAN):
            self._out_of_order(row, key, action)
        try:
            normal_pin = normalise_pin(pin)
        except PinTooWeak as exc:
            self._refuse(exc, action=action, key=key, person_id=row.person_id)
        device = _device_key(json.loads(row.device_jwk))
        try:
            self._check_proof(
                proof,
                device,
                row.device_thumbprint,
                audience=self.enrolment_audience,
                nonce=enrolment_id,
            )
        except ProofInvalid as exc:
            self._refuse(exc, action=action, key=key, person_id=row.person_id)
        now = self._now()
        subject = self._enrolment_subject(row)
        today = today_in_china(self._clock)
        if not self._still_valid(subject, today):
            self._refuse(ChipStale(), action=action, key=key, person_id=row.person_id)
        assert subject is not None
        # The age is read now, not at the start: an enrolment waiting for a guardian (up to 7
        # days) needs no approval any more from the 18th birthday (docs/decisions/0005
        # "Minors": the rules change by themselves).
        if (
            row.supervision == Supervision.GUARDIAN_APPROVES
            and age_on(subject.birth_date, today) < ADULT_AGE
            and (
                row.guardian_decided_at is None
                or row.guardian_person_id not in self._repo.guardian_ids_of(row.person_id)
            )
        ):
            if row.state != EnrolmentState.AWAITING_GUARDIAN:
                row.state = EnrolmentState.AWAITING_GUARDIAN.value
                row.expires_at = now + GUARDIAN_WAIT
                row.updated_at = now
                self._repo.flush()
            self._record(action, key=key, person_id=row.person_id, outcome="awaiting_guardian")
            return Completion(state=EnrolmentState.AWAITING_GUARDIAN)
        pin_hash = hash_password(normal_pin)
        # Lock order (PostgreSQL): person, status list, network identity, credentials, and
        # the audit head last — every access record (the revocations below) locks the head
        # until commit, so a status list locked after one would deadlock against another
        # completion holding the list and waiting for the head. The person lock makes two
        # completions for one person take turns (the second is a re-enrolment).
        self._repo.lock_person(row.person_id)
        slot = self._allocate_slot()
        identity, account_key = self._ensure_identity(row, subject)
        earlier = self._revoke_all(
            row.person_id, reason="superseded", actor=CITIZEN, key=account_key
        )
        self._collect_face(row)
        # The person's `credential` lock (netid.citizens → set_credential_suspended) is held on
        # their credentials: a new device must not shed it, so the new credential is SUSPENDED
        # when the latest one it supersedes was.
        latest = max(earlier, key=lambda c: c.created_at, default=None)
        credential = self._new_credential(
            row, pin_hash, slot, suspended=latest is not None and latest.suspended
        )
        issued = self._sign_credential(credential, subject, identity)
        row.state = EnrolmentState.COMPLETED.value
        row.credential_id = credential.id
        row.completed_at = now
        row.updated_at = now
        # Done: what the enrolment held to get here (the phone it texted, the chip's document,
        # the live face) is not kept beyond it (PIPL art. 19, shortest retention). The
        # account keeps its own copies under the account key.
        row.face_sealed = None
        row.phone_sealed = b""
        row.document_sealed = b""
        self._repo.flush()
        self._record(
            action,
            key=subject.key,
            person_id=row.person_id,
            details={"supervision": row.supervision},
        )
        self._record(
            "credential.issue",
            key=account_key,
            person_id=row.person_id,
            details={"status_list": credential.status_list_id},
        )
        return Completion(state=EnrolmentState.COMPLETED, issued=issued)

    def _ensure_identity(
        self, row: Enrolment, subject: VerificationSubject
    ) -> tuple[NetworkIdentity, SealKey]:
        """The person's network identity (one for life), with a live account key and the
        bound phone and document (the one the chip named, ``subject.document``) of this
        enrolment."""
        now = self._now()
        identity = self._repo.identity(row.person_id, for_update=True)
        if identity is None:
            net_id = new_network_id()
            while self._repo.net_id_taken(net_id):  # 77 bits: practically never
                net_id = new_network_id()
            identity = NetworkIdentity(
                person_id=row.person_id,
                net_id=net_id,
                status="active",
                created_at=now,
                updated_at=now,
            )
            self._repo.add(identity)
        account_key = self._account_key_of(identity)
        if account_key is None:  # first enrolment, or after deregistration
            account_key = generate_seal_key()
            identity.account_key_wrapped, identity.data_key_id = self._wrap_account_key(
                row.person_id, account_key
            )
            identity.account_key_id = account_key.key_id
        phone = self._data_open(row.phone_sealed, "enrolment", "phone", row.id)
        doc = orjson.dumps({"type": subject.document.type.value, "number": subject.document.number})

        def sealed(value: bytes, column: str) -> bytes:
            return seal(
                account_key, value, table="network_identity", column=column, row_id=row.person_id
            )

        identity.phone_sealed = sealed(phone, "phone")
        identity.document_sealed = sealed(doc, "document")
        identity.status = "active"
        identity.deregistered_at = None
        identity.updated_at = now
        self._repo.flush()
        return identity, account_key

    def _collect_face(self, row: Enrolment) -> None:
        if row.face_sealed is None or row.face_model is None:
            return
        template = open_sealed(
            self._keyring.seal_key, row.face_sealed, table="enrolment", column="face", row_id=row.id
        )
        face_key = self._keyring.active_seal_key(KeyPurpose.FACE)
        sealed = seal(
            face_key, template, table="collected_face", column="template", row_id=row.person_id
        )
        existing = self._repo.collected_face(row.person_id)
        if existing is None:
            self._repo.add(
                CollectedFace(
                    person_id=row.person_id,
                    model=row.face_model,
                    template_sealed=sealed,
                    face_key_id=face_key.key_id,
                    enrolment_id=row.id,
                    collected_at=self._now(),
                )
            )
            return
        existing.model = row.face_model
        existing.template_sealed = sealed
        existing.face_key_id = face_key.key_id
        existing.enrolment_id = row.id
        existing.collected_at = self._now()
        self._repo.flush()

    def _collected_template(self, person_id: str) -> tuple[str, bytes] | None:
        face = self._repo.collected_face(person_id)
        if face is None:
            return None
        template = open_sealed(
            self._keyring.seal_key,
            face.template_sealed,
            table="collected_face",
            column="template",
            row_id=person_id,
        )
        return face.model, template

    # -- status lists ---------------------------------------------------------------------------
    def _allocate_slot(self) -> tuple[str, int]:
        """A random free index (draft-ietf-oauth-status-list §13.2: no issuance order to
        read off) in the newest list with room; a new list when it is full."""
        size = self._status_list_size
        lst = self._repo.open_status_list(size)
        if lst is None:
            lst = StatusList(
                id=secrets.token_hex(8),
                bits=STATUS_LIST_BITS,
                size=size,
                allocated=0,
                created_at=self._now(),
            )
            self._repo.add(lst)
        index: int | None = None
        for _ in range(8):
            candidates = {secrets.randbelow(size) for _ in range(32)}
            free = candidates - self._repo.taken_indexes(lst.id, candidates)
            if free:
                index = secrets.choice(sorted(free))
                break
        if index is None:  # nearly full: pick among what is left
            taken = self._repo.taken_indexes(lst.id)
            index = secrets.choice([i for i in range(size) if i not in taken])
        lst.allocated += 1
        self._repo.flush()
        return lst.id, index

    def status_list_token(self, list_id: str) -> str:
        """The signed Status List Token of one list, computed from the credential rows now."""
        lst = self._repo.status_list(list_id) if isinstance(list_id, str) else None
        if lst is None:
            raise StatusListNotFound()
        data = bytearray((lst.size * lst.bits + 7) // 8)
        for index, state, suspended in self._repo.statuses(list_id):
            value = (
                StatusCode.INVALID
                if state == "revoked"
                else StatusCode.SUSPENDED
                if suspended
                else StatusCode.VALID
            )
            position = index * lst.bits
            data[position // 8] |= value << (position % 8)
        key = self._keyring.active(KeyPurpose.ED25519_SIGNING)
        now = _ts(self._now())
        return status_lists.sign_token(
            load_private_key("EdDSA", key.secret),
            key.key_id,
            uri=self.status_list_uri(list_id),
            iat=now,
            exp=now + STATUS_LIST_LIFETIME_SECONDS,
            ttl=STATUS_LIST_TTL_SECONDS,
            lst=status_lists.compress(bytes(data)),
            bits=lst.bits,
        )

    def issuer_jwks(self) -> dict[str, Any]:
        """Every non-retired ed25519_signing key as a JWKS (RFC 7517 §5)."""
        keys = [
            public_jwk(ed25519.Ed25519PublicKey.from_public_bytes(k.public), k.key_id)
            for k in self._keyring.all_of(KeyPurpose.ED25519_SIGNING)
            if k.public is not None
        ]
        return {"keys": keys}

    def issuer_metadata(self) -> dict[str, str]:
        """``/.well-known/jwt-vc-issuer`` (SD-JWT VC §5)."""
        return {"issuer": self._issuer, "jwks_uri": f"{self._issuer}/v1/credentials/jwks"}

    # -- credentials ----------------------------------------------------------------------------
    def _new_credential(
        self, row: Enrolment, pin_hash: str, slot: tuple[str, int], *, suspended: bool
    ) -> Credential:
        list_id, index = slot
        now = self._now()
        credential = Credential(
            id=secrets.token_hex(16),
            person_id=row.person_id,
            enrolment_id=row.id,
            device_jwk=row.device_jwk,
            device_thumbprint=row.device_thumbprint,
            pin_hash=pin_hash,
            failed_pins=0,
            lockouts=0,
            locked_until=None,
            status="active",
            suspended=suspended,
            status_list_id=list_id,
            status_index=index,
            issued_at=now,
            expires_at=now,  # set when signed
            revoked_at=None,
            revocation_reason=None,
            created_at=now,
        )
        self._repo.add(credential)
        return credential

    def _expiry(self, subject: VerificationSubject, now: dt.datetime) -> dt.datetime:
        """≤ 365 days, capped at the next birthday that flips an age marker (they are fixed at
        issuance) and at the end of the document's validity."""
        exp = now + dt.timedelta(days=CREDENTIAL_MAX_DAYS)
        today = today_in_china(self._clock)
        age = age_on(subject.birth_date, today)
        flips = [birthday(subject.birth_date, n) for n in AGE_MARKERS if age < n]
        if flips:
            exp = min(exp, _midnight_china(min(flips)))
        if subject.document.expires_on is not None:
            exp = min(exp, _midnight_china(subject.document.expires_on + dt.timedelta(days=1)))
        return exp

    def _sign_credential(
        self, credential: Credential, subject: VerificationSubject, identity: NetworkIdentity
    ) -> IssuedCredential:
        """Sign the SD-JWT VC for ``credential`` from the registry record (RFC 9901; the
        claims of docs/decisions/0005) and set its iat/exp."""
        now = self._now()
        exp = self._expiry(subject, now)
        age = age_on(subject.birth_date, today_in_china(self._clock))
        key = self._keyring.active(KeyPurpose.ED25519_SIGNING)
        device_jwk = json.loads(credential.device_jwk)
        payload = {
            "iss": self._issuer,
            "vct": VCT,
            "iat": _ts(now),
            "nbf": _ts(now),
            "exp": _ts(exp),
            "cnf": {"jwk": device_jwk},
            "status": {
                "status_list": {
                    "idx": credential.status_index,
                    "uri": self.status_list_uri(credential.status_list_id),
                }
            },
            "jti": credential.id,
        }
        disclosable: dict[str, Any] = {
            "name": subject.name,
            "document_type": subject.document.type.value,
            "document_number": subject.document.number,
            "birth_date": subject.birth_date.isoformat(),
            "sex": subject.sex,
            "nationality": subject.nationality,
            **{f"age_over_{n}": age >= n for n in AGE_MARKERS},
        }
        compact = sdjwt.issue(
            issuer_key=load_private_key("EdDSA", key.secret),
            kid=key.key_id,
            payload=payload,
            disclosable=disclosable,
        )
        credential.issued_at = now
        credential.expires_at = exp
        credential.signing_key_id = key.key_id
        self._repo.flush()
        return IssuedCredential(
            network_id=format_network_id(identity.net_id),
            credential_id=credential.id,
            credential=compact,
            expires_at=exp,
        )

    def _revoke_all(
        self, person_id: str, *, reason: str, actor: str, key: SealKey | None
    ) -> list[Credential]:
        """Revoke every active credential of the person; returns them."""
        now = self._now()
        revoked: list[Credential] = []
        for credential in self._repo.active_credentials_of(person_id):
            credential.status = "revoked"
            credential.revoked_at = now
            credential.revocation_reason = reason
            revoked.append(credential)
            self._record(
                "credential.revoke",
                key=key,
                person_id=person_id,
                actor=actor,
                details={"reason": reason},
            )
        self._repo.flush()
        return revoked

    # == key rotation (``netid keys rotate data|face``, ``netid keys retire``) =======================
    # What enrolment seals, and under which key (AAD table|column|row id|key id):
    #   network_identity.account_key_wrapped  data key (row id person_id/account key id;
    #                                          data_key_id names the key)
    #   network_identity.phone_sealed, .document_sealed    the account key: nothing to do, the
    #                                          account key itself is only re-wrapped
    #   enrolment.phone_sealed, .document_sealed           data key (row id enrolment id; the
    #                                          key id is read from the sealed value's header)
    #   enrolment.face_sealed                 face key (until completion or expiry)
    #   collected_face.template_sealed        face key (face_key_id names it)
    #   one_time_code.code_mac                HMAC-SM3 under token_mac (mac_key_id); a code
    #                                          cannot be re-MACed (only its MAC is kept), so a
    #                                          live code holds its key until it is used or
    #                                          expires (≤ 5 minutes)
    # Not stored: QR credential references (data key, see :meth:`qr_refs`), credentials and
    # status list tokens (Ed25519 signatures) and wallet session tokens (token_mac).
    # Each method handles one batch and returns how many rows it changed (0 = done), so an
    # interrupted rotation resumes where it stopped (``netid keys resume``).
    def _record_rotation_batch(self, action: str, count: int, actor: str) -> None:
        if count:
            self._recorder.record(actor=actor, action=action, outcome="ok", details={"rows": count})

    def _reseal(self, sealed: bytes, key: SealKey, table: str, column: str, row_id: str) -> bytes:
        """``sealed`` under ``key`` (unchanged when it already is)."""
        if sealed_key_id(sealed) == key.key_id:
            return sealed
        plain = open_sealed(
            self._keyring.seal_key, sealed, table=table, column=column, row_id=row_id
        )
        return seal(key, plain, table=table, column=column, row_id=row_id)

    def rewrap_account_keys(self, *, batch_size: int, actor: str) -> int:
        """Re-wrap one batch of account keys under the active data key."""
        data_key = self._keyring.active_seal_key(KeyPurpose.DATA)
        rows = self._repo.identities_not_wrapped_by(data_key.key_id, batch_size)
        self._record_rotation_batch("keys.rewrap_account_keys", len(rows), actor)
        for identity in rows:
            if identity.account_key_wrapped is not None and identity.account_key_id is not None:
                identity.account_key_wrapped = self._reseal(
                    identity.account_key_wrapped,
                    data_key,
                    "network_identity",
                    "account_key",
                    f"{identity.person_id}/{identity.account_key_id}",
                )
            identity.data_key_id = data_key.key_id
        self._repo.flush()
        return len(rows)

    def reseal_enrolments(self, *, batch_size: int, actor: str) -> int:
        """Re-seal one batch of enrolments: phone and document under the active data key, a
        live face template under the active face key (erased values stay erased)."""
        data_key = self._keyring.active_seal_key(KeyPurpose.DATA)
        face_key = self._keyring.active_seal_key(KeyPurpose.FACE)
        rows = self._repo.enrolments_not_sealed_by(data_key.key_id, face_key.key_id, batch_size)
        self._record_rotation_batch("keys.reseal_enrolments", len(rows), actor)
        for row in rows:
            if row.phone_sealed:
                row.phone_sealed = self._reseal(
                    row.phone_sealed, data_key, "enrolment", "phone", row.id
                )
            if row.document_sealed:
                row.document_sealed = self._reseal(
                    row.document_sealed, data_key, "enrolment", "document", row.id
                )
            if row.face_sealed:
                row.face_sealed = self._reseal(
                    row.face_sealed, face_key, "enrolment", "face", row.id
                )
        self._repo.flush()
        return len(rows)

    def reseal_collected_faces(self, *, batch_size: int, actor: str) -> int:
        """Re-seal one batch of the face templates collected at enrolment (the L2/L3
        references) under the active face key."""
        face_key = self._keyring.active_seal_key(KeyPurpose.FACE)
        rows = self._repo.collected_faces_not_sealed_by(face_key.key_id, batch_size)
        self._record_rotation_batch("keys.reseal_collected_faces", len(rows), actor)
        for face in rows:
            face.template_sealed = self._reseal(
                face.template_sealed, face_key, "collected_face", "template", face.person_id
            )
            face.face_key_id = face_key.key_id
        self._repo.flush()
        return len(rows)

    def references_to_key(self, key_id: str) -> int:
        """How many enrolment rows still depend on ``key_id`` (a key in use must not be
        retired): account keys it wraps, enrolment values and face templates it seals,
        one-time codes MACed with it that are neither used nor expired, and live credentials
        it signed (a wallet refreshes its credential to move it to the new key)."""
        return self._repo.references_to_key(key_id, self._now())

    # == for netid.citizens =========================================================================
    def revoke_credentials(self, person_id: str, *, reason: str, actor: str) -> int:
        """Revoke every active credential of the person (status list INVALID at once);
        returns how many. ``reason`` is a short code (e.g. ``deregistered``, ``lost``).

        The network identity is locked first, as a completing enrolment locks it (before the
        credentials and the audit head): a deregistration racing a re-enrolment of the same
        person waits instead of deadlocking."""
        identity = self._repo.identity(person_id, for_update=True)
        key = self._account_key_of(identity) if identity else None
        revoked = self._revoke_all(person_id, reason=reason[:32], actor=actor, key=key)
        return len(revoked)

    def set_credential_suspended(self, person_id: str, suspended: bool) -> int:
        """Mark the person's active credentials SUSPENDED in the status list (the
        ``credential`` lock), or clear it; returns how many. The caller records the lock."""
        changed = 0
        for credential in self._repo.active_credentials_of(person_id):
            if credential.suspended != suspended:
                credential.suspended = suspended
                changed += 1
        self._repo.flush()
        return changed

    def unsafe_erase_account(self, person_id: str, *, actor: str) -> None:
        """Deregistration's erasure: revoke what is still active, delete the device keys and
        PIN hashes, the bound phone, the enrolment document, the face template collected at
        enrolment, pending codes, and the account key (which crypto-shreds the references of
        wallet-side access records). The network ID row stays (one per person for life)."""
        identity = self._repo.identity(person_id, for_update=True)  # first: see revoke_credentials
        self._revoke_all(
            person_id,
            reason="deregistered",
            actor=actor,
            key=self._account_key_of(identity) if identity else None,
        )
        for enrolment in self._repo.open_enrolments_of(person_id):
            enrolment.state = EnrolmentState.FAILED.value
        self._repo.unsafe_erase_account_rows(person_id)
        if identity is not None:
            now = self._now()
            identity.account_key_id = None
            identity.account_key_wrapped = None
            identity.data_key_id = None
            identity.phone_sealed = None
            identity.document_sealed = None
            identity.status = "deregistered"
            identity.deregistered_at = now
            identity.updated_at = now
        self._repo.flush()
        self._recorder.record(actor=actor, action="account.erase", outcome="ok")

    def pending_guardian_enrolments(self, guardian_person_id: str) -> list[PendingWardEnrolment]:
        """Enrolments of the guardian's wards (14–17) waiting for a decision. Shows each
        ward's masked name, so each listed ward's record is opened and the access recorded."""
        wards = self._repo.ward_ids_of(guardian_person_id)
        out: list[PendingWardEnrolment] = []
        for row in self._repo.enrolments_awaiting(wards, self._now()):
            subject = self._enrolment_subject(row)
            if subject is None:
                continue
            self._record(
                "enrolment.guardian_list",
                key=subject.key,
                person_id=row.person_id,
                actor="guardian",
            )
            out.append(
                PendingWardEnrolment(
                    enrolment_id=row.id,
                    ward_person_id=row.person_id,
                    ward_name_masked=mask_name(subject.name),
                    requested_at=row.updated_at,
                    expires_at=row.expires_at,
                )
            )
        return out

    def _guardian_decision(
        self, enrolment_id: str, guardian_person_id: str, *, actor: str, approve: bool
    ) -> None:
        action = "enrolment.guardian_approve" if approve else "enrolment.guardian_deny"
        row = self._repo.enrolment(enrolment_id) if _is_hex_id(enrolment_id) else None
        if row is None or guardian_person_id not in self._repo.guardian_ids_of(row.person_id):
            # Not the guardian's ward: the same answer as no such enrolment (no probing).
            raise EnrolmentNotFound() if row is None else GuardianNotLinked()
        if row.state != EnrolmentState.AWAITING_GUARDIAN:
            raise StepOutOfOrder(details={"state": row.state})
        now = self._now()
        if now >= row.expires_at:
            raise EnrolmentExpired()
        identity = self._repo.identity(guardian_person_id)
        if identity is None or identity.status != "active":
            raise GuardianNotLinked()
        row.guardian_person_id = guardian_person_id
        row.guardian_decided_at = now
        row.state = (EnrolmentState.READY if approve else EnrolmentState.DENIED).value
        row.updated_at = now
        if approve:
            row.expires_at = max(row.expires_at, now + ENROLMENT_TTL)
        self._repo.flush()
        key = self._enrolment_person_key(row)
        self._record(action, key=key, person_id=row.person_id, actor=actor)

    def approve_enrolment_as_guardian(
        self, enrolment_id: str, guardian_person_id: str, *, actor: str
    ) -> None:
        """A linked, enrolled guardian approves a 14–17-year-old's enrolment (the row id of
        :meth:`pending_guardian_enrolments`); the ward then completes again."""
        self._guardian_decision(enrolment_id, guardian_person_id, actor=actor, approve=True)

    def deny_enrolment_as_guardian(
        self, enrolment_id: str, guardian_person_id: str, *, actor: str
    ) -> None:
        """The guardian refuses: the enrolment ends (``enrolment_denied``)."""
        self._guardian_decision(enrolment_id, guardian_person_id, actor=actor, approve=False)

    # == wallet sessions ============================================================================
    def _login_context(
        self, credential_id: str, proof: str, action: str
    ) -> tuple[Credential, NetworkIdentity, SealKey | None]:
        """The credential and account for a sign-in step, with the device proof checked."""
        credential = (
            self._repo.credential(credential_id, for_update=True)
            if _is_hex_id(credential_id)
            else None
        )
        if credential is None:
            self._refuse(ProofInvalid(), action=action)  # nothing to check the proof with
        identity = self._repo.identity(credential.person_id)
        key = self._account_key_of(identity) if identity else None
        pid = credential.person_id
        if identity is None or identity.status != "active":
            self._refuse(AccountDeregistered(), action=action)
        if credential.status != "active":
            self._refuse(CredentialRevoked(), action=action, key=key, person_id=pid)
        try:
            self._check_proof(
                proof,
                _device_key(json.loads(credential.device_jwk)),
                credential.device_thumbprint,
                audience=self.wallet_audience,
            )
        except (ProofInvalid, DeviceKeyInvalid):
            self._refuse(ProofInvalid(), action=action, key=key, person_id=pid)
        return credential, identity, key

    def _count_failure(self, credential: Credential) -> NetidError:
        """One more failed sign-in factor (PIN or face); five lock the credential for 15
        minutes, doubling with each lockout (at most a day)."""
        now = self._now()
        credential.failed_pins += 1
        if credential.failed_pins >= PIN_TRIES:
            credential.lockouts += 1
            lock = min(PIN_LOCK * 2 ** (credential.lockouts - 1), PIN_LOCK_MAX)
            credential.locked_until = now + lock
            credential.failed_pins = 0
            self._repo.flush()
            return PinLocked(details={"reset_at": credential.locked_until.isoformat()})
        self._repo.flush()
        return PinInvalid(details={"tries_left": PIN_TRIES - credential.failed_pins})

    def create_session(
        self,
        *,
        credential_id: str,
        pin: str,
        proof: str,
        face_image: bytes | None = None,
        otp_code: str | None = None,
    ) -> WalletSession:
        """Sign in: device proof + PIN (L1), + a live face against the template collected at
        enrolment (L2), + a login code sent to the bound phone (L3)."""
        action = "wallet.session"
        if otp_code is not None and face_image is None:
            raise LoginFactorsInvalid()
        credential, _identity, key = self._login_context(credential_id, proof, action)
        pid = credential.person_id
        now = self._now()
        if credential.locked_until is not None and now < credential.locked_until:
            self._refuse(
                PinLocked(details={"reset_at": credential.locked_until.isoformat()}),
                action=action,
                key=key,
                person_id=pid,
            )
        if not isinstance(pin, str) or not verify_password(
            credential.pin_hash or dummy_hash(), pin
        ):
            self._refuse(self._count_failure(credential), action=action, key=key, person_id=pid)
        assurance: Assurance = "L1"
        if face_image is not None:
            collected = self._collected_template(pid)
            matcher = self._face_matcher()
            try:
                probe = matcher.template(face_image)
            except NetidError as exc:
                self._refuse(exc, action=action, key=key, person_id=pid)
            if collected is None or collected[0] != matcher.model:
                self._refuse(FaceReferenceMissing(), action=action, key=key, person_id=pid)
            if not matcher.compare(probe, collected[1]).match:
                self._count_failure(credential)
                self._refuse(FaceMismatch(), action=action, key=key, person_id=pid)
            assurance = "L2"
        code_row = None
        if otp_code is not None:
            code_row = self._repo.code("login", credential.id)
            refusal = self._check_code(code_row, otp_code)
            if refusal is not None:
                self._refuse(refusal, action=action, key=key, person_id=pid)
            assurance = "L3"
        credential.failed_pins = 0
        credential.lockouts = 0
        credential.locked_until = None
        self._repo.flush()
        mac = self._keyring.active(KeyPurpose.TOKEN_MAC)
        session_id = secrets.token_hex(16)
        issued_at = _ts(now)
        token = mint_wallet_token(
            key_id=mac.key_id,
            secret=mac.secret,
            credential_id=credential.id,
            assurance=assurance,
            audience=self.wallet_audience,
            issued_at=issued_at,
            ttl=SESSION_TTL_SECONDS,
            jti=session_id,
        )
        self._record(action, key=key, person_id=pid, details={"assurance": assurance})
        return WalletSession(
            token=token,
            assurance=assurance,
            expires_at=dt.datetime.fromtimestamp(issued_at + SESSION_TTL_SECONDS, dt.UTC),
        )

    def send_login_code(self, *, credential_id: str, proof: str) -> str:
        """A login code to the bound phone (for an L3 sign-in); returns the phone hint. After
        five wrong codes, a new one only after 15 minutes (the tries are not reset by a resend,
        SEC-03)."""
        action = "wallet.otp"
        credential, identity, key = self._login_context(credential_id, proof, action)
        pid = credential.person_id
        row = self._repo.code("login", credential.id)
        now = self._now()
        if row is not None and row.tries >= OTP_TRIES:
            if row.last_failed_at is not None and now < row.last_failed_at + LOGIN_CODE_COOLDOWN:
                self._refuse(OtpExhausted(), action=action, key=key, person_id=pid)
            row.tries = 0
        if key is None or identity.phone_sealed is None:
            self._refuse(NoPhoneOnRecord(), action=action, key=key, person_id=pid)
        phone = self._account_open(key, identity.phone_sealed, "phone", pid).decode()
        code = self._new_code(person_id=pid, purpose="login", owner_id=credential.id, row=row)
        self._sms.send(
            phone, otp_message(code, int(OTP_TTL.total_seconds() // 60)), purpose="login_otp"
        )
        self._record(action, key=key, person_id=pid)
        return mask_phone(phone)

    def authenticate(self, token: str, *, wallet_keys: Mapping[str, bytes]) -> CitizenPrincipal:
        """The principal of a wallet session token, checked against the database now (no
        cache): the credential exists and is not revoked, the account not deregistered."""
        try:
            claims = verify_wallet_token(token, wallet_keys, self._now(), self.wallet_audience)
        except InvalidToken:
            raise SessionInvalid() from None
        credential = self._repo.credential(claims.credential_id)
        if credential is None or credential.status != "active":
            raise SessionInvalid()
        identity = self._repo.identity(credential.person_id)
        if identity is None or identity.status != "active":
            raise SessionInvalid()
        assurance = claims.assurance
        assert assurance in ASSURANCE_LEVELS
        return CitizenPrincipal(
            person_id=credential.person_id,
            credential_id=credential.id,
            session_id=claims.session_id,
            assurance=assurance,
            session_expires_at=claims.expires_at,
        )

    def _principal_credential(self, principal: CitizenPrincipal) -> Credential:
        credential = self._repo.credential(principal.credential_id, for_update=True)
        if credential is None or credential.status != "active":
            raise SessionInvalid()
        return credential

    def qr_refs(self, principal: CitizenPrincipal, count: int) -> tuple[list[str], dt.datetime]:
        """``count`` (1–40) credential references for QR tokens, each sealed with a fresh nonce
        (two scans look unrelated), valid until the session ends (or the credential expires)."""
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_QR_REFS:
            raise ValueError("count must be 1 to 40")
        credential = self._principal_credential(principal)
        now = self._now()
        key = self.account_key(principal.person_id)
        if now >= credential.expires_at:
            raise CredentialExpired()
        exp = min(
            principal.session_expires_at or _ts(now) + SESSION_TTL_SECONDS,
            _ts(credential.expires_at),
        )
        data_key = self._keyring.active_seal_key(KeyPurpose.DATA)
        level = ASSURANCE_LEVELS.index(principal.assurance) + 1
        plain = _REF.pack(
            bytes.fromhex(credential.id), level, bytes.fromhex(principal.session_id), exp
        )
        refs = [
            b64url_encode(
                seal(data_key, plain, table="qr_ref", column="credential", row_id=data_key.key_id)
            )
            for _ in range(count)
        ]
        self._record(
            "wallet.qr_refs", key=key, person_id=principal.person_id, details={"count": count}
        )
        return refs, dt.datetime.fromtimestamp(exp, dt.UTC)

    def open_credential_ref(self, ref: str) -> CredentialRef:
        """Open a QR token's ``ref``; anything that does not open is ``qr_forged``. The
        caller checks ``exp`` (the reference's own end) against its clock.

        Data key rotation: a reference names the data key it was sealed under (AAD
        ``qr_ref|credential|<key id>``), so after ``netid keys rotate data`` a reference sealed
        under the old key still opens — the old key stays in the keyring (retiring) until
        ``netid keys retire``. After retirement it no longer opens and the scan answers
        ``qr_forged``. References are not stored, so ``references_to_key`` cannot count them:
        that is accepted because a reference lives at most as long as its wallet session (15
        minutes); retire a data key later than that after the rotation, and a wallet just
        fetches new references with a new session."""
        try:
            sealed = b64url_decode(ref)
            plain = open_sealed(
                self._keyring.seal_key,
                sealed,
                table="qr_ref",
                column="credential",
                row_id=sealed[1:9].decode("ascii"),
            )
            cid, level, sid, exp = _REF.unpack(plain)
        except (ValueError, CryptoError, struct.error, UnicodeDecodeError):
            raise QrForged() from None
        if not 1 <= level <= len(ASSURANCE_LEVELS):
            raise QrForged()
        return CredentialRef(cid=cid.hex(), lvl=ASSURANCE_LEVELS[level - 1], sid=sid.hex(), exp=exp)

    def credential_for_qr(self, credential_id: str) -> QrCredential | None:
        """A credential as a ``netid_qr`` verification needs it, read now; None if unknown."""
        credential = self._repo.qr_credential(credential_id) if _is_hex_id(credential_id) else None
        if credential is None:
            return None
        now = self._now()
        if credential.status != "active":
            status = "revoked"
        elif now >= credential.expires_at:
            status = "expired"
        elif credential.suspended:
            status = "suspended"
        else:
            status = "active"
        jwk = json.loads(credential.device_jwk)
        try:
            device: JosePublicKey | None = _device_key(jwk)
        except DeviceKeyInvalid:  # erased at deregistration
            device = None
        return QrCredential(
            credential_id=credential.id,
            person_id=credential.person_id,
            subject_id=credential.subject_id,
            device_key=device,
            device_jwk=jwk,
            status=status,
            account_status=credential.account_status or "deregistered",
            expires_at=credential.expires_at,
        )

    def me(self, principal: CitizenPrincipal) -> AccountView:
        credential = self._principal_credential(principal)
        identity = self._repo.identity(principal.person_id)
        if identity is None:
            raise SessionInvalid()
        now = self._now()
        subject = self.unsafe_open_subject_of(principal.person_id)
        key = self._account_key_of(identity)
        self._record("wallet.me", key=key, person_id=principal.person_id)
        band = (
            age_band(age_on(subject.birth_date, today_in_china(self._clock)))
            if subject
            else "unknown"
        )
        status = (
            "expired"
            if now >= credential.expires_at
            else "suspended"
            if credential.suspended
            else "active"
        )
        return AccountView(
            network_id=format_network_id(identity.net_id),
            credential_id=credential.id,
            status=status,
            expires_at=credential.expires_at,
            assurance=principal.assurance,
            age_band=band,
        )

    def refresh_credential(self, principal: CitizenPrincipal) -> IssuedCredential:
        """A new SD-JWT for the same device key and status list entry, from the registry as it
        is today (age markers recomputed); refused with chip_stale when the enrolment document
        is no longer valid or the person not alive (enrol again)."""
        action = "credential.refresh"
        credential = self._principal_credential(principal)
        identity = self._repo.identity(principal.person_id)
        if identity is None:
            raise SessionInvalid()
        key = self._account_key_of(identity)
        subject = self.unsafe_open_subject_of(principal.person_id)
        if not self._still_valid(subject, today_in_china(self._clock)):
            self._refuse(ChipStale(), action=action, key=key, person_id=principal.person_id)
        assert subject is not None
        issued = self._sign_credential(credential, subject, identity)
        self._record(
            "credential.issue", key=key, person_id=principal.person_id, details={"refresh": True}
        )
        return issued


def _pid(subject: VerificationSubject | None) -> str | None:
    return subject.person_id if subject else None
