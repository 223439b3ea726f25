"""Wallet sessions and what a signed-in wallet does (``/v1/wallet/*``, docs/decisions/0005).

Sign-in is a device proof (``netid-proof+jwt``, aud ``<public url>/v1/wallet``) and the PIN,
optionally a live face (L2) and a login code (L3). The session token is checked, and the
credential and account read, on every request (:func:`netid.web.auth.citizen_session`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from netid.container import Container
from netid.core.fields import ShortText, Text
from netid.enrolment.schemas import MAX_QR_REFS, CitizenPrincipal
from netid.web.auth import citizen_session
from netid.web.errors import ERROR_RESPONSES
from netid.web.responses import JSONBody
from netid.web.routes_enrolment import MAX_IMAGE_B64, decode_image, json_answer, run_unit

CredentialId = Annotated[str, Field(min_length=1, max_length=64)]
Proof = Annotated[Text, Field(min_length=1, max_length=4096)]
Session = Annotated[CitizenPrincipal, Depends(citizen_session)]


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credential_id: CredentialId
    pin: Annotated[Text, Field(max_length=256)]
    proof: Proof
    face_image: Annotated[str, Field(min_length=1, max_length=MAX_IMAGE_B64)] | None = None
    otp_code: Annotated[ShortText, Field(max_length=16)] | None = None


class LoginCodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credential_id: CredentialId
    proof: Proof


class QrRefsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=10, ge=1, le=MAX_QR_REFS, strict=True)


def router(container: Container) -> APIRouter:
    api = APIRouter(tags=["wallet"])

    @api.post("/v1/wallet/sessions", responses=ERROR_RESPONSES)
    def sign_in(body: SessionRequest) -> JSONBody:
        """Sign in: device proof + PIN (L1), + `face_image` (L2), + `otp_code` (L3). Five
        wrong PINs lock the credential for 15 minutes (longer each time)."""
        image = decode_image(body.face_image) if body.face_image is not None else None
        session = run_unit(
            container,
            lambda s: s.create_session(
                credential_id=body.credential_id,
                pin=body.pin,
                proof=body.proof,
                face_image=image,
                otp_code=body.otp_code,
            ),
        )
        return json_answer(session.to_json())

    @api.post("/v1/wallet/otp", responses=ERROR_RESPONSES)
    def login_code(body: LoginCodeRequest) -> JSONBody:
        """Send a login code to the phone bound at enrolment (for an L3 sign-in)."""
        hint = run_unit(
            container,
            lambda s: s.send_login_code(credential_id=body.credential_id, proof=body.proof),
        )
        return json_answer({"phone_hint": hint})

    @api.post("/v1/wallet/qr-refs", responses=ERROR_RESPONSES)
    def qr_refs(body: QrRefsRequest, principal: Session) -> JSONBody:
        """A batch of sealed credential references for dynamic QR codes (one per code)."""
        refs, expires_at = run_unit(container, lambda s: s.qr_refs(principal, body.count))
        return json_answer({"refs": refs, "expires_at": expires_at.isoformat()})

    @api.get("/v1/wallet/me", responses=ERROR_RESPONSES)
    def me(principal: Session) -> JSONBody:
        """The signed-in account: network ID, credential, status, expiry, assurance, age band."""
        view = run_unit(container, lambda s: s.me(principal))
        return json_answer(view.to_json())

    @api.post("/v1/wallet/credential/refresh", responses=ERROR_RESPONSES)
    def refresh(principal: Session) -> JSONBody:
        """A new credential for the same device, from today's registry record."""
        issued = run_unit(container, lambda s: s.refresh_credential(principal))
        return json_answer(issued.to_json())

    return api
