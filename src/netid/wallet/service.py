"""The wallet's use cases: what the phone app does, step by step, over the public API.

A :class:`Wallet` joins a state directory (:mod:`netid.wallet.state`) and the server's HTTP API
(:mod:`netid.wallet.client`). It keeps nothing in memory between calls: every command reads
the directory, talks to the server, and writes back what changed, so an interrupted command
leaves the previous state, and the next command picks up from there.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec

from netid.credentials import jws, presentation, qr, sdjwt, status_list
from netid.credentials.errors import ClaimNotInCredential as CredentialClaimMissing
from netid.credentials.errors import CredentialError
from netid.credentials.network_id import format_network_id, normalize_network_id
from netid.crypto import jose_keys
from netid.crypto.errors import CryptoError
from netid.crypto.notes import NoteVerifier
from netid.wallet import device
from netid.wallet.client import IssuedCredential, WalletClient
from netid.wallet.errors import (
    AlreadyEnrolled,
    ClaimNotInCredential,
    ConfirmationMismatch,
    LoginTextInvalid,
    NoEnrolment,
    NotEnrolled,
    NotLoggedIn,
    ServerAnswerInvalid,
    ServerError,
    WalletExists,
)
from netid.wallet.history import VerifiedHistory, verify_history
from netid.wallet.state import Enrolment, QrRefs, Session, WalletConfig, WalletDir

QR_REFS_BATCH: Final = 40  # the contract's maximum per request
QR_LIFETIME_SECONDS: Final = 60
STATUS_NAMES: Final = {
    status_list.VALID: "valid",
    status_list.INVALID: "revoked",
    status_list.SUSPENDED: "suspended",
}
# A session this close to its end is treated as over: a request must not die mid-way.
SESSION_MARGIN: Final = dt.timedelta(seconds=5)
KEEP_CLOCK_SKEW_SECONDS: Final = 3600


def _parse_time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Finished:
    """The outcome of ``enrol finish``: issued, or waiting for a guardian's approval."""

    state: str  # "issued" | "awaiting_guardian"
    network_id: str | None = None
    credential_id: str | None = None
    expires_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state}
        if self.network_id:
            out |= {
                "network_id": format_network_id(self.network_id),
                "credential_id": self.credential_id,
                "expires_at": self.expires_at,
            }
        return out


