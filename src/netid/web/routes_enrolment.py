"""Enrolment (``/v1/enrolments*``) and the public issuer endpoints (docs/decisions/0005).

Enrolment steps are authenticated by the enrolment id, a 128-bit secret in the JSON body
(never in the URL). Handlers own the transaction; a refusal whose record and counters must
stay (:class:`~netid.enrolment.errors.Refusal`) is committed first and answered after.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from netid.container import Container
from netid.core.errors import NetidError
from netid.core.fields import ShortText, Text
from netid.enrolment.errors import Refusal
from netid.enrolment.schemas import CitizenPrincipal, EnrolmentState
from netid.enrolment.service import EnrolmentService
from netid.faces.errors import ImageInvalid
from netid.web.auth import optional_citizen_session
from netid.web.errors import ERROR_RESPONSES
from netid.web.responses import JSONBody

T = TypeVar("T")
MAX_IMAGE_B64 = 1_000_000  # the body limit (1 MiB) bounds it anyway
NO_STORE = {"Cache-Control": "no-store"}


def run_unit(container: Container, work: Callable[[EnrolmentService], T]) -> T:
    """Run ``work`` in one transaction; a :class:`Refusal` commits its traces, then raises."""
    failure: NetidError | None = None
    with container.transaction() as session:
        try:
            return work(container.enrolment(session))
        except Refusal as refusal:
            failure = refusal.error
    assert failure is not None
    raise failure


def decode_image(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ImageInvalid() from None


def json_answer(body: dict[str, Any], status_code: int = 200) -> JSONBody:
    return JSONBody(body, status_code=status_code, headers=NO_STORE)


EnrolmentSecret = Annotated[str, Field(min_length=1, max_length=64)]
Token = Annotated[Text, Field(min_length=1, max_length=4096)]


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chip: dict[str, Any] | Annotated[Text, Field(max_length=8192)] = Field(
        description="The chip document written by `netid registry chip` (object or JSON text)."
    )
    device_jwk: dict[str, Any] = Field(description="The wallet's public P-256 JWK.")


class FaceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enrolment_id: EnrolmentSecret
    face_image: Annotated[str, Field(min_length=1, max_length=MAX_IMAGE_B64)] = Field(
        description="A live photo, base64 JPEG or PNG."
    )
    liveness: Token = Field(description="`netid-liveness+jwt` signed by the device key.")


class OtpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enrolment_id: EnrolmentSecret
    code: Annotated[ShortText, Field(max_length=16)]


class EnrolmentRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enrolment_id: EnrolmentSecret


class CompleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enrolment_id: EnrolmentSecret
    pin: Annotated[Text, Field(max_length=256)]
    proof: Token = Field(
        description="`netid-proof+jwt`: aud = <public url>/v1/enrolments, nonce = enrolment id."
    )


Guardian = Annotated[CitizenPrincipal | None, Depends(optional_citizen_session)]


def router(container: Container) -> APIRouter:
    api = APIRouter(tags=["enrolment"])

    @api.post("/v1/enrolments", status_code=201, responses=ERROR_RESPONSES)
    def start(body: StartRequest, guardian: Guardian) -> JSONBody:
        """Start an enrolment with a chip reading and the wallet's device key. The code is
        sent at once to the phone on record (under 14: to the guardian's bound phone; the
        guardian's wallet session is the `Authorization` header)."""
        started = run_unit(
            container,
            lambda s: s.start(
                chip=body.chip,
                device_jwk=body.device_jwk,
                guardian_person_id=guardian.person_id if guardian else None,
            ),
        )
        return json_answer(started.to_json(), 201)

    @api.post("/v1/enrolments/face", responses=ERROR_RESPONSES)
    def face(body: FaceRequest) -> JSONBody:
        """The live photo and the device-signed liveness result."""
        image = decode_image(body.face_image)
        state = run_unit(
            container,
            lambda s: s.submit_face(
                enrolment_id=body.enrolment_id, face_image=image, liveness=body.liveness
            ),
        )
        return json_answer({"state": state})

    @api.post("/v1/enrolments/otp", responses=ERROR_RESPONSES)
    def otp(body: OtpRequest) -> JSONBody:
        """The 6-digit code (5 minutes, once, 5 tries: `details.tries_left`)."""
        state = run_unit(
            container, lambda s: s.check_otp(enrolment_id=body.enrolment_id, code=body.code)
        )
        return json_answer({"state": state})

    @api.post("/v1/enrolments/otp/resend", responses=ERROR_RESPONSES)
    def resend(body: EnrolmentRef) -> JSONBody:
        """A new code to the same phone; the tries already used still count."""
        hint = run_unit(container, lambda s: s.resend_otp(enrolment_id=body.enrolment_id))
        return json_answer({"phone_hint": hint})

    @api.post("/v1/enrolments/complete", status_code=201, responses=ERROR_RESPONSES)
    def complete(body: CompleteRequest) -> JSONBody:
        """PIN and device proof; answers the network ID and the credential (201), or
        `awaiting_guardian` (202) for a 14–17-year-old until a guardian approves."""
        done = run_unit(
            container,
            lambda s: s.complete(enrolment_id=body.enrolment_id, pin=body.pin, proof=body.proof),
        )
        if done.issued is None:
            return json_answer({"state": done.state.value}, 202)
        return json_answer({**done.issued.to_json(), "state": EnrolmentState.COMPLETED.value}, 201)

    @api.post("/v1/enrolments/status", responses=ERROR_RESPONSES)
    def status(body: EnrolmentRef) -> JSONBody:
        """Where the enrolment stands (poll while `awaiting_guardian`)."""
        answer = run_unit(container, lambda s: s.status(enrolment_id=body.enrolment_id))
        return json_answer(answer)

    # -- the issuer (public) ----------------------------------------------------------------
    @api.get("/v1/credentials/jwks", tags=["credentials"])
    def jwks() -> JSONBody:
        """The issuer's credential keys (every non-retired Ed25519 signing key)."""
        with container.transaction(write=False) as session:
            document = container.enrolment(session).issuer_jwks()
        return JSONBody(document, headers={"Cache-Control": "public, max-age=300"})

    @api.get("/.well-known/jwt-vc-issuer", tags=["credentials"])
    def issuer_metadata() -> JSONBody:
        """SD-JWT VC issuer metadata: the issuer and where its keys are."""
        with container.transaction(write=False) as session:
            document = container.enrolment(session).issuer_metadata()
        return JSONBody(document, headers={"Cache-Control": "public, max-age=300"})

    @api.get(
        "/v1/status-lists/{list_id}",
        tags=["credentials"],
        responses={200: {"content": {"application/statuslist+jwt": {}}}, **ERROR_RESPONSES},
    )
    def status_list(list_id: Annotated[str, Field(max_length=32)]) -> Response:
        """A Token Status List (`statuslist+jwt`, 2 bits: 0 valid, 1 revoked, 2 suspended),
        computed from the credentials now."""
        with container.transaction(write=False) as session:
            token = container.enrolment(session).status_list_token(list_id)
        return Response(
            token,
            media_type="application/statuslist+jwt",
            headers={"Cache-Control": "public, max-age=60"},
        )

    return api
