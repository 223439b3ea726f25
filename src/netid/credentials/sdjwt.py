"""SD-JWT VC (RFC 9901; draft-ietf-oauth-sd-jwt-vc): issue, hold, present and verify.

Compact form (RFC 9901 §4): ``<issuer-JWT>~<D1>~…~<Dn>~[<KB-JWT>]``. A disclosure is
``base64url(JSON [salt, name, value])`` (or ``[salt, value]`` for an array element) and its
digest ``base64url(SHA-256(ASCII(disclosure)))`` sits in an ``_sd`` array (or an array element
``{"...": digest}``). The verifier here makes every check of RFC 9901 §7, including those the
reference implementation ``sd-jwt`` 0.10.4 skips (standards.md §4.3): ``exp``/``nbf``/``iat``,
KB-JWT ``iat`` freshness, and disclosures that no digest references.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec

from netid.credentials import jws
from netid.credentials.errors import (
    AudienceMismatch,
    ClaimNotInCredential,
    CredentialExpired,
    CredentialIssuerUnknown,
    CredentialMalformed,
    CredentialNotYetValid,
    CredentialSignatureInvalid,
    CredentialTypeInvalid,
    DigestDuplicate,
    DisclosureDuplicate,
    DisclosureInvalid,
    DisclosureUnreferenced,
    JwsAlgorithmNotAllowed,
    JwsError,
    JwsMalformed,
    JwsTypeMismatch,
    KeyBindingInvalid,
    KeyBindingMissing,
    KeyBindingStale,
    NonceMismatch,
    SdHashMismatch,
)
from netid.crypto.errors import InvalidKeyMaterial
from netid.crypto.jose_keys import (
    JosePrivateKey,
    JosePublicKey,
    b64url_decode,
    b64url_encode,
    public_key_from_jwk,
)

TYP: Final = "dc+sd-jwt"
# draft-ietf-oauth-sd-jwt-vc: "vc+sd-jwt" was the media type of earlier drafts; accept it on read.
ACCEPTED_TYPS: Final = frozenset({"dc+sd-jwt", "vc+sd-jwt"})
KB_TYP: Final = "kb+jwt"
SD_ALG: Final = "sha-256"
NETWORK_IDENTITY_VCT: Final = "urn:netid:credential:network-identity:1"
ISSUER_ALGS: Final = frozenset({"EdDSA", "Ed25519", "ES256"})
HOLDER_ALGS: Final = frozenset({"ES256", "EdDSA", "Ed25519"})
# SD-JWT VC §3.2.2.2 (and the JWT claims with a processing rule): never selectively disclosable.
NEVER_DISCLOSABLE: Final = frozenset(
    {"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status", "_sd", "_sd_alg", "..."}
)
SALT_BYTES: Final = 16  # RFC 9901 §9.3: at least 128 bits
DEFAULT_DECOYS: Final = 3
MAX_LENGTH: Final = 64 * 1024  # a whole presentation, in characters
MAX_ISSUER_JWT_LENGTH: Final = 32 * 1024
MAX_DISCLOSURES: Final = 256
# Nesting of objects and arrays (disclosed values included) the resolver walks: ours are two
# deep; a cap keeps a hostile document a 4xx rather than a RecursionError (a 500).
MAX_DEPTH: Final = 32

RandomBytes = Callable[[int], bytes]


@dataclass(frozen=True, slots=True)
class SdJwt:
    """A parsed (unverified) compact SD-JWT or SD-JWT+KB."""

    issuer_jwt: str
    disclosures: tuple[str, ...]
    key_binding_jwt: str | None

    @property
    def without_key_binding(self) -> str:
        """The presentation up to and including the last ``~`` (what ``sd_hash`` covers)."""
        return "".join(f"{part}~" for part in (self.issuer_jwt, *self.disclosures))


@dataclass(frozen=True, slots=True)
class StatusReference:
    """``status.status_list`` of the credential (draft-ietf-oauth-status-list §6.1)."""

    idx: int
    uri: str


@dataclass(frozen=True, slots=True)
class VerifiedCredential:
    """What :func:`verify` established.

    ``disclosed``: the top-level claims that came from disclosures; ``claims``: the plain
    top-level claims (``_sd``/``_sd_alg`` removed, nested disclosures resolved).
    """

    issuer: str
    kid: str
    vct: str
    disclosed: dict[str, Any]
    claims: dict[str, Any]
    cnf_jwk: dict[str, Any] | None
    status: StatusReference | None
    iat: int | None
    exp: int
    jti: str | None
    key_bound: bool
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def all_claims(self) -> dict[str, Any]:
        return {**self.claims, **self.disclosed}


# -- encoding -----------------------------------------------------------------------------------
def digest(disclosure: str) -> str:
    """RFC 9901 §4.2.3: base64url(SHA-256 over the ASCII disclosure string)."""
    return b64url_encode(hashlib.sha256(disclosure.encode("ascii")).digest())


def make_disclosure(salt: bytes, name: str, value: Any) -> str:
    """An object-property disclosure ``base64url(JSON [salt, name, value])`` (RFC 9901 §4.2.1)."""
    return b64url_encode(jws.dumps([b64url_encode(salt), name, value]))


def issue(
    *,
    issuer_key: JosePrivateKey,
    kid: str,
    payload: Mapping[str, Any],
    disclosable: Mapping[str, Any],
    decoys: int = DEFAULT_DECOYS,
    random_bytes: RandomBytes = secrets.token_bytes,
    typ: str = TYP,
) -> str:
    """Issue an SD-JWT VC: ``<jwt>~<d1>~…~<dn>~``.

    ``payload`` holds the plain claims (``iss``, ``vct``, ``iat``, ``nbf``, ``exp``, ``cnf``,
    ``status``, ``jti`` …); each entry of ``disclosable`` becomes a top-level disclosure with a
    16-byte salt. ``decoys`` digests over random bytes are mixed in (RFC 9901 §4.2.5) and the
    ``_sd`` array is sorted, so neither order nor count tell which claims exist. The header is
    ``{"alg", "typ": "dc+sd-jwt", "kid"}``; the key is Ed25519 (``EdDSA``, the platform) or
    P-256 (``ES256``, interoperability). ``random_bytes`` is injectable for known-answer tests.
    """
    if not kid:
        raise ValueError("an issuer kid is required")
    if not isinstance(payload.get("iss"), str) or not isinstance(payload.get("vct"), str):
        raise ValueError("the payload needs iss and vct")
    reserved = {"_sd", "_sd_alg", "..."} & payload.keys()
    if reserved:
        raise ValueError("the payload must not carry SD-JWT reserved names")
    for name in disclosable:
        if name in NEVER_DISCLOSABLE:
            raise ValueError(f"{name!r} must not be selectively disclosable")
        if name in payload:
            raise ValueError(f"{name!r} is both plain and disclosable")
    if decoys < 0:
        raise ValueError("decoys must be >= 0")
    disclosures = [
        make_disclosure(random_bytes(SALT_BYTES), name, value)
        for name, value in disclosable.items()
    ]
    digests = [digest(d) for d in disclosures]
    digests += [
        b64url_encode(hashlib.sha256(random_bytes(SALT_BYTES)).digest()) for _ in range(decoys)
    ]
    body: dict[str, Any] = dict(payload)
    if digests:
        body["_sd"] = sorted(digests)
    body["_sd_alg"] = SD_ALG
    issuer_jwt = jws.sign_compact(issuer_key, header={"typ": typ, "kid": kid}, payload=body)
    return "".join(f"{part}~" for part in (issuer_jwt, *disclosures))


# -- parsing ------------------------------------------------------------------------------------
def parse(compact: str) -> SdJwt:
    """Split a compact SD-JWT / SD-JWT+KB (RFC 9901 §4) without verifying anything.

    Raises :class:`CredentialMalformed` unless it is ``<jwt>~(<disclosure>~)*[<kb-jwt>]`` with no
    empty disclosure, within the size caps.
    """
    if not isinstance(compact, str) or not 0 < len(compact) <= MAX_LENGTH or not compact.isascii():
        raise CredentialMalformed()
    parts = compact.split("~")
    if len(parts) < 2 or len(parts) - 2 > MAX_DISCLOSURES:
        raise CredentialMalformed()
    issuer_jwt, disclosures, last = parts[0], parts[1:-1], parts[-1]
    if not issuer_jwt or issuer_jwt.count(".") != 2 or any(not d for d in disclosures):
        raise CredentialMalformed()
    if last and last.count(".") != 2:
        raise CredentialMalformed()
    return SdJwt(issuer_jwt, tuple(disclosures), last or None)


@dataclass(frozen=True, slots=True)
class _Disclosure:
    text: str
    salt: str
    name: str | None  # None for an array element
    value: Any


def _decode_disclosure(text: str) -> _Disclosure:
    try:
        value = jws.loads_json(b64url_decode(text))
    except ValueError:
        raise DisclosureInvalid() from None
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise DisclosureInvalid()
    salt = value[0]
    if not isinstance(salt, str) or not salt:
        raise DisclosureInvalid()
    if len(value) == 2:
        return _Disclosure(text, salt, None, value[1])
    name = value[1]
    if not isinstance(name, str):
        raise DisclosureInvalid()
    # RFC 9901 §7.1 step 3.c.ii.3: a claim name of "_sd" or "..." is refused.
    if name in ("_sd", "..."):
        raise DisclosureInvalid()
    return _Disclosure(text, salt, name, value[2])


class _Resolver:
    """Replace digests by disclosed values, as RFC 9901 §7.1 step 3 describes, recursively."""

    def __init__(self, disclosures: Iterable[str]) -> None:
        self.by_digest: dict[str, _Disclosure] = {}
        for text in disclosures:
            d = digest(text)
            if d in self.by_digest:  # §7.1 step 4: the same disclosure twice
                raise DisclosureDuplicate()
            self.by_digest[d] = _decode_disclosure(text)
        self.seen_digests: set[str] = set()
        self.used: set[str] = set()

    def _take(self, value: object) -> _Disclosure | None:
        if not isinstance(value, str):
            raise CredentialMalformed()
        # §7.1 step 3.a/3.b and step 4: a digest appearing more than once is refused.
        if value in self.seen_digests:
            raise DigestDuplicate()
        self.seen_digests.add(value)
        found = self.by_digest.get(value)
        if found is not None:
            self.used.add(value)
        return found  # None: a decoy, or a claim the holder did not disclose

    def object(
        self,
        obj: Mapping[str, Any],
        *,
        top: bool,
        disclosed: dict[str, Any] | None = None,
        depth: int = 0,
    ) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise CredentialMalformed()
        if "..." in obj:  # "..." only as the single member of an array element (§4.2.4.2)
            raise CredentialMalformed()
        if not top and "_sd_alg" in obj:  # _sd_alg is a top-level claim (§4.1.1)
            raise CredentialMalformed()
        result: dict[str, Any] = {}
        for name, value in obj.items():
            if name in ("_sd", "_sd_alg"):
                continue
            result[name] = self.value(value, depth)
        sd = obj.get("_sd", [])
        if not isinstance(sd, list):
            raise CredentialMalformed()
        for entry in sd:
            found = self._take(entry)
            if found is None:
                continue
            if found.name is None:  # an array-element disclosure in an object
                raise DisclosureInvalid()
            if found.name in result or found.name in obj:  # §7.1 step 3.c.ii.4
                raise DisclosureInvalid()
            if top and found.name in NEVER_DISCLOSABLE:  # SD-JWT VC §3.2.2.2
                raise DisclosureInvalid()
            result[found.name] = self.value(found.value, depth)
            if disclosed is not None:
                disclosed[found.name] = result[found.name]
        return result

    def array(self, items: list[Any], depth: int) -> list[Any]:
        if depth > MAX_DEPTH:
            raise CredentialMalformed()
        result: list[Any] = []
        for item in items:
            if isinstance(item, dict) and "..." in item:
                if len(item) != 1:
                    raise CredentialMalformed()
                found = self._take(item["..."])
                if found is None:
                    continue  # an undisclosed or decoy element is removed (§7.1 step 3.b)
                if found.name is not None:  # an object-property disclosure in an array
                    raise DisclosureInvalid()
                result.append(self.value(found.value, depth))
            else:
                result.append(self.value(item, depth))
        return result

    def value(self, value: Any, depth: int) -> Any:
        if isinstance(value, dict):
            return self.object(value, top=False, depth=depth + 1)
        if isinstance(value, list):
            return self.array(value, depth + 1)
        return value

    def check_all_used(self) -> None:
        # §7.1 step 5: every disclosure must be referenced by a digest in the SD-JWT (or in a
        # disclosed value); sd-jwt 0.10.4 silently ignores the others.
        if self.used != self.by_digest.keys():
            raise DisclosureUnreferenced()


def _resolve(
    payload: Mapping[str, Any], disclosures: Iterable[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain claims, disclosed top-level claims), after every §7.1 disclosure check."""
    alg = payload.get("_sd_alg", SD_ALG)  # §4.1.1: absent means sha-256
    if alg != SD_ALG:
        raise CredentialMalformed("The credential uses an unsupported digest algorithm.")
    resolver = _Resolver(disclosures)
    disclosed: dict[str, Any] = {}
    merged = resolver.object(payload, top=True, disclosed=disclosed)
    resolver.check_all_used()
    plain = {k: v for k, v in merged.items() if k not in disclosed}
    return plain, disclosed


