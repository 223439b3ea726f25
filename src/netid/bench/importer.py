"""The registry import scenario (from bench/registry_import.py): people per second and peak
memory, at two sizes so that "memory flat in N" shows.

Each import runs in a child process (``python -m netid.bench.importer``) on a fresh database
(a SQLite file, or a PostgreSQL schema of its own, dropped afterwards), so its peak RSS is its
own; the import's worker processes (parsing and sealing) report theirs separately.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from netid.bench.common import postgresql_url
from netid.config import Settings
from netid.container import Container
from netid.core.clock import SystemClock, today_in_china
from netid.crypto.sealing import generate_seal_key
from netid.keys.master import format_master_key
from netid.registry.importer import DEFAULT_BATCH_SIZE, ImportSummary, run_import

LOOKUPS = 2000


def import_people(
    container: Container, file: Path, *, today: dt.date, workers: int
) -> ImportSummary:
    """``file`` imported as ``netid registry import`` would (its default batch size), the
    per-line report discarded."""
    with open(os.devnull, "w") as devnull:
        return run_import(
            file,
            unit_of_work=container.registry_unit,
            actor="operator:bench",
            today=today,
            now=container.clock.now,
            report=devnull,
            batch_size=DEFAULT_BATCH_SIZE,
            workers=workers,
        )


def fresh_container(backend: str, workdir: Path) -> Container:
    """A new bench database, migrated, with a fresh master key and keyring."""
    schema = None
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    else:
        url, schema = postgresql_url(), f"bench_{secrets.token_hex(4)}"
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


def child(backend: str, file: Path, workdir: Path, workers: int) -> dict[str, Any]:
    container = fresh_container(backend, workdir)
    schema = container.settings.database_schema
    today = today_in_china(SystemClock())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    summary = import_people(container, file, today=today, workers=workers)
    elapsed = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pool = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # Blind-index look-ups of random people, each a whole service call.
    numbers: list[str] = []
    rng = random.Random(1)
    with file.open("rb") as handle:
        for line in handle:
            if rng.random() < LOOKUPS * 2 / max(summary.read, 1):
                numbers.append(json.loads(line)["documents"][0]["number"])
    timings: list[float] = []
    with container.transaction(write=False) as session:
        registry = container.registry(session)
        for number in numbers[:LOOKUPS]:
            t0 = time.perf_counter()
            found = registry.find_person_id(number)
            timings.append(time.perf_counter() - t0)
            assert found is not None
    timings.sort()
    if schema:
        with container.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    container.engine.dispose()
    return {
        "people": summary.imported,
        "rejected": summary.rejected,
        "seconds": round(elapsed, 2),
        "people_per_second": round(summary.imported / elapsed) if elapsed else None,
        "peak_rss_mib_before": round(before / 1024, 1),
        "peak_rss_mib": round(own / 1024, 1),
        "peak_rss_mib_import_workers": round(pool / 1024, 1) if pool else None,
        "lookup_p50_us": round(timings[len(timings) // 2] * 1e6, 1) if timings else None,
        "lookup_p99_us": round(timings[int(len(timings) * 0.99)] * 1e6, 1) if timings else None,
    }


def run_child(backend: str, file: Path, workdir: Path, workers: int) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "netid.bench.importer",
            backend,
            str(file),
            str(workdir),
            str(workers),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the import child failed: {out.stderr[-800:]}")
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return result


if __name__ == "__main__":
    backend, file, workdir, workers = sys.argv[1:5]
    sys.stdout.write(json.dumps(child(backend, Path(file), Path(workdir), int(workers))) + "\n")
