"""Loading the policy catalogue, and THE policy decision (issue 3 §3).

:func:`decide` is one pure function: no I/O, no clock, no exceptions for any ask. It fails
closed: an empty policy, an unknown purpose, type or claim all mean "denied".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from netid.core.datafile import read_data_file, strict_json
from netid.policy.errors import CatalogueInvalid, PolicyDenied, PurposeNotRegistered
from netid.policy.schemas import (
    AGE_MARKERS,
    CLAIM_NOT_ALLOWED,
    GOVERNMENT_INDUSTRY,
    PLAINTEXT_CLAIMS,
    PURPOSE_NOT_ALLOWED,
    PURPOSE_NOT_REGISTERED,
    THRESHOLD_NOT_ALLOWED,
    TYPE_NOT_ALLOWED,
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

DEFAULT_CATALOGUE = "data/catalogue.v1.json"
# The price plan that the issue makes free ("free for government", issue 3 §5).
FREE_PLAN = "government"
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
# age_over thresholds: whole years, as ISO/IEC 18013-5 age_over_NN (NN = 00..99).
_MIN_THRESHOLD, _MAX_THRESHOLD = 1, 99


# -- the decision ----------------------------------------------------------------------------
def _deny(reason: str, denied_claims: frozenset[str] = frozenset()) -> Decision:
    return Decision(allowed=False, reason=reason, denied_claims=denied_claims)


def decide(
    policy: IndustryPolicy, ask: VerificationAsk, *, registered_purposes: frozenset[str]
) -> Decision:
    """May an institution under ``policy``, which registered ``registered_purposes`` at
    application, make this ``ask``? The first failed check gives the reason, in this order:
    purpose registered, purpose in policy, type, threshold, claims."""
    if ask.purpose not in registered_purposes:
        return _deny(PURPOSE_NOT_REGISTERED)
    rule = policy.rule(ask.purpose)
    if rule is None:
        return _deny(PURPOSE_NOT_ALLOWED)
    if ask.verification_type not in rule.verification_types:
        return _deny(TYPE_NOT_ALLOWED)
    if ask.verification_type == "age_over":
        # bool is an int in Python; a JSON `true` must not pass as threshold 1.
        threshold = ask.age_threshold
        if threshold is None or isinstance(threshold, bool) or threshold not in rule.age_thresholds:
            return _deny(THRESHOLD_NOT_ALLOWED)
    elif ask.age_threshold is not None:
        return _deny(THRESHOLD_NOT_ALLOWED)  # a threshold belongs to age_over only
    denied = frozenset(ask.claims - rule.releasable)
    if ask.verification_type == "age_over" and "birth_date" in ask.claims:
        # age_over answers yes/no only; the birth date never leaves with it (issue 3 §4).
        denied |= {"birth_date"}
    if denied:
        return _deny(CLAIM_NOT_ALLOWED, denied)
    return Decision(
        allowed=True,
        reason=None,
        consent_required=frozenset(ask.claims & rule.consent_required),
        reveal_mismatch_reason=rule.reveal_mismatch_reason,
    )


def raise_if_denied(decision: Decision) -> None:
    """The public error for a denied decision: ``purpose_not_registered`` (issue 3 §7) or
    ``policy_denied`` with the reason (§3)."""
    if decision.allowed:
        return
    if decision.reason == PURPOSE_NOT_REGISTERED:
        raise PurposeNotRegistered()
    raise PolicyDenied(decision.reason or PURPOSE_NOT_ALLOWED, denied_claims=decision.denied_claims)


# -- loading ---------------------------------------------------------------------------------
def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and strictly validate a catalogue file; ``None`` = the one shipped in the package.
    Anything unexpected raises :class:`CatalogueInvalid` naming the place in the document."""
    text = read_data_file(
        path,
        package="netid.policy",
        default=DEFAULT_CATALOGUE,
        what="policy catalogue file",
        error=CatalogueInvalid,
    )
    return parse_catalogue(text)


@functools.cache
def default_catalogue() -> Catalogue:
    """The shipped catalogue, loaded once per process."""
    return load_catalogue(None)


def parse_catalogue(text: str) -> Catalogue:
    return _Parser().catalogue(strict_json(text, error=CatalogueInvalid))


