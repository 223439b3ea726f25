"""Refusals of the credential formats (docs/decisions/0005). Each has a stable ``code``.

The tree: a malformed artefact is :class:`~netid.core.errors.InvalidInput` (400); an artefact
that is well formed but not acceptable (bad signature, expired, wrong audience…) is
:class:`~netid.core.errors.Unauthenticated` (401); a status list or JWKS that cannot be fetched
is :class:`~netid.core.errors.Unavailable` (503). Every class also derives from
:class:`CredentialError`, so a caller can catch the package's refusals in one ``except``.

Messages never echo the token, a claim value or a key: they may be personal data.
"""

from __future__ import annotations

from netid.core.errors import Forbidden, InvalidInput, NetidError, Unauthenticated, Unavailable


class CredentialError(NetidError):
    """Any refusal of :mod:`netid.credentials`."""

    code = "credential_error"
    default_message = "The credential artefact was refused."


# -- compact JWS (RFC 7515) ---------------------------------------------------------------------
class JwsError(CredentialError):
    code = "jws_error"
    default_message = "The signed token was refused."


class JwsMalformed(JwsError, InvalidInput):
    code = "jws_malformed"
    default_message = "The signed token is not a well-formed compact JWS."


class JwsAlgorithmNotAllowed(JwsError, Unauthenticated):
    code = "jws_algorithm_not_allowed"
    default_message = "The signed token uses an algorithm that is not accepted here."


class JwsTypeMismatch(JwsError, Unauthenticated):
    code = "jws_type_mismatch"
    default_message = "The signed token has the wrong type."


class JwsHeaderNotAllowed(JwsError, Unauthenticated):
    code = "jws_header_not_allowed"
    default_message = "The signed token carries a header member that is not accepted."


class JwsSignatureInvalid(JwsError, Unauthenticated):
    code = "jws_signature_invalid"
    default_message = "The signed token's signature does not verify."


# -- network ID ---------------------------------------------------------------------------------
class NetworkIdInvalid(CredentialError, InvalidInput):
    code = "network_id_invalid"
    default_message = "The network ID is not valid."


# -- SD-JWT VC (RFC 9901, draft-ietf-oauth-sd-jwt-vc) ---------------------------------------------
class CredentialMalformed(CredentialError, InvalidInput):
    code = "credential_malformed"
    default_message = "The credential is malformed."


class CredentialTypeInvalid(CredentialError, Unauthenticated):
    code = "credential_type_invalid"
    default_message = "The credential is not of an accepted type."


class CredentialIssuerUnknown(CredentialError, Unauthenticated):
    code = "credential_issuer_unknown"
    default_message = "The credential was not issued by a trusted issuer key."


class CredentialSignatureInvalid(CredentialError, Unauthenticated):
    code = "credential_signature_invalid"
    default_message = "The credential's signature does not verify."


class CredentialExpired(CredentialError, Unauthenticated):
    code = "credential_expired"
    default_message = "The credential has expired."


class CredentialNotYetValid(CredentialError, Unauthenticated):
    code = "credential_not_yet_valid"
    default_message = "The credential is not valid yet."


class DisclosureInvalid(CredentialError, Unauthenticated):
    """A disclosure that is malformed or not allowed where its digest sits (RFC 9901 §7.1)."""

    code = "disclosure_invalid"
    default_message = "A disclosure is not valid."


class DisclosureUnreferenced(CredentialError, Unauthenticated):
    code = "disclosure_unreferenced"
    default_message = "A disclosure is not referenced by the credential."


class DisclosureDuplicate(CredentialError, Unauthenticated):
    code = "disclosure_duplicate"
    default_message = "A disclosure appears more than once."


class DigestDuplicate(CredentialError, Unauthenticated):
    code = "digest_duplicate"
    default_message = "A disclosure digest appears more than once in the credential."


class ClaimNotInCredential(CredentialError, InvalidInput):
    """The holder asked to disclose a claim its credential does not hold."""

    code = "claim_not_in_credential"
    default_message = "The credential holds no such disclosable claim."


class KeyBindingMissing(CredentialError, Unauthenticated):
    code = "key_binding_missing"
    default_message = "The presentation carries no key binding."


class KeyBindingInvalid(CredentialError, Unauthenticated):
    code = "key_binding_invalid"
    default_message = "The presentation's key binding does not verify."


class KeyBindingStale(CredentialError, Unauthenticated):
    code = "key_binding_stale"
    default_message = "The presentation's key binding is too old or from the future."


class AudienceMismatch(CredentialError, Unauthenticated):
    code = "audience_mismatch"
    default_message = "The presentation was made for another audience."


class NonceMismatch(CredentialError, Unauthenticated):
    code = "nonce_mismatch"
    default_message = "The presentation answers another nonce."


class SdHashMismatch(CredentialError, Unauthenticated):
    code = "sd_hash_mismatch"
    default_message = "The key binding does not cover this presentation."


# -- status lists (draft-ietf-oauth-status-list) -------------------------------------------------
class StatusListMalformed(CredentialError, InvalidInput):
    code = "status_list_malformed"
    default_message = "The status list is malformed."


class StatusListInvalid(CredentialError, Unauthenticated):
    """The status list token's signature, subject or validity period is not acceptable."""

    code = "status_list_invalid"
    default_message = "The status list token is not valid."


class StatusListStale(StatusListInvalid):
    """Older than its ``ttl``: a verifier must fetch a fresh one (a lock or revocation since
    would not show in this copy)."""

    code = "status_list_stale"
    default_message = "The status list token is older than its time to live; fetch a fresh one."


class StatusListUnavailable(CredentialError, Unavailable):
    code = "status_list_unavailable"
    default_message = "The status list could not be fetched."


class JwksInvalid(CredentialError, InvalidInput):
    code = "jwks_invalid"
    default_message = "The issuer key set is not a valid JWKS."


class JwksUnavailable(CredentialError, Unavailable):
    code = "jwks_unavailable"
    default_message = "The issuer key set could not be fetched."


class CredentialRevoked(CredentialError, Unauthenticated):
    code = "credential_revoked"
    default_message = "The credential has been revoked."


class CredentialSuspended(CredentialError, Unauthenticated):
    code = "credential_suspended"
    default_message = "The credential is suspended."


class CredentialStatusUnknown(CredentialError, Unauthenticated):
    """A status value other than VALID, INVALID or SUSPENDED: refused (fail closed)."""

    code = "credential_status_unknown"
    default_message = "The credential's status is not known to be valid."


# -- dynamic QR token ---------------------------------------------------------------------------
# An institution posts the QR text with its own valid access token: a bad QR code is a refusal
# of what it shows (403), not of who it is (401, which would also add WWW-Authenticate).
class QrMalformed(CredentialError, InvalidInput):
    code = "qr_malformed"
    default_message = "The QR code is not a valid network-identity QR code."


class QrForged(CredentialError, Forbidden):
    code = "qr_forged"
    default_message = "The QR code's signature does not verify."


class QrExpired(CredentialError, Forbidden):
    code = "qr_expired"
    default_message = "The QR code has expired; show a fresh one."
