"""Value types of the monitoring rules (immutable, pure) and the admin views of alerts and
watch-list entries (no personal data: a watch entry is known by its id, never its number)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from netid.core.clock import CHINA_TZ

# Rule names: also the counters' names, the alerts' ``rule`` and the freeze actor
# ``monitor:<rule>``.
DISTINCT_PEOPLE = "distinct_people"
OFF_HOURS_BURST = "off_hours_burst"
MISMATCH_RATIO = "mismatch_ratio"
WATCH_LIST = "watch_list"
RULE_NAMES: tuple[str, ...] = (DISTINCT_PEOPLE, OFF_HOURS_BURST, MISMATCH_RATIO, WATCH_LIST)
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Action = Literal["alert", "freeze"]


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Declared business hours in China Standard Time (Asia/Shanghai, UTC+8, no DST):
    ``days`` (0 = Monday) and ``[start, end)`` in minutes after midnight; ``end`` may be
    1440 (24:00). Public holidays are not modelled."""

    days: frozenset[int]
    start_minute: int
    end_minute: int

    def contains(self, at: dt.datetime) -> bool:
        local = at.astimezone(CHINA_TZ)
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and self.start_minute <= minute < self.end_minute

    def to_json(self) -> dict[str, object]:
        return {
            "days": [WEEKDAYS[d] for d in sorted(self.days)],
            "start": _hhmm(self.start_minute),
            "end": _hhmm(self.end_minute),
        }


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class DistinctPeopleRule:
    """More than ``max_distinct`` different document numbers (existing or not) queried by one
    institution within ``window_minutes``."""

    enabled: bool
    action: Action
    max_distinct: int
    window_minutes: int


@dataclass(frozen=True, slots=True)
class OffHoursBurstRule:
    """More than ``burst`` queries outside the institution's business hours within
    ``window_minutes``."""

    enabled: bool
    action: Action
    burst: int
    window_minutes: int


@dataclass(frozen=True, slots=True)
class MismatchRatioRule:
    """Of the last ``last_queries`` answered comparisons (within ``window_minutes``), a share
    of mismatches above ``max_ratio``: someone enumerating numbers. Judged only once the
    window holds ``last_queries`` outcomes."""

    enabled: bool
    action: Action
    max_ratio: float
    last_queries: int
    window_minutes: int


@dataclass(frozen=True, slots=True)
class WatchListRule:
    """Any query for a document number on the watch list."""

    enabled: bool
    action: Action


@dataclass(frozen=True, slots=True)
class IndustryRules:
    """The effective rules of one industry (defaults merged with its overrides)."""

    industry: str
    business_hours: BusinessHours
    distinct_people: DistinctPeopleRule
    off_hours_burst: OffHoursBurstRule
    mismatch_ratio: MismatchRatioRule
    watch_list: WatchListRule


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: str
    defaults: IndustryRules
    industries: Mapping[str, IndustryRules]

    def for_industry(self, industry: str) -> IndustryRules:
        """An industry without overrides gets the defaults (never "no rules")."""
        return self.industries.get(industry, self.defaults)


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class AlertView(BaseModel):
    id: str
    institution_id: str
    rule: str
    details: dict[str, object]
    created_at: dt.datetime
    status: AlertStatus
    resolved_by: str | None = None
    resolution_reason: str | None = None
    resolved_at: dt.datetime | None = None


class WatchEntryView(BaseModel):
    id: str
    added_by: str
    added_at: dt.datetime
