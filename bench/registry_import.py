"""Benchmark: bulk import and blind-index look-up of the registry, SQLite and PostgreSQL.

    python -m bench.registry_import [--people 1000000] [--backends sqlite,postgresql]

Each import runs in a child process so its peak memory (ru_maxrss) is its own; the file is
generated once. Results go to ``bench/results/registry_import.json``. Targets (issue 2):
≥ 20,000 people/s on SQLite, memory flat in N, look-up p99 < 1 ms in-process.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from netid.config import Settings
from netid.container import Container
from netid.core.clock import SystemClock, today_in_china
from netid.crypto.sealing import generate_seal_key
from netid.keys.master import format_master_key
from netid.registry.importer import run_import
from netid.registry.synthetic import write_population

RESULTS = Path(__file__).parent / "results"
PG_URL = os.environ.get(
    "NETID_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def fresh_container(backend: str, workdir: Path) -> Container:
    """A new bench database (a SQLite file in ``workdir``, or a PostgreSQL schema of its own),
    migrated, with a fresh master key and keyring."""
    schema = None
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    else:
        url, schema = PG_URL, f"bench_{secrets.token_hex(4)}"
    settings = Settings(
        data_dir=workdir,
        database_url=url,
        database_schema=schema,
        master_key=format_master_key(generate_seal_key()),
    )
    container = Container(settings)
    container.migrate()
    with container.transaction() as session:
        container.keyring_service(session).initialise()
    return container


def child(
    backend: str, file: Path, workdir: Path, lookups: int, batch_size: int, workers: int
) -> dict[str, Any]:
    container = fresh_container(backend, workdir)
    schema = container.settings.database_schema
    today = today_in_china(SystemClock())
    report = io.StringIO()
    started = time.perf_counter()
    summary = run_import(
        file,
        unit_of_work=container.registry_unit,
        actor="operator:bench",
        today=today,
        now=container.clock.now,
        report=report,
        batch_size=batch_size,
        workers=workers,
    )
    elapsed = time.perf_counter() - started
    import_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # Look-ups of random people, each a full call of the service (normalise, parse, HMAC-SM3
    # under every live index key, indexed select).
    numbers = []
    with file.open("rb") as handle:
        rng = random.Random(1)
        for line in handle:
            if rng.random() < lookups * 2 / max(summary.read, 1):
                numbers.append(json.loads(line)["documents"][0]["number"])
    numbers = numbers[:lookups]
    timings = []
    with container.transaction(write=False) as session:
        registry = container.registry(session)
        for number in numbers[:200]:  # warm-up
            registry.find_person_id(number)
        for number in numbers:
            t0 = time.perf_counter_ns()
            found = registry.find_person_id(number)
            timings.append((time.perf_counter_ns() - t0) / 1000)
            assert found is not None
    timings.sort()
    if schema:
        with container.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    return {
        "backend": backend,
        "workers": workers,
        "people": summary.imported,
        "rejected": summary.rejected,
        "seconds": round(elapsed, 2),
        "people_per_second": round(summary.imported / elapsed),
        "peak_rss_mib": round(import_rss_mib, 1),
        "lookup_samples": len(timings),
        "lookup_p50_us": round(timings[len(timings) // 2], 1),
        "lookup_p99_us": round(timings[int(len(timings) * 0.99)], 1),
        "lookup_mean_us": round(statistics.fmean(timings), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--child", choices=["sqlite", "postgresql"])
    parser.add_argument("--file", type=Path)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--out", type=Path, default=RESULTS / "registry_import.json")
    args = parser.parse_args()
    if args.child:
        print(
            json.dumps(
                child(
                    args.child, args.file, args.workdir, args.lookups, args.batch_size, args.workers
                )
            )
        )
        return
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "people.jsonl"
        t0 = time.perf_counter()
        write_population(file, people=args.people, seed=1, today=today_in_china(SystemClock()))
        generated = time.perf_counter() - t0
        runs = []
        for backend in args.backends.split(","):
            workdir = Path(tmp) / backend
            workdir.mkdir()
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.registry_import",
                    "--child",
                    backend,
                    "--file",
                    str(file),
                    "--workdir",
                    str(workdir),
                    "--lookups",
                    str(args.lookups),
                    "--batch-size",
                    str(args.batch_size),
                    "--workers",
                    str(args.workers),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout.splitlines()[-1])
            print(json.dumps(result))
            runs.append(result)
    record = {
        "benchmark": "registry_import",
        "people": args.people,
        "generate_people_per_second": round(args.people / generated),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "runs": runs,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(args.out.read_text()) if args.out.exists() else []
    existing.append(record)
    args.out.write_text(json.dumps(existing, indent=2) + "\n")


if __name__ == "__main__":
    main()
