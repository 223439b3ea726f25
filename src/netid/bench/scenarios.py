"""The scenarios. Each returns one result (a JSON object): throughput, latency percentiles,
errors, the CPU of the server and of the load generator, checks (e.g. every answer recorded)
and details; :mod:`netid.bench.runner` adds the run's settings, ratios and provenance."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from netid.audit.models import AccessRecord
from netid.bench import wallets as wallet_setup
from netid.bench.importer import run_child
from netid.bench.measure import WrkPlan, cpu_seconds, server_memory, wrk
from netid.bench.population import OIDC_REDIRECT_URI, Population
from netid.bench.server import Server
from netid.client.rp import ASSERTION_TYPE, ClientFile, client_assertion
from netid.container import Container
from netid.core.clock import SystemClock, today_in_china
from netid.registry.synthetic import write_population

MAX_FILE_LINES = 400_000  # one-use request files (QR tokens, client assertions) stay bounded


@dataclass
class Options:
    scenarios: list[str]
    backends: list[str]
    people: int
    results: Path
    cache: Path
    seed: int = 1
    duration: float = 20.0
    warmup: float = 3.0
    connections: int = 32
    workers: int = 2
    wrk_threads: int = 2
    wallets: int = 16
    oidc_threads: int = 16
    oidc_processes: int = 2
    import_people: int = 100_000
    import_workers: int = os.cpu_count() or 1
    log_entries: int | None = None
    smoke: bool = False


@dataclass
class Served:
    """One backend's population and running server, for the scenarios that need HTTP."""

    options: Options
    population: Population
    server: Server
    container: Container
    workdir: Path
    signed_in: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.server.base

    def wrk(self, plan: WrkPlan, name: str, *, duration: float | None = None) -> dict[str, Any]:
        return wrk(
            self.base,
            plan,
            connections=self.options.connections,
            duration=self.options.duration if duration is None else duration,
            threads=self.options.wrk_threads,
            workdir=self.workdir,
            server_pid=self.server.pid,
            name=name,
        )

    def last_index(self) -> int:
        with self.container.transaction(write=False) as session:
            return int(session.scalar(select(func.max(AccessRecord.log_index))) or -1)

    def records_since(self, index: int, actions: list[str]) -> dict[str, int]:
        """Access records after log index ``index`` by ``action:outcome``."""
        with self.container.transaction(write=False) as session:
            rows = session.execute(
                select(AccessRecord.action, AccessRecord.outcome, func.count())
                .where(AccessRecord.log_index > index, AccessRecord.action.in_(actions))
                .group_by(AccessRecord.action, AccessRecord.outcome)
            ).all()
        return {f"{a}:{o}": int(n) for a, o, n in rows}

    def wallets(self) -> list[dict[str, Any]]:
        """Enrolled wallets, signed in (once per server)."""
        if not self.signed_in:
            enrolled = wallet_setup.enrolled(
                self.population, self.container, self.base, self.options.wallets
            )
            self.signed_in = [wallet_setup.signed_in(self.base, w) for w in enrolled]
        return self.signed_in

    def finish(self, result: dict[str, Any]) -> dict[str, Any]:
        result.update(server_memory(self.server.pid))
        result["server"] = "netid serve"
        return result


def _settle(served: Served | None = None) -> None:
    """Let the answers in flight when the load generator stopped (one per connection) be
    written before counting records: until the log has not grown for a second (a batch
    waiting for a lock can pause it for a few hundred milliseconds)."""
    if served is None:
        time.sleep(0.5)
        return
    deadline = time.monotonic() + 15
    last = served.last_index()
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = served.last_index()
        if now == last:
            return
        last = now


def _every_answer_recorded(
    served: Served, result: dict[str, Any], records: dict[str, int], answered: str | None = None
) -> bool:
    """Every acknowledged answer has its access record (of outcome ``answered``, if given),
    and none is without a request: at most one per connection more than wrk counted (the
    requests in flight when it stopped, which the server still answers), and as many again
    from the warm-up's tail should :func:`_settle` have returned during a pause."""
    total = sum(records.values())
    acknowledged = records.get(answered, 0) if answered else total
    return bool(
        result["ok"] <= acknowledged
        and total <= result["requests"] + 2 * served.options.connections
    )