# -- holder -------------------------------------------------------------------------------------
def claims_of(credential: str) -> dict[str, Any]:
    """The holder's view: every claim of its own credential, disclosures opened.

    Does not verify the issuer's signature (the holder got it from the issuer over TLS); it
    does make the structural disclosure checks. Reserved names are removed.
    """
    parsed = parse(credential)
    try:
        _, payload, _, _ = jws.decode_unverified(
            parsed.issuer_jwt, max_length=MAX_ISSUER_JWT_LENGTH
        )
    except JwsMalformed:
        raise CredentialMalformed() from None
    plain, disclosed = _resolve(payload, parsed.disclosures)
    return {**plain, **disclosed}


def disclosure_names(credential: str) -> dict[str, str]:
    """Top-level claim name → its disclosure string, for the disclosures in ``credential``."""
    names: dict[str, str] = {}
    for text in parse(credential).disclosures:
        d = _decode_disclosure(text)
        if d.name is not None:
            names[d.name] = text
    return names


def present(
    credential: str,
    *,
    disclose: Iterable[str],
    holder_key: ec.EllipticCurvePrivateKey,
    audience: str,
    nonce: str,
    issued_at: int,
) -> str:
    """Make a presentation (SD-JWT+KB, RFC 9901 §4.3) revealing only the claims in ``disclose``.

    The KB-JWT is ``{"alg": "ES256", "typ": "kb+jwt"}`` over ``{iat, aud, nonce, sd_hash}``,
    ``sd_hash`` covering the presentation up to and including the last ``~``. A name not among
    the credential's top-level disclosures raises :class:`ClaimNotInCredential`.
    """
    if not audience or not nonce:
        raise ValueError("audience and nonce are required")
    parsed = parse(credential)
    by_name = disclosure_names(credential)
    wanted = list(dict.fromkeys(disclose))
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise ClaimNotInCredential()
    chosen = set(wanted)
    # Keep the issuer's order of the chosen disclosures (order carries nothing, but is stable).
    kept = tuple(t for t in parsed.disclosures if _decode_disclosure(t).name in chosen)
    prefix = SdJwt(parsed.issuer_jwt, kept, None).without_key_binding
    kb_payload = {
        "iat": issued_at,
        "aud": audience,
        "nonce": nonce,
        "sd_hash": digest(prefix),
    }
    kb = jws.sign_compact(holder_key, header={"typ": KB_TYP}, payload=kb_payload)
    return prefix + kb