class Wallet:
    def __init__(
        self,
        directory: WalletDir,
        *,
        timeout: float = 15.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.dir = directory
        self._timeout = timeout
        self._now = now

    # -- plumbing ----------------------------------------------------------------------------
    def _clock(self) -> int:
        return int(self._now())

    def _moment(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._now(), dt.UTC)

    def config(self) -> WalletConfig:
        return self.dir.config()

    def client(self) -> WalletClient:
        return WalletClient(self.config().server, timeout=self._timeout)

    def _enrolled(self) -> tuple[WalletConfig, str]:
        config = self.config()
        if not config.credential_id:
            raise NotEnrolled()
        return config, config.credential_id

    def _enrolment(self) -> tuple[WalletConfig, Enrolment]:
        config = self.config()
        if config.enrolment is None:
            raise NoEnrolment()
        return config, config.enrolment

    def session_token(self) -> str:
        """The current session's token; an expired or missing session is :class:`NotLoggedIn`."""
        session = self.dir.session()
        if session is None:
            raise NotLoggedIn()
        try:
            ends = _parse_time(session.expires_at)
        except ValueError:
            ends = self._moment()
        if ends - SESSION_MARGIN <= self._moment():
            self.dir.clear_session()
            raise NotLoggedIn()
        return session.token

    def _authorised(self, call: Callable[[str], Any]) -> Any:
        """Run ``call(token)``; a session the server no longer accepts is forgotten."""
        token = self.session_token()
        try:
            return call(token)
        except ServerError as error:
            if error.status == 401:
                self.dir.clear_session()
            raise

    # -- init --------------------------------------------------------------------------------
    def init(self, server: str) -> dict[str, Any]:
        """A new wallet for ``server``: the directory (0700), a P-256 device key and
        wallet.json. A directory that already has a key is refused; one whose key went with a
        deregistration gets a new key."""
        client = WalletClient(server, timeout=self._timeout)  # checks the URL
        self.dir.create()
        if self.dir.has_device_key():
            raise WalletExists()
        key = self.dir.create_device_key()
        self.dir.save_config(WalletConfig(server=client.server))
        return {"server": client.server, "device_kid": jose_keys.jwk_thumbprint(key)}

    # -- enrolment ---------------------------------------------------------------------------
    def enrol_start(
        self, chip: Mapping[str, Any], *, guardian: Wallet | None = None
    ) -> dict[str, Any]:
        config = self.config()
        if config.credential_id:
            raise AlreadyEnrolled()
        key = self.dir.device_key()
        guardian_token = guardian.session_token() if guardian is not None else None
        client = self.client()
        issuer = client.issuer()
        started = client.start_enrolment(
            chip, device.public_jwk(key), guardian_token=guardian_token
        )
        enrolment = Enrolment(
            enrolment_id=str(started["enrolment_id"]),
            expires_at=str(started["expires_at"]),
            supervision=str(started["supervision"]),
            steps=tuple(str(s) for s in started.get("steps") or ()),
            phone_hint=started.get("phone_hint"),
        )
        self.dir.save_config(WalletConfig(server=config.server, issuer=issuer, enrolment=enrolment))
        return _enrolment_view(enrolment)

    def enrol_face(self, photo: bytes) -> dict[str, Any]:
        _, enrolment = self._enrolment()
        key = self.dir.device_key()
        liveness = device.liveness_jwt(
            key, enrolment_id=enrolment.enrolment_id, image=photo, now=self._clock()
        )
        return self.client().enrolment_face(enrolment.enrolment_id, _b64(photo), liveness)

    def enrol_otp(self, code: str) -> dict[str, Any]:
        _, enrolment = self._enrolment()
        return self.client().enrolment_otp(enrolment.enrolment_id, code.strip())

    def enrol_resend(self) -> dict[str, Any]:
        _, enrolment = self._enrolment()
        return self.client().enrolment_otp_resend(enrolment.enrolment_id)

    def enrol_status(self) -> dict[str, Any]:
        _, enrolment = self._enrolment()
        return {
            **_enrolment_view(enrolment),
            **self.client().enrolment_status(enrolment.enrolment_id),
        }

    def enrol_finish(self, pin: str) -> Finished:
        config, enrolment = self._enrolment()
        key = self.dir.device_key()
        client = self.client()
        proof = device.proof_jwt(
            key,
            audience=self._audience(config, client, "/v1/enrolments"),
            nonce=enrolment.enrolment_id,
            now=self._clock(),
        )
        answer = client.complete_enrolment(enrolment.enrolment_id, pin, proof)
        if "credential" not in answer:
            return Finished(state=str(answer.get("state", "awaiting_guardian")))
        issued: IssuedCredential = answer  # type: ignore[assignment]
        # The enrolment is complete on the server now: remember the credential id first, so
        # that a credential refused below (it does not verify) leaves a wallet that can still
        # log in and fetch a good one ('refresh'), not one stuck on a finished enrolment.
        self.dir.save_config(
            WalletConfig(
                server=config.server,
                issuer=config.issuer,
                credential_id=str(issued["credential_id"]),
                network_id=normalize_network_id(str(issued["network_id"])),
            )
        )
        self._keep_credential(str(issued["credential"]), key, client, config.issuer)
        return Finished(
            state="issued",
            network_id=str(issued["network_id"]),
            credential_id=str(issued["credential_id"]),
            expires_at=str(issued["expires_at"]),
        )

    def refresh_credential(self) -> dict[str, Any]:
        """A new credential for this device (``POST /v1/wallet/credential/refresh``): after
        expiry, or when an age marker flips (decision 0005: ``exp`` is capped at the next such
        birthday). Kept only once it verifies like the first one."""
        config, credential_id = self._enrolled()
        key = self.dir.device_key()
        client = self.client()
        issued = self._authorised(client.refresh_credential)
        self._keep_credential(str(issued["credential"]), key, client, config.issuer)
        return {"credential_id": credential_id, "expires_at": issued.get("expires_at")}

    def _keep_credential(
        self,
        credential: str,
        key: jose_keys.JosePrivateKey,
        client: WalletClient,
        issuer: str | None,
    ) -> None:
        """Store an issued credential once it is ours: signed by a key of the issuer's
        published JWKS (``GET /v1/credentials/jwks``) with ``iss`` = the issuer, of the
        network-identity type, within its validity, every disclosure referenced (RFC 9901
        §7.1), and bound to this device's key (``cnf.jwk``). A credential that fails any of
        these would be refused by every verifier, so keeping it would only hide the fault."""
        expected_issuer = issuer or client.issuer()
        try:
            keys = presentation.keys_from_jwks(client.issuer_jwks())
            verified = sdjwt.verify(
                credential,
                issuer_keys=keys,
                now=self._clock(),
                audience=None,
                nonce=None,
                require_key_binding=False,
                # Authenticity is the signature's question; a phone clock a few minutes off
                # must not make the wallet throw away a credential it was just issued.
                skew=KEEP_CLOCK_SKEW_SECONDS,
                expected_issuer=expected_issuer,
                expected_vct=sdjwt.NETWORK_IDENTITY_VCT,
            )
        except CredentialError:
            raise ServerAnswerInvalid(
                "The issued credential does not verify under the issuer's keys."
            ) from None
        try:
            bound = verified.cnf_jwk is not None and jose_keys.jwk_thumbprint(
                jose_keys.public_key_from_jwk(verified.cnf_jwk)
            ) == jose_keys.jwk_thumbprint(key)
        except CryptoError:
            bound = False
        if not bound or verified.key_bound:
            raise ServerAnswerInvalid("The issued credential is not bound to this device.")
        self.dir.save_credential(credential)

    # -- sessions ----------------------------------------------------------------------------
    @staticmethod
    def _audience(config: WalletConfig, client: WalletClient, path: str) -> str:
        # Device proofs name the platform's public URL (its issuer), which behind a proxy
        # differs from the address this wallet dials.
        return (config.issuer or client.server) + path

    def _login_proof(self, config: WalletConfig, client: WalletClient) -> str:
        return device.proof_jwt(
            self.dir.device_key(),
            audience=self._audience(config, client, "/v1/wallet"),
            now=self._clock(),
        )

    def request_login_otp(self) -> dict[str, Any]:
        config, credential_id = self._enrolled()
        client = self.client()
        return client.request_login_otp(credential_id, self._login_proof(config, client))

    def login(self, pin: str, *, face: bytes | None = None, otp_code: str | None = None) -> Session:
        config, credential_id = self._enrolled()
        client = self.client()
        answer = client.create_session(
            credential_id,
            pin,
            self._login_proof(config, client),
            face_image_b64=_b64(face) if face is not None else None,
            otp_code=otp_code.strip() if otp_code is not None else None,
        )
        session = Session(
            token=str(answer["token"]),
            expires_at=str(answer["expires_at"]),
            assurance=str(answer["assurance"]),
        )
        self.dir.clear_session()  # references of an earlier session are of no use now
        self.dir.save_session(session)
        return session

    def logout(self) -> None:
        self.dir.clear_session()

    # -- status ------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What the wallet holds and what the platform says of it. With a session, the
        server's view (``GET /v1/wallet/me``); without one, the credential's own expiry and
        its entry in the signed status list (what an offline verifier would see)."""
        config = self.config()
        out: dict[str, Any] = {
            "server": config.server,
            "enrolled": bool(config.credential_id),
            "network_id": format_network_id(config.network_id) if config.network_id else None,
            "credential_id": config.credential_id,
            "enrolment": _enrolment_view(config.enrolment) if config.enrolment else None,
        }
        session = self.dir.session()
        out["session"] = (
            {"assurance": session.assurance, "expires_at": session.expires_at} if session else None
        )
        credential = self.dir.credential()
        if credential is None:
            return out
        payload = _issuer_payload(credential)
        exp = payload.get("exp")
        out["credential_expires_at"] = (
            dt.datetime.fromtimestamp(exp, dt.UTC).isoformat() if isinstance(exp, int) else None
        )
        # What an offline verifier sees (the signed status list), and with a session the
        # platform's own view of the credential (active, suspended, revoked, expired).
        out["status_list"] = self._credential_status(payload)
        out["credential_status"] = None
        if session is not None:
            try:
                me = self._authorised(self.client().me)
                out["credential_status"] = me.get("status")
                out["assurance"] = me.get("assurance")
                out["age_band"] = me.get("age_band")
                out["credential_expires_at"] = me.get("expires_at", out["credential_expires_at"])
            except NotLoggedIn:
                out["session"] = None
            except ServerError as error:
                if error.status != 401:
                    raise
                out["session"] = None
        return out

    def _credential_status(self, payload: Mapping[str, Any]) -> str:
        """The credential's entry in its signed status list (draft-ietf-oauth-status-list):
        ``valid``, ``revoked`` or ``suspended``; ``unverifiable`` when the list does not
        verify under the issuer's published keys."""
        status = payload.get("status")
        reference = status.get("status_list") if isinstance(status, dict) else None
        if not isinstance(reference, dict):
            return "unknown"
        idx, uri = reference.get("idx"), reference.get("uri")
        if not isinstance(idx, int) or not isinstance(uri, str):
            return "unknown"
        client = self.client()
        try:
            keys = presentation.keys_from_jwks(client.issuer_jwks())
            statuses = status_list.verify_token(
                client.status_list(uri), keys=keys, uri=uri, now=self._clock()
            )
            return STATUS_NAMES.get(statuses.status(idx), "unknown")
        except CredentialError:
            return "unverifiable"

    # -- dynamic QR code ---------------------------------------------------------------------
    def next_qr_token(self) -> str:
        """A fresh QR token: one unused credential reference (fetched in batches while logged
        in), signed by the device key with a new nonce, valid ``QR_LIFETIME_SECONDS``."""
        self._enrolled()
        ref = self._take_qr_ref()
        return qr.mint(
            self.dir.device_key(), ref=ref, issued_at=self._clock(), lifetime=QR_LIFETIME_SECONDS
        )

    def _take_qr_ref(self) -> str:
        """The next unused credential reference (each is shown once), refilled from the
        server when the stock runs out or would expire within a code's lifetime."""
        with self.dir.exclusive():
            return self._take_qr_ref_locked()

    def _take_qr_ref_locked(self) -> str:
        stock = self.dir.qr_refs()
        if stock is not None and stock.refs:
            try:
                fresh = _parse_time(stock.expires_at) > self._moment() + dt.timedelta(
                    seconds=QR_LIFETIME_SECONDS
                )
            except ValueError:
                fresh = False
            if fresh:
                self.dir.save_qr_refs(QrRefs(stock.refs[1:], stock.expires_at))
                return stock.refs[0]
        answer = self._authorised(lambda token: self.client().qr_refs(token, QR_REFS_BATCH))
        given = answer["refs"]
        refs = [r for r in given if isinstance(r, str) and r] if isinstance(given, list) else []
        if not refs:
            raise ServerAnswerInvalid("The server gave no credential references.")
        self.dir.save_qr_refs(QrRefs(tuple(refs[1:]), str(answer["expires_at"])))
        return refs[0]

    # -- offline presentation ----------------------------------------------------------------
    def disclosable_claims(self) -> dict[str, Any]:
        credential = self.dir.credential()
        if credential is None:
            raise NotEnrolled()
        names = sdjwt.disclosure_names(credential)
        claims = sdjwt.claims_of(credential)
        return {name: claims.get(name) for name in names}

    def present(self, claims: Sequence[str], *, nonce: str, audience: str) -> str:
        """An SD-JWT+KB presentation (RFC 9901 §4.3) disclosing exactly ``claims``."""
        credential = self.dir.credential()
        if credential is None:
            raise NotEnrolled()
        available = sdjwt.disclosure_names(credential)
        missing = [c for c in claims if c not in available]
        if missing:
            raise ClaimNotInCredential(details={"claims": missing})
        key = self.dir.device_key()
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise NotEnrolled()
        try:
            return sdjwt.present(
                credential,
                disclose=claims,
                holder_key=key,
                audience=audience,
                nonce=nonce,
                issued_at=self._clock(),
            )
        except CredentialClaimMissing:
            raise ClaimNotInCredential(details={"claims": list(claims)}) from None

    # -- the person's own data ---------------------------------------------------------------
    def requests(self) -> Any:
        return self._authorised(self.client().requests)

    # -- logging in at a website (docs/decisions/0006) ---------------------------------------
    def login_request(self, text: str) -> tuple[str, Any]:
        """(handle, what the login asks: institution, purpose, claims, check code)."""
        handle = login_handle_of(text)
        return handle, self._authorised(lambda t: self.client().login_request(t, handle))

    def decide_login(self, handle: str, *, approve: bool) -> Any:
        decision = "approve" if approve else "deny"
        return self._authorised(lambda t: self.client().decide_login(t, handle, decision))

    def approve(self, request_id: str) -> Any:
        return self._authorised(lambda t: self.client().approve(t, request_id))

    def deny(self, request_id: str) -> Any:
        return self._authorised(lambda t: self.client().deny(t, request_id))

    def consents(self) -> Any:
        return self._authorised(self.client().consents)

    def revoke_consent(self, consent_id: str) -> Any:
        return self._authorised(lambda t: self.client().revoke_consent(t, consent_id))

    def locks(self) -> Any:
        return self._authorised(self.client().locks)

    def lock(self, method: str) -> Any:
        return self._authorised(lambda t: self.client().lock(t, method))

    def unlock(self, method: str, *, minutes: int | None = None) -> Any:
        return self._authorised(lambda t: self.client().unlock(t, method, minutes=minutes))

    def history(self, verifiers: Iterable[NoteVerifier] = ()) -> VerifiedHistory:
        answer = self._authorised(self.client().history)
        return verify_history(answer, list(verifiers))

    def deregister(self, confirm: str) -> dict[str, Any]:
        """Deregister the account, then forget the credential and the device key."""
        config, _ = self._enrolled()
        if not config.network_id or normalize_network_id(confirm) != config.network_id:
            raise ConfirmationMismatch()
        answer = self._authorised(lambda t: self.client().deregister(t, config.network_id or ""))
        self.dir.forget_credential()
        return answer if isinstance(answer, dict) else {"deregistered": True}


def _enrolment_view(enrolment: Enrolment) -> dict[str, Any]:
    # Never the enrolment id: it is the secret that authenticates the steps.
    return {
        "expires_at": enrolment.expires_at,
        "supervision": enrolment.supervision,
        "steps": list(enrolment.steps),
        "phone_hint": enrolment.phone_hint,
    }


def _issuer_payload(credential: str) -> dict[str, Any]:
    try:
        _, payload, _, _ = jws.decode_unverified(sdjwt.parse(credential).issuer_jwt)
    except CredentialError:
        return {}
    return payload


def login_handle_of(text: str) -> str:
    """The handle in a scanned login text ``netid://login?r=<handle>`` (the QR code of a
    website's login page, or its same-device link)."""
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme != "netid" or parts.netloc != "login":
        raise LoginTextInvalid()
    values = urllib.parse.parse_qs(parts.query)
    handles = values.get("r", [])
    if len(handles) != 1 or not 16 <= len(handles[0]) <= 64 or not handles[0].isascii():
        raise LoginTextInvalid()
    return handles[0]