def hello(served: Served) -> dict[str, Any]:
    """``GET /healthz`` of the same server: the stack's own ceiling."""
    served.wrk(WrkPlan(None, "/healthz"), "hello-warm", duration=served.options.warmup)
    return served.finish(served.wrk(WrkPlan(None, "/healthz"), "hello"))


def rsgi_hello(server: Server, options: Options, workdir: Path) -> dict[str, Any]:
    plan = WrkPlan(None, "/")
    common = {
        "connections": options.connections,
        "threads": options.wrk_threads,
        "workdir": workdir,
        "server_pid": server.pid,
    }
    wrk(server.base, plan, duration=options.warmup, name="rsgi-warm", **common)  # type: ignore[arg-type]
    result = wrk(server.base, plan, duration=options.duration, name="rsgi", **common)  # type: ignore[arg-type]
    result.update(server_memory(server.pid))
    result["server"] = "granian rsgi"
    return result


def id2(served: Served) -> dict[str, Any]:
    plan = WrkPlan(
        served.population.bodies(),
        "/v1/verifications",
        "POST",
        "application/json",
        served.population.bank_token(served.base),
    )
    served.wrk(plan, "id2-warm", duration=served.options.warmup)
    _settle(served)
    start = served.last_index()
    result = served.wrk(plan, "id2")
    _settle(served)
    records = served.records_since(start, ["verification.id2"])
    result["checks"] = {
        "every_answer_recorded": _every_answer_recorded(served, result, records),
    }
    bodies = len(served.population.bodies().read_text(encoding="utf-8").splitlines())
    result["details"] = {"access_records": records, "bodies": bodies}
    return served.finish(result)


def _one_use_plan_size(rate: float, options: Options) -> int:
    """Enough one-use lines that none is sent twice: twice the warm-up's rate."""
    return int(
        min(MAX_FILE_LINES, max(1000, rate * 2 * options.duration + 4 * options.connections))
    )


def netid_qr(served: Served) -> dict[str, Any]:
    wallets = served.wallets()
    token = served.population.bank_token(served.base)
    warm_file = served.workdir / "qr-warm.jsonl"
    wallet_setup.mint_qr_bodies(wallets, 2000 if served.options.smoke else 5000, warm_file)
    warm = served.wrk(
        WrkPlan(warm_file, "/v1/verifications", "POST", "application/json", token),
        "qr-warm",
        duration=served.options.warmup,
    )
    count = _one_use_plan_size(warm["throughput"], served.options)
    main_file = served.workdir / "qr.jsonl"
    wallet_setup.mint_qr_bodies(wallets, count, main_file)
    _settle(served)
    start = served.last_index()
    result = served.wrk(
        WrkPlan(main_file, "/v1/verifications", "POST", "application/json", token), "qr"
    )
    _settle(served)
    records = served.records_since(start, ["verification.netid_qr"])
    result["checks"] = {
        "every_token_fresh": result["requests"] <= count,
        "every_answer_recorded": _every_answer_recorded(
            served, result, records, "verification.netid_qr:match"
        ),
    }
    result["details"] = {"access_records": records, "tokens_minted": count, "wallets": len(wallets)}
    return served.finish(result)


def _assertions(served: Served, count: int, path: Path) -> None:
    """``count`` token requests (client_credentials, private_key_jwt), each assertion with a
    jti of its own: the endpoint spends every jti once."""
    bank = served.population.facts["bank"]
    client = ClientFile(
        institution_code=bank["institution_code"],
        client_id=bank["client_id"],
        token_endpoint=f"{served.base}/oauth2/token",
        api_base=served.base,
        private_jwk=bank["private_jwk"],
    )
    now = time.time()
    with path.open("w", encoding="ascii") as out:
        for _ in range(count):
            form = {
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": client_assertion(client, now=now),
            }
            out.write(urllib.parse.urlencode(form) + "\n")


