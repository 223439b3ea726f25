"""Loading the monitoring rules: a versioned JSON file of defaults and per-industry overrides,
validated as strictly as the policy catalogue (unknown keys, wrong types, out-of-range values
and duplicate keys are refused with the JSON path of the problem)."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from netid.core.datafile import read_data_file, strict_json
from netid.monitoring.errors import RulesInvalid
from netid.monitoring.schemas import (
    DISTINCT_PEOPLE,
    MISMATCH_RATIO,
    OFF_HOURS_BURST,
    WATCH_LIST,
    WEEKDAYS,
    Action,
    BusinessHours,
    DistinctPeopleRule,
    IndustryRules,
    MismatchRatioRule,
    OffHoursBurstRule,
    RuleSet,
    WatchListRule,
)

DEFAULT_RULES = "data/rules.v1.json"
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")
MAX_WINDOW_MINUTES = 7 * 24 * 60  # a week: counters are hot state, not history
MAX_COUNT = 1_000_000
_ACTIONS: tuple[str, ...] = ("alert", "freeze")

# The fields of each rule besides ``enabled`` and ``action``.
_RULE_FIELDS: dict[str, tuple[str, ...]] = {
    DISTINCT_PEOPLE: ("max_distinct", "window_minutes"),
    OFF_HOURS_BURST: ("burst", "window_minutes"),
    MISMATCH_RATIO: ("max_ratio", "last_queries", "window_minutes"),
    WATCH_LIST: (),
}


def load_rules(path: Path | None = None, *, industries: Collection[str] | None = None) -> RuleSet:
    """Read and validate a rules file; ``None`` = the one shipped in the package. With
    ``industries`` (the policy catalogue's), an override for an unknown industry is refused."""
    text = read_data_file(
        path,
        package="netid.monitoring",
        default=DEFAULT_RULES,
        what="monitoring rules file",
        error=RulesInvalid,
    )
    return parse_rules(text, industries=industries)


@functools.cache
def default_rules() -> RuleSet:
    return load_rules(None)


def parse_rules(text: str, *, industries: Collection[str] | None = None) -> RuleSet:
    return _Parser(industries).rule_set(strict_json(text, error=RulesInvalid))


def parse_business_hours(raw: Any, path: str = "business_hours") -> BusinessHours:
    """``{"days": ["mon", …], "start": "HH:MM", "end": "HH:MM"}`` (end may be 24:00)."""
    return _Parser(None).hours(raw, path)


class _Parser:
    def __init__(self, industries: Collection[str] | None) -> None:
        self._industries = industries

    # -- primitives ---------------------------------------------------------------------------
    @staticmethod
    def _object(
        value: Any, path: str, *, required: Iterable[str], optional: Iterable[str] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise RulesInvalid("must be an object", path=path)
        required = tuple(required)
        unknown = sorted(set(value) - set(required) - set(optional))
        if unknown:
            raise RulesInvalid(f"unknown key(s) {unknown}", path=path)
        missing = [key for key in required if key not in value]
        if missing:
            raise RulesInvalid(f"missing key(s) {missing}", path=path)
        return value

    @staticmethod
    def _int(value: Any, path: str, *, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RulesInvalid("must be an integer", path=path)
        if not low <= value <= high:
            raise RulesInvalid(f"must be {low}..{high}", path=path)
        return value

    @staticmethod
    def _ratio(value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RulesInvalid("must be a number", path=path)
        if not 0 <= value < 1:
            raise RulesInvalid("must be at least 0 and below 1", path=path)
        return float(value)

    @staticmethod
    def _minute(value: Any, path: str) -> int:
        if not isinstance(value, str) or not _TIME.match(value):
            raise RulesInvalid("must be a time HH:MM (00:00 to 24:00)", path=path)
        hours, minutes = value.split(":")
        return int(hours) * 60 + int(minutes)

    # -- parts --------------------------------------------------------------------------------
    def hours(self, raw: Any, path: str) -> BusinessHours:
        entry = self._object(raw, path, required=("days", "start", "end"))
        days = entry["days"]
        if not isinstance(days, list) or not days:
            raise RulesInvalid("must be a non-empty list of weekdays", path=f"{path}.days")
        for day in days:
            if day not in WEEKDAYS:
                raise RulesInvalid(
                    f"unknown weekday (one of {list(WEEKDAYS)})", path=f"{path}.days"
                )
        if len(set(days)) != len(days):
            raise RulesInvalid("a weekday is listed twice", path=f"{path}.days")
        start = self._minute(entry["start"], f"{path}.start")
        end = self._minute(entry["end"], f"{path}.end")
        if start >= end:
            raise RulesInvalid("start must be before end (no overnight spans)", path=path)
        return BusinessHours(
            days=frozenset(WEEKDAYS.index(d) for d in days), start_minute=start, end_minute=end
        )

    def rule_fields(self, name: str, raw: Any, path: str, *, complete: bool) -> dict[str, Any]:
        fields = ("enabled", "action", *_RULE_FIELDS[name])
        entry = self._object(raw, path, required=fields if complete else (), optional=fields)
        out: dict[str, Any] = {}
        for key, value in entry.items():
            where = f"{path}.{key}"
            if key == "enabled":
                if not isinstance(value, bool):
                    raise RulesInvalid("must be true or false", path=where)
                out[key] = value
            elif key == "action":
                if value not in _ACTIONS:
                    raise RulesInvalid(f"must be one of {list(_ACTIONS)}", path=where)
                out[key] = value
            elif key == "max_ratio":
                out[key] = self._ratio(value, where)
            elif key == "window_minutes":
                out[key] = self._int(value, where, low=1, high=MAX_WINDOW_MINUTES)
            elif key == "last_queries":
                out[key] = self._int(value, where, low=2, high=10_000)
            else:  # max_distinct, burst
                out[key] = self._int(value, where, low=1, high=MAX_COUNT)
        return out

    def rules(self, raw: Any, path: str, *, complete: bool) -> dict[str, dict[str, Any]]:
        names = tuple(_RULE_FIELDS)
        entry = self._object(raw, path, required=names if complete else (), optional=names)
        return {
            name: self.rule_fields(name, value, f"{path}.{name}", complete=complete)
            for name, value in entry.items()
        }

    def rule_set(self, raw: Any) -> RuleSet:
        top = self._object(
            raw, "", required=("version", "defaults"), optional=("description", "industries")
        )
        version = top["version"]
        if not isinstance(version, str) or not version.strip():
            raise RulesInvalid("must be a non-empty string", path="version")
        if "description" in top and not isinstance(top["description"], str):
            raise RulesInvalid("must be a string", path="description")
        defaults = self._object(top["defaults"], "defaults", required=("business_hours", "rules"))
        base_hours = self.hours(defaults["business_hours"], "defaults.business_hours")
        base_rules = self.rules(defaults["rules"], "defaults.rules", complete=True)
        default_set = _build("default", base_hours, base_rules)

        by_industry: dict[str, IndustryRules] = {}
        overrides = top.get("industries", {})
        if not isinstance(overrides, dict):
            raise RulesInvalid("must be an object", path="industries")
        for code, value in overrides.items():
            path = f"industries.{code}"
            if not _CODE.match(code):
                raise RulesInvalid("not an industry code (lower case, digits, _)", path=path)
            if self._industries is not None and code not in self._industries:
                raise RulesInvalid("not an industry of the policy catalogue", path=path)
            entry = self._object(value, path, required=(), optional=("business_hours", "rules"))
            hours = (
                self.hours(entry["business_hours"], f"{path}.business_hours")
                if "business_hours" in entry
                else base_hours
            )
            changed = self.rules(entry.get("rules", {}), f"{path}.rules", complete=False)
            merged = {name: {**base_rules[name], **changed.get(name, {})} for name in base_rules}
            by_industry[code] = _build(code, hours, merged)
        return RuleSet(
            version=version, defaults=default_set, industries=MappingProxyType(by_industry)
        )


def _build(industry: str, hours: BusinessHours, rules: dict[str, dict[str, Any]]) -> IndustryRules:
    def action(name: str) -> Action:
        return cast(Action, rules[name]["action"])

    d, o, m, w = (rules[n] for n in (DISTINCT_PEOPLE, OFF_HOURS_BURST, MISMATCH_RATIO, WATCH_LIST))
    return IndustryRules(
        industry=industry,
        business_hours=hours,
        distinct_people=DistinctPeopleRule(
            enabled=d["enabled"],
            action=action(DISTINCT_PEOPLE),
            max_distinct=d["max_distinct"],
            window_minutes=d["window_minutes"],
        ),
        off_hours_burst=OffHoursBurstRule(
            enabled=o["enabled"],
            action=action(OFF_HOURS_BURST),
            burst=o["burst"],
            window_minutes=o["window_minutes"],
        ),
        mismatch_ratio=MismatchRatioRule(
            enabled=m["enabled"],
            action=action(MISMATCH_RATIO),
            max_ratio=m["max_ratio"],
            last_queries=m["last_queries"],
            window_minutes=m["window_minutes"],
        ),
        watch_list=WatchListRule(enabled=w["enabled"], action=action(WATCH_LIST)),
    )
