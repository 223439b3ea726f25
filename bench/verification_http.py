"""Benchmark: ``id2`` verifications over HTTP against ``netid serve``, SQLite and PostgreSQL.

    python -m bench.verification_http [--people 1000000] [--backends sqlite,postgresql]
        [--connections 32] [--duration 20] [--workers 2]

For each backend: a registry of N generated people (cached under ``bench/.cache`` between runs,
keyed by backend, N and seed), one approved bank with a quota that does not bind, then the real
server (``netid serve --workers W``) driven over loopback by wrk (Debian's ``wrk``, a C load
generator with a Lua script that cycles through 2,000 real people) with a real access token.
In the same run wrk measures ``GET /healthz`` on the same server stack: the stack's ceiling, so
the result is also a ratio. Afterwards the access records are counted: every 200 answer must
have its record on disk. Results are appended to ``bench/results/verification_http.json``.

wrk shares the 2 cores with the server; its own CPU time is reported too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from netid.audit.models import AccessRecord
from netid.client.rp import ClientFile, RelyingParty, private_jwk
from netid.config import Settings
from netid.container import Container
from netid.core.clock import SystemClock, today_in_china
from netid.crypto import jose_keys
from netid.documents import synth
from netid.institutions.schemas import ApplicationIn
from netid.registry.importer import run_import
from netid.registry.synthetic import write_population

ROOT = Path(__file__).parent
RESULTS = ROOT / "results"
CACHE = ROOT / ".cache"
GENERATOR_VERSION = 1  # bump when the synthetic generator's output changes
PG_URL = os.environ.get(
    "NETID_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SAMPLE = 2000

LUA = """
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, "/v1/verifications", nil, bodies[i])
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def relaxed_monitoring_rules(workdir: Path) -> Path:
    """The shipped anomaly rules with every rule off: one bench bank asking about thousands of
    people a minute is exactly what the distinct-people rule freezes."""
    from importlib import resources

    rules = json.loads(
        resources.files("netid.monitoring").joinpath("data/rules.v1.json").read_text("utf-8")
    )
    for scope in [rules["defaults"], *rules["industries"].values()]:
        for rule in scope.get("rules", {}).values():
            rule["enabled"] = False
    path = workdir / "monitoring-rules.json"
    path.write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    return path