# -- verifier -----------------------------------------------------------------------------------
def _numeric(payload: Mapping[str, Any], name: str, *, required: bool) -> int | None:
    value = payload.get(name)
    if value is None and not required and name not in payload:
        return None
    if not jws.is_numeric_date(value):
        raise CredentialMalformed()
    return int(value)


def _status_reference(payload: Mapping[str, Any]) -> StatusReference | None:
    if "status" not in payload:
        return None
    status = payload["status"]
    if not isinstance(status, dict) or not isinstance(status.get("status_list"), dict):
        raise CredentialMalformed()
    ref = status["status_list"]
    idx, uri = ref.get("idx"), ref.get("uri")
    if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
        raise CredentialMalformed()
    if not isinstance(uri, str) or not uri:
        raise CredentialMalformed()
    return StatusReference(idx=idx, uri=uri)


def _holder_key(cnf: object) -> tuple[dict[str, Any], JosePublicKey]:
    if not isinstance(cnf, dict) or not isinstance(cnf.get("jwk"), dict):
        raise CredentialMalformed()
    try:
        return cnf["jwk"], public_key_from_jwk(cnf["jwk"])
    except InvalidKeyMaterial:
        raise CredentialMalformed() from None


def verify(
    presentation: str,
    *,
    issuer_keys: Mapping[str, JosePublicKey],
    now: int,
    audience: str | None,
    nonce: str | None,
    require_key_binding: bool = True,
    max_kb_age: int = 300,
    skew: int = 30,
    expected_issuer: str | None = None,
    expected_vct: str | None = None,
) -> VerifiedCredential:
    """Verify an SD-JWT VC presentation (RFC 9901 §7.1 and §7.3; SD-JWT VC §3).

    Checks, in order: the shape; the issuer JWT (``typ`` ``dc+sd-jwt`` or ``vc+sd-jwt``, ``alg``
    EdDSA/ES256, a ``kid`` among ``issuer_keys``, the signature); ``iss`` (and
    ``expected_issuer``), ``vct`` (and ``expected_vct``); the disclosures (each referenced
    exactly once, no duplicates, no ``_sd``/``...`` misuse, no disclosure for a plain or a
    never-disclosable claim); ``exp`` (required), ``nbf`` and ``iat`` with ``skew`` seconds of
    leeway; then the key binding: present when ``require_key_binding``, ``typ`` ``kb+jwt``,
    signed by ``cnf.jwk``, ``aud`` = ``audience``, ``nonce`` = ``nonce``, ``iat`` neither older
    than ``max_kb_age`` nor later than ``now + skew``, and ``sd_hash`` over this presentation.

    With ``require_key_binding`` the caller must give ``audience`` and ``nonce`` (a key binding
    not checked against them proves nothing).
    """
    if require_key_binding and (not audience or not nonce):
        raise ValueError("a key-bound presentation is checked against an audience and a nonce")
    parsed = parse(presentation)

    def issuer_key(header: Mapping[str, Any]) -> JosePublicKey:
        kid = header.get("kid")
        if not isinstance(kid, str) or kid not in issuer_keys:
            raise CredentialIssuerUnknown()
        return issuer_keys[kid]

    try:
        header, payload = jws.verify_compact(
            parsed.issuer_jwt,
            key=issuer_key,
            typ=ACCEPTED_TYPS,
            algs=ISSUER_ALGS,
            max_length=MAX_ISSUER_JWT_LENGTH,
        )
    except JwsMalformed:
        raise CredentialMalformed() from None
    except (JwsTypeMismatch, JwsAlgorithmNotAllowed):
        raise CredentialTypeInvalid() from None
    except JwsError:
        raise CredentialSignatureInvalid() from None

    issuer = payload.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise CredentialMalformed()
    if expected_issuer is not None and issuer != expected_issuer:
        raise CredentialIssuerUnknown()
    vct = payload.get("vct")  # SD-JWT VC §3.2.2.1.1: REQUIRED
    if not isinstance(vct, str) or not vct:
        raise CredentialTypeInvalid()
    if expected_vct is not None and vct != expected_vct:
        raise CredentialTypeInvalid()

    plain, disclosed = _resolve(payload, parsed.disclosures)

    # RFC 9901 §7.1 step 6 / RFC 7519 §4.1.4-4.1.6 — sd-jwt 0.10.4 has "TODO: Check exp/nbf/iat".
    exp = _numeric(payload, "exp", required=True)
    nbf = _numeric(payload, "nbf", required=False)
    iat = _numeric(payload, "iat", required=False)
    assert exp is not None
    if now >= exp + skew:
        raise CredentialExpired()
    if (nbf is not None and nbf > now + skew) or (iat is not None and iat > now + skew):
        raise CredentialNotYetValid()
    status = _status_reference(payload)
    jti = payload.get("jti")
    if jti is not None and not isinstance(jti, str):
        raise CredentialMalformed()

    cnf_jwk: dict[str, Any] | None = None
    holder_key: JosePublicKey | None = None
    if "cnf" in payload:
        cnf_jwk, holder_key = _holder_key(payload["cnf"])
    elif require_key_binding:
        raise CredentialMalformed()

    key_bound = False
    if parsed.key_binding_jwt is None:
        if require_key_binding:
            raise KeyBindingMissing()
    else:
        if holder_key is None:
            raise KeyBindingInvalid()
        _verify_key_binding(
            parsed,
            holder_key,
            now=now,
            audience=audience,
            nonce=nonce,
            max_kb_age=max_kb_age,
            skew=skew,
        )
        key_bound = True

    kid = header["kid"]
    return VerifiedCredential(
        issuer=issuer,
        kid=kid,
        vct=vct,
        disclosed=disclosed,
        claims=plain,
        cnf_jwk=cnf_jwk,
        status=status,
        iat=iat,
        exp=exp,
        jti=jti,
        key_bound=key_bound,
        header=header,
    )


