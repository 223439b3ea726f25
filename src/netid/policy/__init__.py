"""netid.policy: the industry-policy catalogue (who may ask for what, for which purpose), the one
pure policy decision, and the price plans (issue 3 §3, §5; DESIGN.md "Minimum disclosure").

Pure: no storage, no clock; the only I/O is reading the catalogue file (``load_catalogue``).
"""

from netid.policy.errors import (
    CatalogueInvalid,
    PolicyDenied,
    PurposeNotRegistered,
    UnknownPricePlan,
    UnknownVerificationType,
)
from netid.policy.schemas import (
    AGE_MARKERS,
    DENIAL_REASONS,
    PLAINTEXT_CLAIMS,
    VERIFICATION_TYPES,
    Catalogue,
    Decision,
    IndustryInfo,
    IndustryPolicy,
    PricePlan,
    PurposeInfo,
    PurposeRule,
    VerificationAsk,
)
from netid.policy.service import (
    decide,
    default_catalogue,
    load_catalogue,
    parse_catalogue,
    raise_if_denied,
)

__all__ = [
    "AGE_MARKERS",
    "DENIAL_REASONS",
    "PLAINTEXT_CLAIMS",
    "VERIFICATION_TYPES",
    "Catalogue",
    "CatalogueInvalid",
    "Decision",
    "IndustryInfo",
    "IndustryPolicy",
    "PolicyDenied",
    "PricePlan",
    "PurposeInfo",
    "PurposeNotRegistered",
    "PurposeRule",
    "UnknownPricePlan",
    "UnknownVerificationType",
    "VerificationAsk",
    "decide",
    "default_catalogue",
    "load_catalogue",
    "parse_catalogue",
    "raise_if_denied",
]
