"""The rules file: the shipped one loads, overrides merge, anything unexpected is refused with
its JSON path; business hours against known answers (tests/monitoring/vectors)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from netid.monitoring.errors import RulesInvalid
from netid.monitoring.rules import default_rules, load_rules, parse_business_hours, parse_rules
from netid.policy.service import default_catalogue
from tests.monitoring.support import QUIET

VECTORS = Path(__file__).parent / "vectors"


def test_the_shipped_rules_load_and_know_only_catalogue_industries() -> None:
    industries = default_catalogue().industries
    rules = load_rules(None, industries=industries)
    assert rules.version == default_rules().version
    assert set(rules.industries) <= set(industries)
    for industry in industries:  # every industry gets every rule, freezing ones included
        effective = rules.for_industry(industry)
        assert effective.distinct_people.enabled
        assert effective.distinct_people.action == "freeze"
        assert effective.mismatch_ratio.action == "freeze"
        assert effective.watch_list.enabled


def test_overrides_change_only_what_they_name() -> None:
    rules = default_rules()
    hr = rules.for_industry("recruitment_hr")
    assert hr.distinct_people.max_distinct == 100
    assert hr.distinct_people.window_minutes == rules.defaults.distinct_people.window_minutes
    assert hr.off_hours_burst.action == "freeze"
    assert hr.mismatch_ratio == rules.defaults.mismatch_ratio
    assert rules.for_industry("hotel_lodging").business_hours.end_minute == 24 * 60
    assert rules.for_industry("no_such_industry") == rules.defaults


@pytest.mark.parametrize("case", json.loads((VECTORS / "business_hours.json").read_text())["cases"])
def test_business_hours_known_answers(case: dict[str, Any]) -> None:
    hours = parse_business_hours(case["hours"])
    at = dt.datetime.fromisoformat(case["at"].replace("Z", "+00:00"))
    assert hours.contains(at) is case["inside"], case["why"]
    assert parse_business_hours(hours.to_json()) == hours


def _broken(change: str) -> dict[str, Any]:
    doc = copy.deepcopy(QUIET)
    rules = doc["defaults"]["rules"]
    hours = doc["defaults"]["business_hours"]
    if change == "unknown top key":
        doc["extra"] = 1
    elif change == "missing rule":
        del rules["watch_list"]
    elif change == "missing field":
        del rules["distinct_people"]["window_minutes"]
    elif change == "unknown field":
        rules["distinct_people"]["max_people"] = 3
    elif change == "bool as int":
        rules["distinct_people"]["max_distinct"] = True
    elif change == "zero limit":
        rules["off_hours_burst"]["burst"] = 0
    elif change == "ratio one":
        rules["mismatch_ratio"]["max_ratio"] = 1
    elif change == "ratio text":
        rules["mismatch_ratio"]["max_ratio"] = "0.5"
    elif change == "window too long":
        rules["mismatch_ratio"]["window_minutes"] = 7 * 24 * 60 + 1
    elif change == "bad action":
        rules["watch_list"]["action"] = "block"
    elif change == "enabled text":
        rules["watch_list"]["enabled"] = "yes"
    elif change == "bad weekday":
        hours["days"] = ["monday"]
    elif change == "repeated weekday":
        hours["days"] = ["mon", "mon"]
    elif change == "bad time":
        hours["start"] = "7:00"
    elif change == "overnight":
        hours.update(start="22:00", end="06:00")
    elif change == "unknown industry":
        doc["industries"] = {"piracy": {}}
    elif change == "industry unknown key":
        doc["industries"] = {"telecom": {"limits": {}}}
    elif change == "industry bad field":
        doc["industries"] = {"telecom": {"rules": {"distinct_people": {"max_distinct": -1}}}}
    return doc


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ("unknown top key", ""),
        ("missing rule", "defaults.rules"),
        ("missing field", "defaults.rules.distinct_people"),
        ("unknown field", "defaults.rules.distinct_people"),
        ("bool as int", "defaults.rules.distinct_people.max_distinct"),
        ("zero limit", "defaults.rules.off_hours_burst.burst"),
        ("ratio one", "defaults.rules.mismatch_ratio.max_ratio"),
        ("ratio text", "defaults.rules.mismatch_ratio.max_ratio"),
        ("window too long", "defaults.rules.mismatch_ratio.window_minutes"),
        ("bad action", "defaults.rules.watch_list.action"),
        ("enabled text", "defaults.rules.watch_list.enabled"),
        ("bad weekday", "defaults.business_hours.days"),
        ("repeated weekday", "defaults.business_hours.days"),
        ("bad time", "defaults.business_hours.start"),
        ("overnight", "defaults.business_hours"),
        ("unknown industry", "industries.piracy"),
        ("industry unknown key", "industries.telecom"),
        ("industry bad field", "industries.telecom.rules.distinct_people.max_distinct"),
    ],
)
def test_broken_rules_are_refused_with_their_path(change: str, path: str) -> None:
    text = json.dumps(_broken(change))
    with pytest.raises(RulesInvalid) as caught:
        parse_rules(text, industries=default_catalogue().industries)
    assert caught.value.path == path
    assert caught.value.code == "monitoring_rules_invalid"


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"version": "1", "version": "2", "defaults": {}}',
        json.dumps(QUIET).replace('"max_ratio": 0.5', '"max_ratio": NaN'),
        "[]",
    ],
)
def test_not_a_rules_document(text: str) -> None:
    with pytest.raises(RulesInvalid):
        parse_rules(text)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesInvalid, match="does not exist"):
        load_rules(tmp_path / "nope.json")


def test_the_quiet_test_rules_are_valid() -> None:
    rules = parse_rules(json.dumps(QUIET))
    assert not rules.defaults.distinct_people.enabled