def _verify_key_binding(
    parsed: SdJwt,
    holder_key: JosePublicKey,
    *,
    now: int,
    audience: str | None,
    nonce: str | None,
    max_kb_age: int,
    skew: int,
) -> None:
    """RFC 9901 §7.3 step 5: the KB-JWT checks."""
    assert parsed.key_binding_jwt is not None
    try:
        _, kb = jws.verify_compact(
            parsed.key_binding_jwt, key=holder_key, typ=KB_TYP, algs=HOLDER_ALGS
        )
    except JwsError:
        raise KeyBindingInvalid() from None
    iat = kb.get("iat")
    if not jws.is_numeric_date(iat) or not all(
        isinstance(kb.get(name), str) for name in ("aud", "nonce", "sd_hash")
    ):
        raise KeyBindingInvalid()
    if audience is not None and not hmac.compare_digest(kb["aud"].encode(), audience.encode()):
        raise AudienceMismatch()
    if nonce is not None and not hmac.compare_digest(kb["nonce"].encode(), nonce.encode()):
        raise NonceMismatch()
    # §7.3 step 5.d: "the creation time of the Key Binding JWT, as determined by the iat claim,
    # is within an acceptable window" — sd-jwt 0.10.4 does not check it.
    if iat > now + skew or now - iat > max_kb_age:
        raise KeyBindingStale()
    expected = digest(parsed.without_key_binding)
    if not hmac.compare_digest(kb["sd_hash"].encode(), expected.encode()):
        raise SdHashMismatch()