def token(served: Served) -> dict[str, Any]:
    form = "application/x-www-form-urlencoded"
    warm_file = served.workdir / "token-warm.txt"
    _assertions(served, 1000 if served.options.smoke else 5000, warm_file)
    warm = served.wrk(
        WrkPlan(warm_file, "/oauth2/token", "POST", form),
        "token-warm",
        duration=served.options.warmup,
    )
    count = _one_use_plan_size(warm["throughput"], served.options)
    main_file = served.workdir / "token.txt"
    _assertions(served, count, main_file)
    _settle(served)
    start = served.last_index()
    result = served.wrk(WrkPlan(main_file, "/oauth2/token", "POST", form), "token")
    _settle(served)
    records = served.records_since(start, ["oauth.token"])
    result["checks"] = {
        "every_assertion_fresh": result["requests"] <= count,
        "every_answer_recorded": _every_answer_recorded(
            served, result, records, "oauth.token:issued"
        ),
    }
    result["details"] = {"access_records": records, "assertions": count}
    return served.finish(result)


def _remember_consents(served: Served, wallets: list[dict[str, Any]]) -> None:
    """Pre-approved consent: each wallet's person has consented to the platform's ``age``
    claims (once per population)."""
    path = served.population.root / "consents.json"
    done: list[str] = json.loads(path.read_text()) if path.exists() else []
    institution_id = served.population.facts["platform"]["institution_id"]
    container = served.container
    with container.transaction() as session:
        consents = container.consents(session)
        registry = container.registry(session)
        for wallet in wallets:
            if wallet["person_id"] in done:
                continue
            key = registry.person_key(wallet["person_id"])
            assert key is not None
            consents.grant(
                person_id=wallet["person_id"],
                person_key=key,
                institution_id=institution_id,
                purpose="real_name_registration",
                claims=["age_over_14", "age_over_16", "age_over_18"],
                days=90,
                channel="portal",
                actor="operator:bench",
                allowed_claims=frozenset({"age_over_14", "age_over_16", "age_over_18"}),
            )
            done.append(wallet["person_id"])
    path.write_text(json.dumps(done))


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(len(values) * p / 100))] * 1000, 2)


def oidc(served: Served) -> dict[str, Any]:
    """Whole logins with the Python load generator (:mod:`netid.bench.oidc_load`) in its own
    processes; the server's CPU is read at the start and end of the measured stretch."""
    options = served.options
    wallets = served.wallets()
    _remember_consents(served, wallets)
    processes = max(1, min(options.oidc_processes, options.oidc_threads))
    startup = 2.0  # a Python process's start and imports, before the warm-up
    measure_at = time.time() + startup + options.warmup
    plans: list[Path] = []
    for p in range(processes):
        sessions = [
            wallets[i % len(wallets)]["session"] for i in range(p, options.oidc_threads, processes)
        ]
        plan = served.workdir / f"oidc-plan-{p}.json"
        plan.write_text(
            json.dumps(
                {
                    "port": served.server.port,
                    "client": served.population.facts["platform"],
                    "sessions": sessions,
                    "redirect_uri": OIDC_REDIRECT_URI,
                    "measure_at": measure_at,
                    "duration_s": options.duration,
                }
            )
        )
        plans.append(plan)
    _settle(served)
    start = served.last_index()
    outs = [served.workdir / f"oidc-out-{p}.json" for p in range(processes)]
    children = []
    for plan, out in zip(plans, outs, strict=True):
        with out.open("w") as handle:
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "netid.bench.oidc_load", str(plan)], stdout=handle
                )
            )
    time.sleep(max(0.0, measure_at - time.time()))
    cpu_before = cpu_seconds(served.server.pid)
    time.sleep(options.duration)
    server_cpu = cpu_seconds(served.server.pid) - cpu_before
    for child in children:
        child.wait(timeout=options.duration + 120)
    _settle(served)
    parts = [json.loads(out.read_text().splitlines()[-1]) for out in outs]
    latencies = sorted(x for part in parts for x in part["latencies_s"])
    completed = len(latencies)
    errors = sum(part["errors"] for part in parts)
    elapsed = max(part["elapsed_s"] for part in parts)
    loadgen_cpu = sum(part["cpu_s"] for part in parts)
    records = served.records_since(
        start, ["verification.oidc", "oauth.token", "oidc.token", "oidc.userinfo"]
    )
    result: dict[str, Any] = {
        "throughput": round(completed / elapsed, 1),
        "unit": "logins/s",
        "requests": sum(part["requests"] for part in parts),
        "logins": completed,
        "ok": completed,
        "p50_ms": _percentile(latencies, 50),
        "p95_ms": _percentile(latencies, 95),
        "p99_ms": _percentile(latencies, 99),
        "max_ms": _percentile(latencies, 100),
        "errors": errors,
        "error_detail": {"first": [e for part in parts for e in part["first_errors"]][:3]},
        "duration_s": round(elapsed, 2),
        "wall_s": round(elapsed, 2),
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_cores": round(server_cpu / options.duration, 2),
        "loadgen_cpu_s": round(loadgen_cpu, 2),
        "loadgen_cpu_cores": round(loadgen_cpu / elapsed, 2),
        "checks": {
            # warm-up logins are recorded too: at least one record per measured login
            "every_login_recorded": records.get(
                "verification.oidc:match",
                sum(v for k, v in records.items() if k.startswith("verification.oidc:")),
            )
            >= completed,
        },
        "details": {
            "access_records": records,
            "requests_per_login": 8,
            "client_threads": options.oidc_threads,
            "load_generator_processes": processes,
        },
    }
    return served.finish(result)