def environment(workdir: Path, backend: str, people: int, seed: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
    env["NETID_DATA_DIR"] = str(workdir)
    env["NETID_MONITORING_RULES"] = str(relaxed_monitoring_rules(workdir))
    env["NETID_MASTER_KEY_FILE"] = str(workdir / "master.key")
    if backend == "postgresql":
        env["NETID_DATABASE_URL"] = PG_URL
        env["NETID_DATABASE_SCHEMA"] = f"bench_v{GENERATOR_VERSION}_{people}_{seed}"
    return env


def ready_container(settings: Settings) -> Container:
    """A container on a migrated database with its master key and a key of every purpose, as
    `netid keys init` leaves it (idempotent: a cached bench database is reused)."""
    container = Container(settings)
    container.migrate()
    master, _ = container.ensure_master_key()
    with container.transaction() as session:
        keys = container.keyring_service(session, master)
        if not keys.is_initialised():
            keys.initialise()
        keys.ensure_all_purposes()
    return container


def prepare(workdir: Path, env: dict[str, str], people: int, seed: int) -> dict[str, Any]:
    """The cached registry, sample and bench institution (built once)."""
    settings = Settings(
        data_dir=Path(env["NETID_DATA_DIR"]),
        database_url=env.get("NETID_DATABASE_URL"),
        database_schema=env.get("NETID_DATABASE_SCHEMA"),
        master_key_file=Path(env["NETID_MASTER_KEY_FILE"]),
    )
    container = ready_container(settings)
    done = workdir / "prepared.json"
    facts: dict[str, Any] = json.loads(done.read_text()) if done.exists() else {}
    if not facts:
        population = workdir / "people.jsonl"
        write_population(population, people=people, seed=seed, today=today_in_china(SystemClock()))
        t0 = time.perf_counter()
        summary = run_import(
            population,
            unit_of_work=container.registry_unit,
            actor="operator:bench",
            today=today_in_china(SystemClock()),
            now=container.clock.now,
            report=open(os.devnull, "w"),  # noqa: SIM115 - closed with the process
            batch_size=5000,
            workers=os.cpu_count() or 1,
        )
        facts["import_seconds"] = round(time.perf_counter() - t0, 1)
        facts["people"] = summary.imported
        rng = random.Random(seed)
        chosen: list[str] = []
        with population.open(encoding="utf-8") as handle:
            for line in handle:
                if rng.random() < SAMPLE * 3 / people:
                    record = json.loads(line)
                    body = {
                        "type": "id2",
                        "purpose": "account_opening",
                        "subject": {
                            "document_number": record["documents"][0]["number"],
                            "name": record["name"],
                        },
                    }
                    chosen.append(json.dumps(body, ensure_ascii=False))
        (workdir / "bodies.jsonl").write_text("\n".join(chosen[:SAMPLE]) + "\n", encoding="utf-8")
        population.unlink()
        facts["client"] = bench_institution(container)
        done.write_text(json.dumps(facts))
    container.engine.dispose()
    return facts


def bench_institution(container: Container) -> dict[str, Any]:
    key = jose_keys.generate_private_key("ES256")
    body = {
        "name": "基准测试银行",
        "uscc": synth.uscc(random.Random("bench")),
        "industry": "banking_finance",
        "purposes": ["account_opening"],
        "location": "domestic",
        "agreement": {"version": "2026-01", "accepted": True},
        "website": "https://bench.example",
        "legal_representative": {"name": "基准", "phone": "+86 10 0000 0000", "email": "a@b.cn"},
        "contact": {"name": "基准", "phone": "+86 10 0000 0000", "email": "a@b.cn"},
        "public_jwks": [jose_keys.public_jwk(key, "bench")],
    }
    with container.transaction() as session:
        service = container.institutions(session)
        pending = service.apply(ApplicationIn.model_validate(body), actor="operator:bench")
        view = service.approve(
            pending.id, actor="operator:bench", reason="bench", quotas={"id2": 1_000_000_000}
        )
    return {
        "institution_code": view.code,
        "client_id": view.client_id,
        "private_jwk": private_jwk(key, "bench"),
    }


def wrk(url: str, *, connections: int, duration: int, script: Path | None) -> dict[str, Any]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        command += ["-s", str(script)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert match, out
        value, unit = float(match[1]), match[2]
        return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 2)

    total = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        "requests": total,
        "non_2xx": int(non_2xx[1]) if non_2xx else 0,
        "socket_errors": errors[1] if errors else None,
        "p50_ms": latency("50"),
        "p90_ms": latency("90"),
        "p99_ms": latency("99"),
        "wrk_cpu_seconds": round(
            (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2
        ),
    }


@contextmanager
def serving(
    env: dict[str, str], *, workers: int, log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``netid serve --workers W`` on ``env``'s port for the length of the block: returns once
    it listens and its workers are up; stopped (and waited for) afterwards."""
    port = int(env["NETID_PORT"])
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "netid.cli", "serve", "--workers", str(workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError(f"the server did not start: see {log_path}") from None
                    time.sleep(0.2)
            time.sleep(2)  # every worker up
            yield server
        finally:
            server.terminate()
            server.wait(timeout=30)


def bench_token(base: str, client: dict[str, Any]) -> str:
    """An access token for the bench institution, from the running server."""
    return RelyingParty(
        ClientFile(
            institution_code=client["institution_code"],
            client_id=client["client_id"],
            token_endpoint=f"{base}/oauth2/token",
            api_base=base,
            private_jwk=client["private_jwk"],
        )
    ).token()


def server_rss_mib(pid: int) -> float:
    """Resident memory of the server and its worker processes, now."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().split()
            if int(proc.name) == pid or int(stat[3]) == pid:
                total += int(stat[23]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return round(total / 2**20, 1)


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = CACHE / f"verification-{backend}-{args.people}-{args.seed}-v{GENERATOR_VERSION}"
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = environment(workdir, backend, args.people, args.seed)
    facts = prepare(workdir, env, args.people, args.seed)
    port = free_port()
    env["NETID_PORT"] = str(port)
    base = f"http://127.0.0.1:{port}"
    with serving(env, workers=args.workers, log_path=workdir / "serve.log") as server:
        token = bench_token(base, facts["client"])
        script = workdir / "id2.lua"
        script.write_text(LUA % {"bodies": workdir / "bodies.jsonl", "token": token})
        records_before = count_records(env)
        wrk(f"{base}/v1/verifications", connections=args.connections, duration=3, script=script)
        hello = wrk(
            f"{base}/healthz", connections=args.connections, duration=args.duration, script=None
        )
        id2 = wrk(
            f"{base}/v1/verifications",
            connections=args.connections,
            duration=args.duration,
            script=script,
        )
        rss = server_rss_mib(server.pid)
    recorded = count_records(env) - records_before
    answered_upper_bound = id2["requests"] + 50_000  # warm-up requests are also recorded
    return {
        "backend": backend,
        "people": facts["people"],
        "import_seconds": facts["import_seconds"],
        "workers": args.workers,
        "connections": args.connections,
        "duration_s": args.duration,
        "hello_world": hello,
        "id2": id2,
        "ratio_to_hello_world": round(id2["requests_per_second"] / hello["requests_per_second"], 3),
        "access_records_written": recorded,
        "every_answer_recorded": recorded >= id2["requests"] - id2["non_2xx"]
        and recorded <= answered_upper_bound,
        "server_rss_mib_after": rss,
    }


def count_records(env: dict[str, str]) -> int:
    settings = Settings(
        data_dir=Path(env["NETID_DATA_DIR"]),
        database_url=env.get("NETID_DATABASE_URL"),
        database_schema=env.get("NETID_DATABASE_SCHEMA"),
    )
    container = Container(settings)
    with container.transaction(write=False) as session:
        count = session.scalar(
            select(func.count())
            .select_from(AccessRecord)
            .where(AccessRecord.action == "verification.id2")
        )
    container.engine.dispose()
    return int(count or 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=RESULTS / "verification_http.json")
    parser.add_argument("--clean", action="store_true", help="drop the cached registries")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    if args.clean:
        shutil.rmtree(CACHE, ignore_errors=True)
    runs = []
    for backend in args.backends.split(","):
        result = run_backend(backend, args)
        print(json.dumps(result))
        runs.append(result)
    record = {
        "benchmark": "verification_http",
        "git_commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip(),
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
