"""Value types of the industry-policy catalogue and of one policy decision (DESIGN.md "Minimum
disclosure"; issue 3 §3). Everything here is immutable and pure.

A verification *type* is what the platform checks (``id2`` … ``netid_qr``). A *claim* is
something that may leave the platform with the answer: a plaintext identity field
(``PLAINTEXT_CLAIMS``) or an age marker (``AGE_MARKERS``, ISO/IEC 18013-5 ``age_over_NN``
semantics: a yes/no, never the birth date).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from netid.policy.errors import UnknownPricePlan, UnknownVerificationType

VERIFICATION_TYPES: tuple[str, ...] = (
    "id2",
    "id3_phone",
    "age_over",
    "face",
    "status",
    "netid_qr",
    "oidc",
)
PLAINTEXT_CLAIMS: tuple[str, ...] = (
    "name",
    "document_type",
    "document_number",
    "birth_date",
    "sex",
    "nationality",
)
AGE_MARKERS: tuple[str, ...] = ("age_over_14", "age_over_16", "age_over_18", "age_over_60")
# The only industry whose rules may reveal why a verification did not match, and may release a
# plaintext claim without separate consent when a law mandates the processing (PIPL Art. 13(3):
# 为履行法定职责或者法定义务所必需). Every other industry needs separate consent (PIPL Art. 23,
# Art. 29: identity document numbers are sensitive personal information, Art. 28).
GOVERNMENT_INDUSTRY = "government"

# Stable reasons of a denial (``Decision.reason``).
PURPOSE_NOT_REGISTERED = "purpose_not_registered"
PURPOSE_NOT_ALLOWED = "purpose_not_allowed"
TYPE_NOT_ALLOWED = "type_not_allowed"
CLAIM_NOT_ALLOWED = "claim_not_allowed"
THRESHOLD_NOT_ALLOWED = "threshold_not_allowed"
DENIAL_REASONS: tuple[str, ...] = (
    PURPOSE_NOT_REGISTERED,
    PURPOSE_NOT_ALLOWED,
    TYPE_NOT_ALLOWED,
    CLAIM_NOT_ALLOWED,
    THRESHOLD_NOT_ALLOWED,
)

_EMPTY: Mapping[str, PurposeRule] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PurposeInfo:
    code: str
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class IndustryInfo:
    code: str
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class PurposeRule:
    """What one industry may ask for one purpose."""

    purpose: str
    verification_types: frozenset[str]
    claims: frozenset[str]  # plaintext claims that may leave
    age_markers: frozenset[str]  # age markers that may leave
    age_thresholds: frozenset[int]  # thresholds allowed for the ``age_over`` type
    consent_required: frozenset[str]  # claims released only with the person's separate consent
    reveal_mismatch_reason: bool = False
    basis: str = ""  # the law or rule that makes this necessary (for the reader, not the code)
    consent_exemption: str = ""  # the law that mandates release without consent (government)

    @property
    def releasable(self) -> frozenset[str]:
        return self.claims | self.age_markers


@dataclass(frozen=True, slots=True)
class IndustryPolicy:
    industry: str
    version: str
    purposes: Mapping[str, PurposeRule] = field(default_factory=lambda: _EMPTY)

    @classmethod
    def empty(cls, industry: str, version: str) -> IndustryPolicy:
        """The policy that allows nothing (fail closed)."""
        return cls(industry=industry, version=version, purposes=_EMPTY)

    @property
    def is_empty(self) -> bool:
        return not self.purposes

    def rule(self, purpose: str) -> PurposeRule | None:
        return self.purposes.get(purpose)


@dataclass(frozen=True, slots=True)
class PricePlan:
    name: str
    prices_fen: Mapping[str, int]  # verification type -> price per query in fen (0.01 CNY)


@dataclass(frozen=True, slots=True)
class Catalogue:
    version: str
    purposes: Mapping[str, PurposeInfo]
    industries: Mapping[str, IndustryPolicy]
    price_plans: Mapping[str, PricePlan]
    default_quotas: Mapping[str, int]  # verification type -> monthly quota, every industry
    industry_quotas: Mapping[str, Mapping[str, int]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    industry_info: Mapping[str, IndustryInfo] = field(default_factory=lambda: MappingProxyType({}))

    def policy(self, industry: str) -> IndustryPolicy:
        """The industry's policy; an unknown industry gets the empty policy (allows nothing)."""
        found = self.industries.get(industry)
        if found is None:
            return IndustryPolicy.empty(industry, self.version)
        return found

    def is_purpose(self, code: str) -> bool:
        return code in self.purposes

    def is_industry(self, code: str) -> bool:
        return code in self.industries

    def is_price_plan(self, name: str) -> bool:
        return name in self.price_plans

    def price_fen(self, plan: str, verification_type: str) -> int:
        """The price of one query. An unknown plan or type raises; nothing is silently free."""
        found = self.price_plans.get(plan)
        if found is None:
            raise UnknownPricePlan(plan)
        price = found.prices_fen.get(verification_type)
        if price is None:
            raise UnknownVerificationType(verification_type)
        return price

    def quotas_for(self, industry: str) -> dict[str, int]:
        """Monthly quota per verification type for a newly approved institution: the default,
        overridden per industry, and 0 for every type the industry's policy never allows (so an
        unknown industry gets 0 everywhere)."""
        policy = self.policy(industry)
        allowed: set[str] = set()
        for rule in policy.purposes.values():
            allowed |= rule.verification_types
        overrides = self.industry_quotas.get(industry, {})
        return {
            kind: (overrides.get(kind, self.default_quotas.get(kind, 0)) if kind in allowed else 0)
            for kind in VERIFICATION_TYPES
        }


@dataclass(frozen=True, slots=True)
class VerificationAsk:
    """What an institution asks for in one verification."""

    purpose: str
    verification_type: str
    claims: frozenset[str] = frozenset()
    age_threshold: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str | None  # one of DENIAL_REASONS when denied; None when allowed
    denied_claims: frozenset[str] = frozenset()
    consent_required: frozenset[str] = frozenset()  # asked claims that need separate consent
    reveal_mismatch_reason: bool = False
