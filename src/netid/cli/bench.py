"""``netid bench``: the benchmark harness (issue 7 §1) — ``run``, ``smoke`` and ``summary``.

Typer stays in this file; the harness is :mod:`netid.bench`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

bench_app = typer.Typer(help="Benchmarks: the harness and its results.", no_args_is_help=True)


def _list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@bench_app.command("run")
def bench_run(
    scenarios: Annotated[
        str | None, typer.Option(help="Comma list (default: all); see `netid bench scenarios`")
    ] = None,
    backends: Annotated[str, typer.Option(help="sqlite,postgresql")] = "sqlite,postgresql",
    people: Annotated[int, typer.Option(min=1, help="Registry size (cached)")] = 1_000_000,
    duration: Annotated[float, typer.Option(min=1, max=45, help="Seconds per measured run")] = 20,
    warmup: Annotated[float, typer.Option(min=1, help="Seconds of warm-up per scenario")] = 3,
    connections: Annotated[int, typer.Option(min=1)] = 32,
    workers: Annotated[int, typer.Option(min=1, max=64, help="netid serve --workers")] = 2,
    wrk_threads: Annotated[int, typer.Option(min=1)] = 2,
    wallets: Annotated[int, typer.Option(min=1, max=64)] = 16,
    oidc_threads: Annotated[int, typer.Option(min=1)] = 16,
    oidc_processes: Annotated[int, typer.Option(min=1)] = 2,
    import_people: Annotated[
        int | None, typer.Option(min=4, help="registry_import size (default: min(people, 100k))")
    ] = None,
    seed: int = 1,
    results: Annotated[Path | None, typer.Option(help="Default: bench/results")] = None,
    cache: Annotated[Path | None, typer.Option(help="Default: bench/.cache")] = None,
) -> None:
    """The full harness: every scenario on every backend, results and SUMMARY.md."""
    from netid.bench.common import default_cache_dir, default_results_dir
    from netid.bench.runner import SCENARIOS, run
    from netid.bench.scenarios import Options

    options = Options(
        scenarios=_list(scenarios) if scenarios else list(SCENARIOS),
        backends=_list(backends),
        people=people,
        results=results or default_results_dir(),
        cache=cache or default_cache_dir(),
        seed=seed,
        duration=duration,
        warmup=warmup,
        connections=connections,
        workers=workers,
        wrk_threads=wrk_threads,
        wallets=wallets,
        oidc_threads=oidc_threads,
        oidc_processes=oidc_processes,
        import_people=import_people or min(people, 100_000),
        import_workers=os.cpu_count() or 1,
    )
    run(options)
    typer.echo(str(options.results / "SUMMARY.md"))


@bench_app.command("smoke")
def bench_smoke(
    backends: Annotated[str, typer.Option(help="sqlite (add postgresql if you like)")] = "sqlite",
    results: Annotated[Path | None, typer.Option(help="Default: a temporary directory")] = None,
    cache: Annotated[
        Path | None, typer.Option(help="Default: inside the results directory")
    ] = None,
) -> None:
    """Every scenario, tiny (200 people, 1 s runs, 1 worker): seconds, to keep the harness
    working. Never compared with the targets' figures."""
    from netid.bench.runner import run, smoke_options

    out = results or Path(tempfile.mkdtemp(prefix="netid-bench-smoke-"))
    run(smoke_options(out, cache or out / ".cache", _list(backends)))
    sys.stdout.write(str(out / "SUMMARY.md") + "\n")


@bench_app.command("summary")
def bench_summary(
    results: Annotated[Path | None, typer.Option(help="Default: bench/results")] = None,
) -> None:
    """Regenerate SUMMARY.md from the result files and print it."""
    from netid.bench.common import default_results_dir
    from netid.bench.results import write_summary

    path = write_summary(results or default_results_dir())
    sys.stdout.write(path.read_text(encoding="utf-8"))


@bench_app.command("scenarios")
def bench_scenarios() -> None:
    """The scenarios, in the order they run."""
    from netid.bench.runner import SCENARIOS

    sys.stdout.write("\n".join(SCENARIOS) + "\n")
