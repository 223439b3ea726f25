"""The speed targets of issue 7 §2, in one table: the summary compares every result with them.
They are never asserted in tests (benchmarks only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    scenario: str
    backend: str | None  # None: every backend
    min_throughput: float | None = None
    max_p99_ms: float | None = None
    at_connections: int | None = None  # the p99 bound holds at this many connections
    min_ratio_to_hello: float | None = None
    max_seconds_per_million: float | None = None
    max_rss_growth: float | None = None  # peak RSS at N over peak RSS at N/4 ("flat in N")
    text: str = ""


MAX_RSS_MIB_PER_WORKER = 300.0  # every scenario served by `netid serve`

TARGETS: tuple[Target, ...] = (
    Target(
        "id2",
        "sqlite",
        min_throughput=5000,
        max_p99_ms=20,
        at_connections=32,
        min_ratio_to_hello=0.5,
        text="≥5000/s, p99≤20 ms @32, ≥0.5×hello",
    ),
    Target(
        "id2", "postgresql", min_throughput=3000, min_ratio_to_hello=0.5, text="≥3000/s, ≥0.5×hello"
    ),
    Target("netid_qr", None, min_throughput=3000, text="≥3000/s"),
    Target("token", None, min_throughput=2000, text="≥2000/s"),
    Target("oidc", None, min_throughput=300, text="≥300 logins/s"),
    Target(
        "registry_import",
        "sqlite",
        min_throughput=20000,
        max_rss_growth=1.25,
        text="≥20000 people/s, RSS flat in N",
    ),
    Target("registry_import", "postgresql", max_rss_growth=1.25, text="RSS flat in N"),
    Target("audit_verify", None, max_seconds_per_million=60, text="1M entries ≤60 s"),
    Target("inclusion_proof", None, max_p99_ms=5, text="p99≤5 ms"),
)


def target_for(scenario: str, backend: str) -> Target | None:
    for target in TARGETS:
        if target.scenario == scenario and target.backend in (None, backend):
            return target
    return None


def evaluate(result: dict[str, Any]) -> tuple[bool | None, list[str]]:
    """Whether ``result`` meets its targets (None: no target applies), and what misses."""
    if result.get("smoke"):
        return None, []  # tiny by design: its figures say nothing about the targets
    target = target_for(result["scenario"], result.get("backend", ""))
    misses: list[str] = []
    checked = False
    served = result.get("server") == "netid serve"
    rss = result.get("peak_rss_mib_max_worker")
    if served and rss is not None:
        checked = True
        if rss > MAX_RSS_MIB_PER_WORKER:
            misses.append(f"RSS {rss:.0f} MiB/worker > {MAX_RSS_MIB_PER_WORKER:.0f}")
    if target is None:
        return (not misses) if checked else None, misses
    throughput = result.get("throughput")
    if target.min_throughput is not None and throughput is not None:
        checked = True
        if throughput < target.min_throughput:
            misses.append(f"{throughput:,.0f} < {target.min_throughput:,.0f}/s")
    p99 = result.get("p99_ms")
    if target.max_p99_ms is not None and p99 is not None:
        connections = result.get("settings", {}).get("connections")
        if target.at_connections is None or connections == target.at_connections:
            checked = True
            if p99 > target.max_p99_ms:
                misses.append(f"p99 {p99} ms > {target.max_p99_ms} ms")
    ratio = result.get("ratio_to_hello")
    if target.min_ratio_to_hello is not None and ratio is not None:
        checked = True
        if ratio < target.min_ratio_to_hello:
            misses.append(f"ratio {ratio} < {target.min_ratio_to_hello}")
    per_million = result.get("seconds_per_million")
    # Below 100,000 entries the process's start-up, not the pass over the log, is measured.
    if (
        target.max_seconds_per_million is not None
        and per_million is not None
        and result.get("entries", 0) >= 100_000
    ):
        checked = True
        if per_million > target.max_seconds_per_million:
            misses.append(f"{per_million:.0f} s per 1M > {target.max_seconds_per_million:.0f} s")
    growth = result.get("rss_growth")
    if target.max_rss_growth is not None and growth is not None:
        checked = True
        if growth > target.max_rss_growth:
            misses.append(f"RSS grows ×{growth} from N/4 to N")
    return (not misses) if checked else None, misses
