"""One run of the harness: every selected scenario on every selected backend, then the result
files and the summary (``netid bench run``; ``netid bench smoke`` is the same, tiny)."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from netid.bench import scenarios as sc
from netid.bench.common import free_port, git_commit, machine, utc_now
from netid.bench.population import prepare
from netid.bench.results import record, write_summary
from netid.bench.scenarios import Options, Served
from netid.bench.server import granian_available, netid_serve, rsgi_hello

# Scenarios served by `netid serve`, in the order they run against one server.
SERVED: dict[str, Callable[[Served], dict[str, Any]]] = {
    "hello": sc.hello,
    "id2": sc.id2,
    "netid_qr": sc.netid_qr,
    "token": sc.token,
    "oidc": sc.oidc,
    "inclusion_proof": sc.inclusion_proof,
}
SCENARIOS = ["hello", "rsgi_hello", *list(SERVED)[1:], "registry_import", "audit_verify"]
BACKENDS = ["sqlite", "postgresql"]
UNITS = {"hello": "requests/s", "rsgi_hello": "requests/s", "inclusion_proof": "proofs/s"}
UNITS |= {"id2": "verifications/s", "netid_qr": "verifications/s", "token": "tokens/s"}


def smoke_options(results: Path, cache: Path, backends: list[str] | None = None) -> Options:
    """Every scenario, tiny: seconds, not minutes."""
    return Options(
        scenarios=list(SCENARIOS),
        backends=backends or ["sqlite"],
        people=200,
        results=results,
        cache=cache,
        duration=1.0,
        warmup=1.0,
        connections=8,
        workers=1,
        wrk_threads=1,
        wallets=2,
        oidc_threads=2,
        oidc_processes=1,
        import_people=200,
        import_workers=1,
        smoke=True,
    )


def _say(say: TextIO | None, message: str) -> None:
    if say is not None:
        say.write(f"[bench] {message}\n")
        say.flush()


def run(options: Options, *, say: TextIO | None = sys.stderr) -> list[dict[str, Any]]:
    unknown = set(options.scenarios) - set(SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if set(options.backends) - set(BACKENDS):
        raise ValueError(f"backends are {', '.join(BACKENDS)}")
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is needed (Debian: apt-get install wrk; `make venv` installs it)")
    started = utc_now()
    meta = {
        "run_id": started.strftime("%Y%m%dT%H%M%SZ"),
        "at": started.isoformat(timespec="seconds"),
        "date": started.date().isoformat(),
        "git_commit": git_commit(),
        "machine": machine(),
        "smoke": options.smoke,
    }
    results: list[dict[str, Any]] = []
    workdir = Path(tempfile.mkdtemp(prefix="netid-bench-"))

    def settings(backend: str, **more: Any) -> dict[str, Any]:
        return {
            "backend": backend,
            "workers": options.workers,
            "connections": options.connections,
            "duration_s": options.duration,
            "warmup_s": options.warmup,
            "wrk_threads": options.wrk_threads,
            "people": options.people,
            **more,
        }

    def add(scenario: str, backend: str, result: dict[str, Any], **more: Any) -> None:
        result.setdefault("unit", UNITS.get(scenario, "/s"))
        entry = {"scenario": scenario, "backend": backend, **meta, **result}
        entry["settings"] = settings(backend, **more) | result.get("settings", {})
        results.append(entry)
        _say(
            say,
            f"{scenario} [{backend}]: {result.get('throughput')} {result['unit']}, "
            f"p99 {result.get('p99_ms')} ms, errors {result.get('errors')}",
        )

    try:
        if "rsgi_hello" in options.scenarios and granian_available():
            with rsgi_hello(workers=options.workers, log_path=workdir / "rsgi.log") as server:
                add("rsgi_hello", "none", sc.rsgi_hello(server, options, workdir))
        elif "rsgi_hello" in options.scenarios:
            _say(say, "rsgi_hello skipped: granian is not installed (the dev extra has it)")
        for backend in options.backends:
            served = [s for s in SERVED if s in options.scenarios]
            if served or "audit_verify" in options.scenarios:
                population = prepare(
                    options.cache,
                    backend=backend,
                    people=options.people,
                    seed=options.seed,
                    log_entries=options.log_entries,
                    import_workers=options.import_workers,
                    say=say,
                )
                synchronous = population.synchronous()
            if served:
                port = free_port()
                container = population.container(port)
                with netid_serve(
                    population.env(port),
                    workers=options.workers,
                    log_path=workdir / f"serve-{backend}.log",
                ) as server:
                    context = Served(options, population, server, container, workdir)
                    for scenario in ["hello", *[s for s in served if s != "hello"]]:
                        _say(say, f"{scenario} [{backend}] …")
                        add(
                            scenario,
                            backend,
                            SERVED[scenario](context),
                            synchronous=synchronous,
                            load_generator="python" if scenario == "oidc" else "wrk",
                        )
                container.engine.dispose()
            if "audit_verify" in options.scenarios:
                _say(say, f"audit_verify [{backend}] …")
                add(
                    "audit_verify",
                    backend,
                    sc.audit_verify(population, workdir),
                    synchronous=synchronous,
                    log_entries=population.facts.get("log_size"),
                )
            if "registry_import" in options.scenarios:
                _say(say, f"registry_import [{backend}] …")
                add(
                    "registry_import",
                    backend,
                    sc.registry_import(backend, options, workdir),
                    people=options.import_people,
                    import_workers=options.import_workers,
                )
    except BaseException:
        # The CLI prints no traceback (it may show data); the harness's own goes to a file.
        (workdir / "harness-error.txt").write_text(traceback.format_exc())
        _say(say, f"failed: the servers' logs, the traceback and the load files are in {workdir}")
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    _ratios(results)
    record(options.results, results)
    write_summary(options.results)
    _say(say, f"results in {options.results} ({time.strftime('%H:%M:%S')})")
    return results


def _ratios(results: list[dict[str, Any]]) -> None:
    """Each served result over the same run's hello of its backend and over rsgi_hello."""
    hello = {r["backend"]: r["throughput"] for r in results if r["scenario"] == "hello"}
    rsgi = next((r["throughput"] for r in results if r["scenario"] == "rsgi_hello"), None)
    for result in results:
        throughput = result.get("throughput")
        if throughput is None or result.get("server") not in ("netid serve", "granian rsgi"):
            continue
        base = hello.get(result["backend"])
        result["ratio_to_hello"] = round(throughput / base, 3) if base else None
        result["ratio_to_rsgi_hello"] = round(throughput / rsgi, 3) if rsgi else None
