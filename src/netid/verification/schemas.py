"""Verification requests and answers (the JSON of ``POST /v1/verifications``)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from netid.core.fields import Text
from netid.crypto.sealing import SealKey
from netid.enrolment.schemas import CredentialRef, QrCredential
from netid.registry.service import VerificationSubject

DocumentVerificationType = Literal["id2", "id3_phone", "age_over", "face", "status"]
VerificationType = Literal["id2", "id3_phone", "age_over", "face", "status", "netid_qr", "oidc"]
AssuranceLevel = Literal["L1", "L2", "L3"]
ASSURANCE_RANK: dict[str, int] = {"L1": 1, "L2": 2, "L3": 3}
# A QR token is ≤ 400 characters by design (docs/decisions/0005); the cap leaves room.
MAX_QR_TEXT = 1024
MAX_BATCH_ITEMS = 1000
# A face image, base64 in the JSON body: at most 512 KiB of image (the body limit is 1 MiB).
MAX_FACE_IMAGE_BYTES = 512 * 1024
MAX_FACE_IMAGE_BASE64 = (MAX_FACE_IMAGE_BYTES + 2) // 3 * 4

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]


class Subject(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    document_number: Annotated[Text, StringConstraints(min_length=1, max_length=64)]
    name: Annotated[Text, StringConstraints(min_length=1, max_length=128)]
    phone: Annotated[Text, StringConstraints(min_length=1, max_length=32)] | None = None
    face_image: Annotated[str, StringConstraints(max_length=MAX_FACE_IMAGE_BASE64)] | None = Field(
        default=None, description="The face photo (JPEG or PNG), base64."
    )

    def face_image_bytes(self) -> bytes:
        assert self.face_image is not None
        return base64.b64decode(self.face_image, validate=True)


class VerificationRequest(BaseModel):
    """One verification by document number. ``claims`` asks for plaintext claims or age
    markers on a match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: DocumentVerificationType
    purpose: Code
    subject: Subject
    claims: list[Code] = Field(default_factory=list, max_length=16)
    threshold: int | None = Field(default=None, ge=1, le=150)

    @model_validator(mode="after")
    def _fields_for_type(self) -> VerificationRequest:
        # Each type's factors must be present, and no other factor may ride along (a phone
        # number or a photo the type does not use is personal data we must not receive).
        if (self.type == "id3_phone") != (self.subject.phone is not None):
            raise ValueError("subject.phone is required for id3_phone and only for it")
        if (self.type == "face") != (self.subject.face_image is not None):
            raise ValueError("subject.face_image is required for face and only for it")
        if (self.type == "age_over") != (self.threshold is not None):
            raise ValueError("threshold is required for age_over and only for it")
        if self.subject.face_image is not None:
            try:
                self.subject.face_image_bytes()
            except (binascii.Error, ValueError):
                raise ValueError("subject.face_image is not base64") from None
        if len(set(self.claims)) != len(self.claims):
            raise ValueError("claims are listed once each")
        return self

    def fingerprint_document(self) -> dict[str, Any]:
        """What the request hash covers: the whole request as sent (JCS-encoded later)."""
        return self.model_dump(mode="json", exclude_none=True)


class QrVerificationRequest(BaseModel):
    """A verification of a scanned dynamic QR code (``netid_qr``): the person is named by
    their network credential, so no number, name or photo travels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["netid_qr"]
    purpose: Code
    qr: Annotated[str, StringConstraints(min_length=1, max_length=MAX_QR_TEXT)] = Field(
        description="The scanned text of the person's dynamic QR code, as read."
    )
    claims: list[Code] = Field(default_factory=list, max_length=16)
    min_assurance: AssuranceLevel | None = Field(
        default=None,
        description="The lowest assurance level accepted: L1 device key + PIN, L2 + face, "
        "L3 + face + phone code.",
    )

    @model_validator(mode="after")
    def _claims_once(self) -> QrVerificationRequest:
        if len(set(self.claims)) != len(self.claims):
            raise ValueError("claims are listed once each")
        return self

    def fingerprint_document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class LoginVerificationRequest(BaseModel):
    """An OpenID Connect login (type ``oidc``, docs/decisions/0006): the person authenticated
    at the provider (wallet or password), so the institution names nobody; it is counted,
    charged and recorded like any verification."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["oidc"] = "oidc"
    purpose: Code
    claims: list[Code] = Field(default_factory=list, max_length=16)
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    authorization_id: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    min_assurance: AssuranceLevel | None = None

    def fingerprint_document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


AnyVerificationRequest = Annotated[
    VerificationRequest | QrVerificationRequest, Field(discriminator="type")
]


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    items: list[VerificationRequest] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)

    @model_validator(mode="after")
    def _no_faces(self) -> BatchRequest:
        if any(item.type == "face" for item in self.items):
            raise ValueError("face verifications are not batched")
        return self


class InlineReceipt(BaseModel):
    id: str
    log_index: int
    request_hash: str
    request_salt: str = Field(
        description="Hex salt of request_hash: sm3(salt || JCS(request)). Only the caller holds "
        "it, so the logged hash cannot be used to guess who was asked about."
    )
    price_fen: int
    url: str


class VerificationAnswer(BaseModel):
    verification_id: str
    type: VerificationType
    result: Literal["match", "mismatch"]
    pseudonym: str | None = Field(
        description="The person's pairwise pseudonym for this institution (on a match)."
    )
    markers: list[str]
    assurance: str | None = Field(
        default=None, description="netid_qr: the assurance level the person reached."
    )
    claims: dict[str, str | bool]
    age_over: dict[str, int | bool] | None = None
    document_valid: bool | None = None
    face_similarity: float | None = None
    reason: str | None = Field(
        default=None, description="Why it did not match: for government policies only."
    )
    receipt: InlineReceipt


class BatchItemError(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class BatchItemResult(BaseModel):
    index: int
    answer: VerificationAnswer | None = None
    error: BatchItemError | None = None


class BatchAnswer(BaseModel):
    results: list[BatchItemResult]


# -- collaborators of the netid_qr path (wired by the composition root) ----------------------
class CredentialDirectory(Protocol):
    """The network credentials (netid.enrolment), as the verification use case reads them."""

    def open_credential_ref(self, ref: str) -> CredentialRef:
        """The ref's content; raises qr_forged when it does not open."""
        ...

    def credential_for_qr(self, credential_id: str) -> QrCredential | None: ...

    def account_key(self, person_id: str) -> SealKey | None:
        """The key that seals this person's wallet-side log references (None: none)."""
        ...

    def network_id_of(self, person_id: str) -> str | None: ...

    def is_deregistered(self, person_id: str) -> bool: ...

    def unsafe_open_subject_of(self, person_id: str) -> VerificationSubject | None:
        """The person held to the document they enrolled with, opened WITHOUT recording (the
        verification records it with its receipt); None if that document is gone."""
        ...


LockableMethod = Literal["document", "qr", "credential"]


class CitizenControls(Protocol):
    """The person's controls (netid.citizens), as the verification use case obeys them."""

    def is_locked(self, person_id: str, method: LockableMethod) -> bool: ...

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
    ) -> str: ...

    def open_guardian_use_request(
        self,
        *,
        ward_person_id: str,
        institution_id: str,
        institution_code: str,
        purpose: str,
        verification_id: str,
    ) -> str: ...

    def take_guardian_use_approval(
        self, ward_person_id: str, institution_id: str, purpose: str
    ) -> bool: ...
