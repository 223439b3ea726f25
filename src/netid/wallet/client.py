"""The platform's public HTTP API as the wallet (or a phone app) calls it: one method per route
of docs/decisions/0005, standard library only (``urllib``, like :mod:`netid.client.rp`).

Everything personal or secret travels in a JSON body over POST, never in a URL: the enrolment
id, the PIN, codes, photos and the network ID. Paths carry only opaque ids the server made
(a request or consent id) and lock method names, percent-encoded. Every call has a timeout.
A refusal raises :class:`~netid.wallet.errors.ServerError` with the server's ``error.code``,
``message`` and ``details``; no answer raises ``ServerUnreachable``; an answer that is not the
API's JSON raises ``ServerAnswerInvalid``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypedDict, cast

from netid.wallet.errors import ServerAnswerInvalid, ServerError, ServerUnreachable

DEFAULT_TIMEOUT_SECONDS: Final = 15.0
MAX_ANSWER_BYTES: Final = 8 * 1024 * 1024
Method = Literal["GET", "POST", "DELETE"]
JsonObject = dict[str, Any]


class EnrolmentStarted(TypedDict):
    enrolment_id: str
    expires_at: str
    phone_hint: str | None
    supervision: str  # none | guardian_enrols | guardian_approves
    steps: list[str]


class IssuedCredential(TypedDict):
    network_id: str
    credential_id: str
    credential: str
    expires_at: str


class SessionAnswer(TypedDict):
    token: str
    assurance: str  # L1 | L2 | L3
    expires_at: str


class QrRefsAnswer(TypedDict):
    refs: list[str]
    expires_at: str


class WalletMe(TypedDict, total=False):
    network_id: str
    credential_id: str
    status: str
    expires_at: str
    assurance: str
    age_band: str


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    content_type: str


def _require(body: Any, *members: str) -> JsonObject:
    if not isinstance(body, dict) or any(m not in body for m in members):
        raise ServerAnswerInvalid(details={"expected": list(members)})
    return body


class WalletClient:
    """The HTTP API of one netid server, seen from a wallet."""

    def __init__(self, server: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        parsed = urllib.parse.urlsplit(server)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("the server URL must be http(s)://host[:port]")
        if parsed.query or parsed.fragment:
            raise ValueError("the server URL takes no query or fragment")
        self.server = server.rstrip("/")
        self._timeout = timeout

    def url(self, path: str) -> str:
        return self.server + path

    # -- transport ---------------------------------------------------------------------------
    def request(
        self,
        method: Method,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        accept: str = "application/json",
    ) -> Answer:
        """One HTTP exchange; a 4xx/5xx raises :class:`ServerError`."""
        headers = {"Accept": accept}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked in __init__
            self.url(path), data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                status = response.status
                raw = response.read(MAX_ANSWER_BYTES + 1)
                content_type = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            status, content_type = error.code, error.headers.get("Content-Type", "")
            raw = error.read(MAX_ANSWER_BYTES + 1)
        except (TimeoutError, urllib.error.URLError, ConnectionError) as error:
            raise ServerUnreachable() from error
        if len(raw) > MAX_ANSWER_BYTES:
            raise ServerAnswerInvalid("The server's answer is too large.")
        parsed: Any = None
        if content_type.split(";")[0].strip().endswith("json") and raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                raise ServerAnswerInvalid() from None
        elif raw:
            parsed = raw.decode("utf-8", "replace")
        if status >= 400:
            raise _refusal(status, parsed)
        return Answer(status, parsed, content_type)

    def _post(self, path: str, body: Mapping[str, Any], *, token: str | None = None) -> Any:
        return self.request("POST", path, body, token=token).body

    # -- enrolment (netid.enrolment) ---------------------------------------------------------
    def start_enrolment(
        self, chip: Mapping[str, Any], device_jwk: Mapping[str, str], *, guardian_token: str | None
    ) -> EnrolmentStarted:
        """``POST /v1/enrolments``; a guardian's session token when the guardian enrols."""
        body = self._post(
            "/v1/enrolments", {"chip": chip, "device_jwk": device_jwk}, token=guardian_token
        )
        return cast(EnrolmentStarted, _require(body, "enrolment_id", "expires_at", "supervision"))

    def enrolment_face(self, enrolment_id: str, face_image_b64: str, liveness: str) -> JsonObject:
        return _require(
            self._post(
                "/v1/enrolments/face",
                {"enrolment_id": enrolment_id, "face_image": face_image_b64, "liveness": liveness},
            ),
            "state",
        )

    def enrolment_otp(self, enrolment_id: str, code: str) -> JsonObject:
        return _require(
            self._post("/v1/enrolments/otp", {"enrolment_id": enrolment_id, "code": code}),
            "state",
        )

    def enrolment_otp_resend(self, enrolment_id: str) -> JsonObject:
        return _require(
            self._post("/v1/enrolments/otp/resend", {"enrolment_id": enrolment_id}), "phone_hint"
        )

    def complete_enrolment(
        self, enrolment_id: str, pin: str, proof: str
    ) -> IssuedCredential | JsonObject:
        """201 with the credential, or 202 ``{state: awaiting_guardian}``."""
        answer = self.request(
            "POST",
            "/v1/enrolments/complete",
            {"enrolment_id": enrolment_id, "pin": pin, "proof": proof},
        )
        if answer.status == 202:
            return _require(answer.body, "state")
        return cast(
            IssuedCredential,
            _require(answer.body, "network_id", "credential_id", "credential", "expires_at"),
        )

    def enrolment_status(self, enrolment_id: str) -> JsonObject:
        return _require(
            self._post("/v1/enrolments/status", {"enrolment_id": enrolment_id}), "state"
        )

    # -- wallet sessions ---------------------------------------------------------------------
    def create_session(
        self,
        credential_id: str,
        pin: str,
        proof: str,
        *,
        face_image_b64: str | None = None,
        otp_code: str | None = None,
    ) -> SessionAnswer:
        body: dict[str, Any] = {"credential_id": credential_id, "pin": pin, "proof": proof}
        if face_image_b64 is not None:
            body["face_image"] = face_image_b64
        if otp_code is not None:
            body["otp_code"] = otp_code
        return cast(
            SessionAnswer,
            _require(self._post("/v1/wallet/sessions", body), "token", "assurance", "expires_at"),
        )

    def request_login_otp(self, credential_id: str, proof: str) -> JsonObject:
        body = self._post("/v1/wallet/otp", {"credential_id": credential_id, "proof": proof})
        return body if isinstance(body, dict) else {}

    def qr_refs(self, token: str, count: int) -> QrRefsAnswer:
        return cast(
            QrRefsAnswer,
            _require(
                self._post("/v1/wallet/qr-refs", {"count": count}, token=token),
                "refs",
                "expires_at",
            ),
        )

    def me(self, token: str) -> WalletMe:
        return cast(
            WalletMe,
            _require(self.request("GET", "/v1/wallet/me", token=token).body, "network_id"),
        )

    def refresh_credential(self, token: str) -> IssuedCredential:
        body = self._post("/v1/wallet/credential/refresh", {}, token=token)
        return cast(IssuedCredential, _require(body, "credential"))

    # -- the person's own data (netid.citizens) ----------------------------------------------
    def history(self, token: str) -> JsonObject:
        return _require(self.request("GET", "/v1/me/history", token=token).body, "entries")

    def locks(self, token: str) -> Any:
        return self.request("GET", "/v1/me/locks", token=token).body

    def lock(self, token: str, method: str) -> Any:
        return self.request("POST", f"/v1/me/locks/{_segment(method)}", {}, token=token).body

    def unlock(self, token: str, method: str, *, minutes: int | None = None) -> Any:
        body = {} if minutes is None else {"minutes": minutes}
        return self.request("DELETE", f"/v1/me/locks/{_segment(method)}", body, token=token).body

    def requests(self, token: str) -> Any:
        return self.request("GET", "/v1/me/requests", token=token).body

    def approve(self, token: str, request_id: str) -> Any:
        return self._post(f"/v1/me/requests/{_segment(request_id)}/approve", {}, token=token)

    def deny(self, token: str, request_id: str) -> Any:
        return self._post(f"/v1/me/requests/{_segment(request_id)}/deny", {}, token=token)

    def consents(self, token: str) -> Any:
        return self.request("GET", "/v1/me/consents", token=token).body

    def revoke_consent(self, token: str, consent_id: str) -> Any:
        return self.request("DELETE", f"/v1/me/consents/{_segment(consent_id)}", token=token).body

    def deregister(self, token: str, network_id: str) -> Any:
        return self._post("/v1/me/deregister", {"network_id": network_id}, token=token)

    # -- logging in at a website (OpenID Connect, docs/decisions/0006) ----------------------
    def login_request(self, token: str, handle: str) -> JsonObject:
        path = f"/v1/wallet/logins/{_segment(handle)}"
        return _require(self.request("GET", path, token=token).body, "institution", "claims")

    def decide_login(self, token: str, handle: str, decision: str) -> JsonObject:
        path = f"/v1/wallet/logins/{_segment(handle)}"
        return _require(self._post(path, {"decision": decision}, token=token), "status")

    # -- issuer metadata (public) ------------------------------------------------------------
    def issuer(self) -> str:
        """The platform's public URL (``GET /.well-known/jwt-vc-issuer``): the ``iss`` of its
        credentials and the base of the audiences that device proofs name."""
        body = _require(self.request("GET", "/.well-known/jwt-vc-issuer").body, "issuer")
        issuer = body["issuer"]
        if not isinstance(issuer, str) or not issuer.startswith(("http://", "https://")):
            raise ServerAnswerInvalid()
        return issuer.rstrip("/")

    def issuer_jwks(self) -> JsonObject:
        return _require(self.request("GET", "/v1/credentials/jwks").body, "keys")

    def status_list(self, uri: str) -> str:
        """The status list token at ``uri`` (one of this server's), as compact JWS text."""
        if not uri.startswith(self.server + "/"):
            raise ServerAnswerInvalid("The status list is not on this server.")
        answer = self.request("GET", uri[len(self.server) :], accept="application/statuslist+jwt")
        if not isinstance(answer.body, str):
            raise ServerAnswerInvalid()
        return answer.body.strip()


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _refusal(status: int, body: Any) -> ServerError:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        details = error.get("details")
        return ServerError(
            status,
            error["code"],
            error.get("message") if isinstance(error.get("message"), str) else None,
            details if isinstance(details, dict) else None,
        )
    if isinstance(body, dict) and isinstance(body.get("error"), str):  # RFC 6749 form
        return ServerError(status, body["error"], body.get("error_description"))
    return ServerError(status, f"http_{status}")
