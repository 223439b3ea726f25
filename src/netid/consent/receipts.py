"""A consent record as a Kantara Initiative Consent Receipt v1.1 (``KI-CR-v1.1.0``).

Pure: the caller supplies what the consent row does not hold (the person's identifier shown to
them, the institution as PII controller, the purpose's label). Field names and nesting follow
the Kantara Consent Receipt Specification v1.1 (reference/standards.md §7): top level
``version … spiCat``, ``piiControllers[]``, ``services[].purposes[]``. Timestamps are seconds
since the epoch, as the specification's ``consentTimestamp`` is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netid.consent.schemas import ConsentView

KANTARA_VERSION = "KI-CR-v1.1.0"
JURISDICTION = "CN"

# PIPL art. 28: sensitive personal information includes biometrics and, by the national
# standard GB/T 35273-2020 Annex B, identity document numbers; art. 29 asks separate consent.
SENSITIVE_CLAIMS = frozenset({"document_number", "face"})

COLLECTION_METHODS = {
    "counter": "At a service counter, from the person's signed consent form",
    "wallet": "In the netid wallet, approved by the person (or their guardian)",
    "portal": "In the netid citizen portal, approved by the person",
}


@dataclass(frozen=True)
class PiiController:
    """The institution that receives the claims. Its staff contacts are personal data the
    platform keeps sealed, so the receipt names the institution and where it is."""

    name: str
    code: str | None
    address: str
    url: str | None = None


def is_sensitive(claim: str) -> bool:
    return claim in SENSITIVE_CLAIMS


def kantara_receipt(
    consent: ConsentView,
    *,
    principal_id: str,
    controller: PiiController,
    policy_url: str,
    purpose_label: str | None = None,
    language: str = "zh-CN",
) -> dict[str, Any]:
    """The consent as a KI-CR-v1.1.0 receipt. ``principal_id`` is the identifier the person
    knows themselves by here (their network ID), never a registry id."""
    claims = sorted(consent.claims)
    sensitive = [c for c in claims if is_sensitive(c)]
    party: dict[str, Any] = {
        "piiController": controller.name,
        "onBehalf": False,
        "contact": f"{controller.name} ({controller.code})" if controller.code else controller.name,
        "address": controller.address,
        "email": "",
        "phone": "",
    }
    if controller.url:
        party["piiControllerUrl"] = controller.url
    termination = (
        f"Ends at {consent.expires_at.isoformat()}, or earlier when the person revokes it; "
        "a revocation applies from the next request."
    )
    if consent.revoked_at is not None:
        termination += f" Revoked at {consent.revoked_at.isoformat()}."
    return {
        "version": KANTARA_VERSION,
        "jurisdiction": JURISDICTION,
        "consentTimestamp": int(consent.granted_at.timestamp()),
        "collectionMethod": COLLECTION_METHODS.get(consent.channel, consent.channel),
        "consentReceiptID": consent.id,
        "language": language,
        "piiPrincipalId": principal_id,
        "piiControllers": [party],
        "policyUrl": policy_url,
        "services": [
            {
                "service": consent.purpose,
                "purposes": [
                    {
                        "purpose": purpose_label or consent.purpose,
                        "purposeCategory": [consent.purpose],
                        # PIPL art. 14 / 29: separate, explicit consent.
                        "consentType": "EXPLICIT",
                        "piiCategory": claims,
                        "primaryPurpose": True,
                        "termination": termination,
                        "thirdPartyDisclosure": False,
                    }
                ],
            }
        ],
        "sensitive": bool(sensitive),
        "spiCat": sensitive,
    }
