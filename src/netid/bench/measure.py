"""Measuring from outside: CPU and memory of a process tree (``/proc``), and wrk runs.

The server's CPU is the ``utime + stime`` of its process and every descendant (uvicorn's
supervisor and its workers), read before and after a run; the load generator's CPU is its own
``rusage`` as a child of this process. Both go into every result so one can see whether the
load generator, which shares the machine's cores with the server, was the bottleneck.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")
_WRK_MARK = "NETID_WRK "

# Appended to every wrk script: wrk's own summary as one JSON line (latencies in µs).
DONE_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    "MARK", summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
""".replace("MARK", _WRK_MARK)


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return text[text.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """Every living descendant of ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry.name))[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its living descendants so far."""
    total = 0
    for each in [pid, *descendants(pid)]:
        try:
            fields = _stat_fields(each)
            total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
        except (OSError, ValueError, IndexError):
            continue
    return total / _TICK


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def workers(pid: int) -> list[int]:
    """The serving processes of a server: its worker children (uvicorn and granian start them
    with multiprocessing), or the server itself when it serves alone."""
    found = [
        child
        for child in descendants(pid)
        if "resource_tracker" not in _cmdline(child) and "semaphore_tracker" not in _cmdline(child)
    ]
    return found or [pid]


def peak_rss_mib(pid: int) -> float | None:
    """VmHWM: the process's peak resident memory since it started."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        return None
    return None


def server_memory(pid: int) -> dict[str, Any]:
    per_worker = [m for m in (peak_rss_mib(w) for w in workers(pid)) if m is not None]
    return {
        "peak_rss_mib_per_worker": per_worker,
        "peak_rss_mib_max_worker": max(per_worker) if per_worker else None,
        "peak_rss_mib_supervisor": peak_rss_mib(pid)
        if per_worker and workers(pid) != [pid]
        else None,
    }


@dataclass
class Meter:
    """Wall time, server CPU and load-generator CPU over one measured stretch."""

    server_pid: int
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    loadgen_cpu_s: float = 0.0
    _marks: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def measure(self) -> Iterator[Meter]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        server = cpu_seconds(self.server_pid)
        started = time.perf_counter()
        yield self
        self.wall_s = time.perf_counter() - started
        self.server_cpu_s = cpu_seconds(self.server_pid) - server
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.loadgen_cpu_s = (after.ru_utime - children.ru_utime) + (
            after.ru_stime - children.ru_stime
        )

    def as_json(self) -> dict[str, float]:
        wall = self.wall_s or 1.0
        return {
            "wall_s": round(self.wall_s, 2),
            "server_cpu_s": round(self.server_cpu_s, 2),
            "server_cpu_cores": round(self.server_cpu_s / wall, 2),
            "loadgen_cpu_s": round(self.loadgen_cpu_s, 2),
            "loadgen_cpu_cores": round(self.loadgen_cpu_s / wall, 2),
        }


@dataclass(frozen=True)
class WrkPlan:
    """One wrk script: lines of a file sent in turn, each at most once per run while the file
    lasts (thread k of T sends lines k, k + T, k + 2T …, as wrk gives every thread its own Lua
    state), as POST bodies to ``path`` or as GET paths."""

    lines: Path | None
    path: str
    method: str = "GET"
    content_type: str | None = None
    bearer: str | None = None


def wrk_script(plan: WrkPlan, threads: int) -> str:
    parts = [f'wrk.method = "{plan.method}"']
    if plan.content_type:
        parts.append(f'wrk.headers["Content-Type"] = "{plan.content_type}"')
    if plan.bearer:
        parts.append(f'wrk.headers["Authorization"] = "Bearer {plan.bearer}"')
    if plan.lines is None:
        parts.append(f'wrk.path = "{plan.path}"')
    else:
        send = (
            f'wrk.format(nil, "{plan.path}", nil, line)'
            if plan.method != "GET"
            else "wrk.format(nil, line)"
        )
        parts.append(
            f"""
local lines = {{}}
for line in io.lines("{plan.lines}") do lines[#lines + 1] = line end
local threads = 0
function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end
local i = nil
request = function()
  if i == nil then i = offset end
  local line = lines[i % #lines + 1]
  i = i + {threads}
  return {send}
end
"""
        )
    return "\n".join(parts) + "\n" + DONE_LUA


def wrk(
    base: str,
    plan: WrkPlan,
    *,
    connections: int,
    duration: float,
    threads: int,
    workdir: Path,
    server_pid: int,
    name: str,
) -> dict[str, Any]:
    """One wrk run; its summary, errors and the CPU of both sides."""
    script = workdir / f"{name}.lua"
    script.write_text(wrk_script(plan, threads), encoding="utf-8")
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{max(connections, threads)}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base + plan.path if plan.lines is None else base,
    ]
    meter = Meter(server_pid)
    with meter.measure():
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next((x for x in out.splitlines() if x.startswith(_WRK_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {out[-500:]}")
    raw = json.loads(line[len(_WRK_MARK) :])
    seconds = raw["duration_us"] / 1e6 or 1.0
    errors = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout")}
    return {
        "throughput": round(raw["requests"] / seconds, 1),
        "requests": raw["requests"],
        "ok": raw["requests"] - raw["status"],
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p95_ms": round(raw["p95_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "errors": sum(errors.values()),
        "error_detail": {"status_4xx_5xx": errors.pop("status"), **errors},
        "duration_s": round(seconds, 2),
        **meter.as_json(),
    }