class _Parser:
    """Validation with the JSON path of every problem."""

    # -- primitives ---------------------------------------------------------------------------
    @staticmethod
    def _object(
        value: Any, path: str, *, required: Iterable[str], optional: Iterable[str] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise CatalogueInvalid("must be an object", path=path)
        required = tuple(required)
        allowed = set(required) | set(optional)
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise CatalogueInvalid(f"unknown key(s) {unknown}", path=path)
        missing = [key for key in required if key not in value]
        if missing:
            raise CatalogueInvalid(f"missing key(s) {missing}", path=path)
        return value

    @staticmethod
    def _mapping(value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise CatalogueInvalid("must be an object", path=path)
        for key in value:
            if not _CODE.match(key):
                raise CatalogueInvalid(
                    f"key {key[:48]!r} is not a code (lower case, digits, _)", path=path
                )
        return value

    @staticmethod
    def _text(value: Any, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise CatalogueInvalid("must be a non-empty string", path=path)
        return value

    @staticmethod
    def _int(value: Any, path: str, *, low: int, high: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise CatalogueInvalid("must be an integer", path=path)
        if value < low or (high is not None and value > high):
            bound = f"{low}..{high}" if high is not None else f">= {low}"
            raise CatalogueInvalid(f"must be {bound}", path=path)
        return value

    @staticmethod
    def _names(value: Any, path: str, allowed: Iterable[str], what: str) -> frozenset[str]:
        if not isinstance(value, list):
            raise CatalogueInvalid("must be a list", path=path)
        allowed = frozenset(allowed)
        for item in value:
            if not isinstance(item, str):
                raise CatalogueInvalid(f"every {what} must be a string", path=path)
            if item not in allowed:
                raise CatalogueInvalid(f"unknown {what} {item[:48]!r}", path=path)
        if len(set(value)) != len(value):
            raise CatalogueInvalid(f"a {what} is listed twice", path=path)
        return frozenset(value)

    # -- parts --------------------------------------------------------------------------------
    def catalogue(self, raw: Any) -> Catalogue:
        top = self._object(
            raw,
            "",
            required=("version", "purposes", "industries", "price_plans", "defaults"),
            optional=("description",),
        )
        version = self._text(top["version"], "version")
        if "description" in top:
            self._text(top["description"], "description")
        purposes = self.purposes(top["purposes"])
        industries, info = self.industries(top["industries"], version, purposes)
        plans = self.price_plans(top["price_plans"])
        default_quotas, industry_quotas = self.defaults(top["defaults"], industries)
        return Catalogue(
            version=version,
            purposes=MappingProxyType(purposes),
            industries=MappingProxyType(industries),
            price_plans=MappingProxyType(plans),
            default_quotas=MappingProxyType(default_quotas),
            industry_quotas=MappingProxyType(industry_quotas),
            industry_info=MappingProxyType(info),
        )

    def purposes(self, raw: Any) -> dict[str, PurposeInfo]:
        out: dict[str, PurposeInfo] = {}
        for code, value in self._mapping(raw, "purposes").items():
            path = f"purposes.{code}"
            entry = self._object(value, path, required=("zh", "en"))
            out[code] = PurposeInfo(
                code=code,
                zh=self._text(entry["zh"], f"{path}.zh"),
                en=self._text(entry["en"], f"{path}.en"),
            )
        if not out:
            raise CatalogueInvalid("the purpose catalogue is empty", path="purposes")
        return out

    def industries(
        self, raw: Any, version: str, purposes: Mapping[str, PurposeInfo]
    ) -> tuple[dict[str, IndustryPolicy], dict[str, IndustryInfo]]:
        policies: dict[str, IndustryPolicy] = {}
        infos: dict[str, IndustryInfo] = {}
        for code, value in self._mapping(raw, "industries").items():
            path = f"industries.{code}"
            entry = self._object(value, path, required=("zh", "en", "purposes"))
            infos[code] = IndustryInfo(
                code=code,
                zh=self._text(entry["zh"], f"{path}.zh"),
                en=self._text(entry["en"], f"{path}.en"),
            )
            rules: dict[str, PurposeRule] = {}
            for purpose, rule in self._mapping(entry["purposes"], f"{path}.purposes").items():
                rule_path = f"{path}.purposes.{purpose}"
                if purpose not in purposes:
                    raise CatalogueInvalid("not in the purpose catalogue", path=rule_path)
                rules[purpose] = self.rule(code, purpose, rule, rule_path)
            policies[code] = IndustryPolicy(
                industry=code, version=version, purposes=MappingProxyType(rules)
            )
        return policies, infos

    def rule(self, industry: str, purpose: str, raw: Any, path: str) -> PurposeRule:
        entry = self._object(
            raw,
            path,
            required=(
                "verification_types",
                "claims",
                "age_markers",
                "age_thresholds",
                "consent_required",
                "basis",
            ),
            optional=("reveal_mismatch_reason", "consent_exemption"),
        )
        types = self._names(
            entry["verification_types"],
            f"{path}.verification_types",
            VERIFICATION_TYPES,
            "verification type",
        )
        if not types:
            raise CatalogueInvalid("a rule must allow at least one type", path=path)
        claims = self._names(entry["claims"], f"{path}.claims", PLAINTEXT_CLAIMS, "claim")
        markers = self._names(
            entry["age_markers"], f"{path}.age_markers", AGE_MARKERS, "age marker"
        )
        thresholds_raw = entry["age_thresholds"]
        if not isinstance(thresholds_raw, list):
            raise CatalogueInvalid("must be a list", path=f"{path}.age_thresholds")
        thresholds = [
            self._int(t, f"{path}.age_thresholds", low=_MIN_THRESHOLD, high=_MAX_THRESHOLD)
            for t in thresholds_raw
        ]
        if len(set(thresholds)) != len(thresholds):
            raise CatalogueInvalid("a threshold is listed twice", path=f"{path}.age_thresholds")
        if ("age_over" in types) != bool(thresholds):
            raise CatalogueInvalid(
                "age_thresholds must be given exactly when age_over is allowed", path=path
            )
        consent = self._names(
            entry["consent_required"],
            f"{path}.consent_required",
            PLAINTEXT_CLAIMS + AGE_MARKERS,
            "claim",
        )
        stray = consent - claims - markers
        if stray:
            raise CatalogueInvalid(
                f"consent_required names claim(s) the rule does not allow: {sorted(stray)}",
                path=f"{path}.consent_required",
            )
        basis = self._text(entry["basis"], f"{path}.basis")
        exempt = claims - consent
        if exempt:
            # Plaintext identity needs separate consent (PIPL Art. 23, 29) unless a law
            # mandates the processing (Art. 13(3)); only government may claim that here.
            if industry != GOVERNMENT_INDUSTRY:
                raise CatalogueInvalid(
                    f"plaintext claim(s) {sorted(exempt)} need separate consent outside government",
                    path=f"{path}.consent_required",
                )
            if (
                not isinstance(entry.get("consent_exemption"), str)
                or not entry["consent_exemption"].strip()
            ):
                raise CatalogueInvalid(
                    "claims without consent need a consent_exemption naming the law", path=path
                )
        elif "consent_exemption" in entry:
            raise CatalogueInvalid("consent_exemption without an exempt claim", path=path)
        reveal = entry.get("reveal_mismatch_reason", False)
        if not isinstance(reveal, bool):
            raise CatalogueInvalid("must be true or false", path=f"{path}.reveal_mismatch_reason")
        if reveal and industry != GOVERNMENT_INDUSTRY:
            raise CatalogueInvalid(
                "only the government industry may receive mismatch reasons",
                path=f"{path}.reveal_mismatch_reason",
            )
        return PurposeRule(
            purpose=purpose,
            verification_types=types,
            claims=claims,
            age_markers=markers,
            age_thresholds=frozenset(thresholds),
            consent_required=consent,
            reveal_mismatch_reason=reveal,
            basis=basis,
            consent_exemption=str(entry.get("consent_exemption", "")),
        )

    def _prices(self, raw: Any, path: str, *, complete: bool) -> dict[str, int]:
        entry = self._object(
            raw, path, required=VERIFICATION_TYPES if complete else (), optional=VERIFICATION_TYPES
        )
        return {kind: self._int(entry[kind], f"{path}.{kind}", low=0) for kind in entry}

    def price_plans(self, raw: Any) -> dict[str, PricePlan]:
        out: dict[str, PricePlan] = {}
        for name, value in self._mapping(raw, "price_plans").items():
            prices = self._prices(value, f"price_plans.{name}", complete=True)
            out[name] = PricePlan(name=name, prices_fen=MappingProxyType(prices))
        free = out.get(FREE_PLAN)
        if free is None:
            raise CatalogueInvalid(f"the {FREE_PLAN!r} plan is missing", path="price_plans")
        if any(free.prices_fen.values()):
            raise CatalogueInvalid("must be free (issue 3 §5)", path=f"price_plans.{FREE_PLAN}")
        return out

    def defaults(
        self, raw: Any, industries: Mapping[str, IndustryPolicy]
    ) -> tuple[dict[str, int], dict[str, Mapping[str, int]]]:
        entry = self._object(raw, "defaults", required=("monthly_quotas",))
        quotas = self._object(
            entry["monthly_quotas"],
            "defaults.monthly_quotas",
            required=("default",),
            optional=("industries",),
        )
        default = self._prices(quotas["default"], "defaults.monthly_quotas.default", complete=True)
        by_industry: dict[str, Mapping[str, int]] = {}
        path = "defaults.monthly_quotas.industries"
        for code, value in self._mapping(quotas.get("industries", {}), path).items():
            if code not in industries:
                raise CatalogueInvalid("unknown industry", path=f"{path}.{code}")
            by_industry[code] = MappingProxyType(
                self._prices(value, f"{path}.{code}", complete=False)
            )
        return default, by_industry