def inclusion_proof(served: Served) -> dict[str, Any]:
    with served.container.transaction(write=False) as session:
        size = served.container.audit(session).latest_checkpoint().tree_size
    rng = random.Random(7)
    paths = served.workdir / "inclusion.txt"
    paths.write_text(
        "".join(
            f"/v1/log/proof/inclusion?index={rng.randrange(size)}&tree_size={size}\n"
            for _ in range(20_000)
        )
    )
    plan = WrkPlan(paths, "/v1/log/proof/inclusion")
    served.wrk(plan, "inclusion-warm", duration=served.options.warmup)
    result = served.wrk(plan, "inclusion")
    result["details"] = {"tree_size": size}
    return served.finish(result)


def audit_verify(population: Population, workdir: Path) -> dict[str, Any]:
    """``netid audit verify`` over the population's whole log: wall time and peak memory."""
    env = population.env(8000)
    out_path = workdir / "audit-verify.json"
    with out_path.open("w") as out:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "netid.cli", "audit", "verify"],
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    report = json.loads(out_path.read_text() or "{}")
    entries = int(report.get("size") or report.get("tree_size") or 0)
    return {
        "throughput": round(entries / seconds) if seconds else None,
        "unit": "entries/s",
        "seconds": round(seconds, 2),
        "entries": entries,
        "seconds_per_million": round(seconds * 1_000_000 / entries, 1) if entries else None,
        "errors": 0 if child.returncode == 0 else 1,
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "loadgen_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "checks": {"clean": bool(report.get("clean")) and child.returncode == 0},
        "details": {"exit_code": child.returncode},
        "server": "netid audit verify",
    }


def registry_import(backend: str, options: Options, workdir: Path) -> dict[str, Any]:
    """Imports of N/4 and N generated people, each in a fresh database and a child process."""
    large = options.import_people
    small = max(1, large // 4)
    today = today_in_china(SystemClock())
    runs = {}
    for n in (small, large):
        file = workdir / f"import-{n}.jsonl"
        if not file.exists():
            write_population(file, people=n, seed=options.seed, today=today)
        runs[n] = run_child(
            backend, file, workdir / f"import-{backend}-{n}", options.import_workers
        )
    big, little = runs[large], runs[small]
    growth = (
        round(big["peak_rss_mib"] / little["peak_rss_mib"], 2) if little["peak_rss_mib"] else None
    )
    return {
        "throughput": big["people_per_second"],
        "unit": "people/s",
        "seconds": big["seconds"],
        "errors": big["rejected"],
        "peak_rss_mib": big["peak_rss_mib"],
        "rss_growth": growth,
        "checks": {"every_person_imported": big["people"] == large and little["people"] == small},
        "details": {"at_n": big, "at_quarter_n": little, "import_workers": options.import_workers},
        "server": "in-process import",
    }
