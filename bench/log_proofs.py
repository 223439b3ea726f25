"""Benchmark: the transparency log at scale (issue 4 "Numbers to report").

    python -m bench.log_proofs [--entries 1000000] [--backend sqlite|postgresql]
        [--appends 3000] [--requests 3000]

1. **Append cost**: ``AccessRecorder.record`` in its own committed transaction (what one
   verification pays for its entry), and inside a transaction that does nothing else, on top
   of a log of N entries.
2. **Build**: a log of N entries is loaded in bulk (the same entries, canonical encoding,
   leaf hashes, perfect nodes and head that N appends produce: ``netid.crypto.merkle.append``)
   and cached under ``bench/.cache``; then a checkpoint is cut with the real keys.
3. **verify**: ``AuditService.verify`` over the whole log (leaves, tree, checkpoints,
   nodes), wall time and peak RSS.
4. **Proofs over HTTP**: the real server (``netid serve``) on loopback, one keep-alive client
   asking ``/v1/log/proof/inclusion`` for random indexes in the checkpointed tree (and
   consistency proofs); p50/p99/max latency as the client sees it.

Results are appended to ``bench/results/log.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import random
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert, text

from netid.audit.models import AccessRecord, LogHead, LogNode
from netid.audit.service import canonical_json, tree_hasher
from netid.config import Settings
from netid.container import Container
from netid.core.ids import new_row_id
from netid.crypto.merkle import Frontier, append
from netid.crypto.sealing import generate_seal_key
from netid.keys.master import format_master_key

ROOT = Path(__file__).parent
RESULTS = ROOT / "results"
CACHE = ROOT / ".cache"
PG_URL = os.environ.get(
    "NETID_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BUILD_VERSION = 2  # bump when the entry layout changes


def _settings(backend: str, entries: int) -> tuple[Settings, Path]:
    base = CACHE / f"log-{backend}-{entries}-v{BUILD_VERSION}"
    base.mkdir(parents=True, exist_ok=True)
    key_file = base / "master.key"
    if not key_file.exists():
        key_file.write_text(format_master_key(generate_seal_key()))
    url = f"sqlite:///{base / 'netid.sqlite3'}" if backend == "sqlite" else PG_URL
    schema = None if backend == "sqlite" else f"bench_log_{entries}"
    settings = Settings(
        data_dir=base,
        database_url=url,
        database_schema=schema,
        master_key=key_file.read_text().strip(),
        log_checkpoint_seconds=0,
    )
    return settings, base


def build(container: Container, entries: int, batch: int = 20_000) -> float:
    """Bulk-load ``entries`` entries exactly as the recorder would write them."""
    started = time.perf_counter()
    hasher = tree_hasher("sm3")
    frontier = Frontier.empty()
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    records = cast(Table, AccessRecord.__table__)
    nodes_table = cast(Table, LogNode.__table__)
    for start in range(0, entries, batch):
        rows: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        for index in range(start, min(start + batch, entries)):
            rid = new_row_id()
            when = at + dt.timedelta(milliseconds=index)
            entry = {
                "index": index,
                "id": rid,
                "recorded_at": when.isoformat(),
                "actor": f"institution:BK{index % 97:08d}X",
                "action": "verification.id2",
                "outcome": "match",
                "purpose": "account_opening",
                "subject_ref": os.urandom(60).hex(),
                "details": {"claims_disclosed": [], "receipt": {"id": rid, "price_fen": 10}},
            }
            canonical = canonical_json(entry)
            leaf = hasher.leaf(canonical)
            frontier, completed = append(hasher, frontier, leaf)
            rows.append(
                {
                    "id": rid,
                    "log_index": index,
                    "recorded_at": when,
                    "actor": entry["actor"],
                    "action": entry["action"],
                    "purpose": entry["purpose"],
                    "outcome": entry["outcome"],
                    "subject_ref_sealed": bytes.fromhex(entry["subject_ref"]),
                    "canonical": canonical,
                    "leaf_hash": leaf,
                }
            )
            nodes.extend({"level": lv, "idx": ix, "hash": h} for lv, ix, h in completed)
        with container.transaction() as session:
            session.execute(insert(records), rows)
            if nodes:
                session.execute(insert(nodes_table), nodes)
        print(f"  built {start + len(rows):,}", file=sys.stderr, end="\r")
    with container.transaction() as session:
        session.merge(
            LogHead(id=1, hash_alg="sm3", size=frontier.size, frontier=frontier.to_bytes())
        )
    print(file=sys.stderr)
    return time.perf_counter() - started


def prepare(backend: str, entries: int) -> tuple[Container, Settings, dict[str, Any]]:
    settings, base = _settings(backend, entries)
    container = Container(settings)
    marker = base / "built"
    info: dict[str, Any] = {}
    if not marker.exists():
        if backend == "postgresql":
            with container.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{settings.database_schema}" CASCADE'))
            container.engine.dispose()
            container = Container(settings)
        container.migrate()
        with container.transaction() as session:
            if container.keyring_service_if_any(session) is None:
                container.keyring_service(session).initialise()
        info["build_seconds"] = round(build(container, entries), 1)
        marker.write_text("ok")
    with container.transaction() as session:
        container.audit(session).cut_checkpoint()
    return container, settings, info


def append_cost(container: Container, count: int) -> dict[str, float]:
    """Per-record cost of an entry, committed one per transaction (a verification's shape),
    against the same transaction with no entry (the baseline the entry adds to)."""

    def timed(run: Any) -> list[float]:
        out = []
        for _ in range(count):
            t = time.perf_counter()
            run()
            out.append(time.perf_counter() - t)
        return sorted(out)

    def with_entry() -> None:
        with container.transaction() as session:
            container.recorder(session).record(
                actor="institution:BENCH",
                action="verification.id2",
                outcome="match",
                purpose="account_opening",
                details={"claims_disclosed": []},
            )

    def empty() -> None:
        with container.transaction() as session:
            session.execute(text("SELECT 1"))

    def batched() -> None:
        with container.transaction() as session:
            recorder = container.recorder(session)
            for _ in range(100):
                recorder.record(actor="institution:BENCH", action="bench", outcome="ok")

    entry = timed(with_entry)
    base = timed(empty)
    t = time.perf_counter()
    for _ in range(max(1, count // 100)):
        batched()
    per_in_batch = (time.perf_counter() - t) / (max(1, count // 100) * 100)
    return {
        "committed_p50_ms": round(entry[len(entry) // 2] * 1e3, 3),
        "committed_p99_ms": round(entry[int(len(entry) * 0.99)] * 1e3, 3),
        "empty_transaction_p50_ms": round(base[len(base) // 2] * 1e3, 3),
        "entry_cost_p50_ms": round((entry[len(entry) // 2] - base[len(base) // 2]) * 1e3, 3),
        "in_batch_of_100_ms": round(per_in_batch * 1e3, 3),
    }


def verify_time(container: Container) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with container.transaction(write=False) as session:
        report = container.audit(session).verify()
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 1),
        "entries_per_second": round(report.size / seconds),
        "clean": report.clean,
        "size": report.size,
        "peak_rss_mb_before": before // 1024,
        "peak_rss_mb_after": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def proofs_over_http(settings: Settings, size: int, requests: int) -> dict[str, Any]:
    port = _free_port()
    env = {
        **os.environ,
        "NETID_DATA_DIR": str(settings.data_dir),
        "NETID_DATABASE_URL": settings.resolved_database_url,
        "NETID_MASTER_KEY": settings.master_key or "",
        "NETID_LOG_CHECKPOINT_SECONDS": "0",
    }
    if settings.database_schema:
        env["NETID_DATABASE_SCHEMA"] = settings.database_schema
    server = subprocess.Popen(
        [sys.executable, "-m", "netid.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        rng = random.Random(7)

        def run(paths: list[str]) -> dict[str, float]:
            latencies = []
            for path in paths:
                t = time.perf_counter()
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                latencies.append(time.perf_counter() - t)
                assert response.status == 200, body
            latencies.sort()
            return {
                "p50_ms": round(latencies[len(latencies) // 2] * 1e3, 3),
                "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1e3, 3),
                "max_ms": round(latencies[-1] * 1e3, 3),
                "requests": len(latencies),
            }

        run([f"/v1/log/proof/inclusion?index=0&tree_size={size}"] * 200)  # warm up
        inclusion = run(
            [
                f"/v1/log/proof/inclusion?index={rng.randrange(size)}&tree_size={size}"
                for _ in range(requests)
            ]
        )
        consistency = run(
            [
                f"/v1/log/proof/consistency?first={rng.randrange(1, size)}&second={size}"
                for _ in range(requests)
            ]
        )
        healthz = run(["/healthz"] * requests)
        return {"inclusion": inclusion, "consistency": consistency, "healthz": healthz}
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--appends", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--skip", default="", help="comma list of: append,verify,http")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    container, settings, result = prepare(args.backend, args.entries)
    with container.transaction(write=False) as session:
        size = container.audit(session).latest_checkpoint().tree_size
    result.update(
        {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "backend": args.backend,
            "entries": size,
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        }
    )
    if "http" not in skip:
        result["http"] = proofs_over_http(settings, size, args.requests)
        print(json.dumps(result["http"]), file=sys.stderr)
    if "verify" not in skip:
        result["verify"] = verify_time(container)
        print(json.dumps(result["verify"]), file=sys.stderr)
    if "append" not in skip:
        result["append"] = append_cost(container, args.appends)
        print(json.dumps(result["append"]), file=sys.stderr)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "log.json"
    history = json.loads(path.read_text()) if path.exists() else []
    history.append(result)
    path.write_text(json.dumps(history, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
