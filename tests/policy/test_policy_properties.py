"""Properties of the decision: the empty policy denies everything; the shipped catalogue never
releases more than its rules, and outside government every plaintext claim needs consent."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netid.policy import (
    AGE_MARKERS,
    DENIAL_REASONS,
    PLAINTEXT_CLAIMS,
    VERIFICATION_TYPES,
    IndustryPolicy,
    VerificationAsk,
    decide,
    default_catalogue,
)

CATALOGUE = default_catalogue()
KNOWN_PURPOSES = sorted(CATALOGUE.purposes)
names = st.one_of(st.sampled_from(KNOWN_PURPOSES), st.text(max_size=20))
types = st.one_of(st.sampled_from(VERIFICATION_TYPES), st.text(max_size=12))
claims = st.frozensets(
    st.one_of(st.sampled_from(PLAINTEXT_CLAIMS + AGE_MARKERS), st.text(max_size=12)), max_size=8
)
thresholds = st.one_of(st.none(), st.integers(min_value=-5, max_value=130))
asks = st.builds(
    VerificationAsk,
    purpose=names,
    verification_type=types,
    claims=claims,
    age_threshold=thresholds,
)
industries = st.one_of(st.sampled_from(sorted(CATALOGUE.industries)), st.text(max_size=12))


@given(
    ask=asks,
    registered=st.frozensets(names, max_size=5),
    include=st.booleans(),
    industry=st.text(max_size=20),
)
def test_the_empty_policy_denies_every_ask(
    ask: VerificationAsk, registered: frozenset[str], include: bool, industry: str
) -> None:
    if include:
        registered = registered | {ask.purpose}
    decision = decide(IndustryPolicy.empty(industry, "x"), ask, registered_purposes=registered)
    assert not decision.allowed
    assert decision.reason in DENIAL_REASONS
    assert decision.consent_required == frozenset()
    assert decision.reveal_mismatch_reason is False


@given(industry=st.text(max_size=20).filter(lambda s: s not in CATALOGUE.industries), ask=asks)
def test_an_unknown_industry_allows_nothing(industry: str, ask: VerificationAsk) -> None:
    policy = CATALOGUE.policy(industry)
    assert policy.is_empty
    assert not decide(policy, ask, registered_purposes=frozenset({ask.purpose})).allowed


@given(industry=industries, ask=asks)
def test_an_allowed_ask_stays_inside_its_rule(industry: str, ask: VerificationAsk) -> None:
    policy = CATALOGUE.policy(industry)
    decision = decide(policy, ask, registered_purposes=frozenset({ask.purpose}))
    if not decision.allowed:
        assert decision.reason in DENIAL_REASONS
        return
    rule = policy.rule(ask.purpose)
    assert rule is not None
    assert ask.verification_type in rule.verification_types
    assert ask.claims <= rule.claims | rule.age_markers
    assert decision.consent_required <= ask.claims
    assert decision.denied_claims == frozenset()
    if ask.verification_type == "age_over":
        assert ask.age_threshold in rule.age_thresholds
        assert "birth_date" not in ask.claims
    else:
        assert ask.age_threshold is None
    if industry != "government":
        # PIPL Art. 29: plaintext identity leaves only with separate consent
        assert ask.claims & set(PLAINTEXT_CLAIMS) <= decision.consent_required
        assert decision.reveal_mismatch_reason is False


@given(industry=industries, ask=asks, data=st.data())
def test_asking_for_less_never_turns_allowed_into_denied(
    industry: str, ask: VerificationAsk, data: st.DataObject
) -> None:
    policy = CATALOGUE.policy(industry)
    registered = frozenset({ask.purpose})
    if not decide(policy, ask, registered_purposes=registered).allowed:
        return
    fewer = (
        data.draw(st.frozensets(st.sampled_from(sorted(ask.claims)))) if ask.claims else ask.claims
    )
    smaller = VerificationAsk(ask.purpose, ask.verification_type, fewer, ask.age_threshold)
    assert decide(policy, smaller, registered_purposes=registered).allowed


@given(industry=industries, ask=asks)
def test_an_unregistered_purpose_is_always_refused_as_such(
    industry: str, ask: VerificationAsk
) -> None:
    decision = decide(
        CATALOGUE.policy(industry),
        ask,
        registered_purposes=frozenset(KNOWN_PURPOSES) - {ask.purpose},
    )
    assert not decision.allowed
    assert decision.reason == "purpose_not_registered"


@given(data=st.data())
def test_every_ask_inside_a_rule_is_allowed(data: st.DataObject) -> None:
    industry = data.draw(st.sampled_from(sorted(CATALOGUE.industries)))
    policy = CATALOGUE.policy(industry)
    purpose = data.draw(st.sampled_from(sorted(policy.purposes)))
    rule = policy.purposes[purpose]
    kind = data.draw(st.sampled_from(sorted(rule.verification_types)))
    releasable = rule.claims | rule.age_markers
    if kind == "age_over":
        releasable -= {"birth_date"}
    asked = (
        data.draw(st.frozensets(st.sampled_from(sorted(releasable)))) if releasable else frozenset()
    )
    threshold = (
        data.draw(st.sampled_from(sorted(rule.age_thresholds))) if kind == "age_over" else None
    )
    ask = VerificationAsk(purpose, kind, asked, threshold)
    decision = decide(policy, ask, registered_purposes=frozenset({purpose}))
    assert decision.allowed, (industry, ask)
    assert decision.consent_required == asked & rule.consent_required
    assert decision.reveal_mismatch_reason is rule.reveal_mismatch_reason
    # one claim outside the rule turns it into a denial naming exactly that claim
    outside = sorted(set(PLAINTEXT_CLAIMS + AGE_MARKERS) - releasable)
    if outside:
        extra = data.draw(st.sampled_from(outside))
        denied = decide(
            policy,
            VerificationAsk(purpose, kind, asked | {extra}, threshold),
            registered_purposes=frozenset({purpose}),
        )
        assert (denied.allowed, denied.reason, denied.denied_claims) == (
            False,
            "claim_not_allowed",
            frozenset({extra}),
        )
