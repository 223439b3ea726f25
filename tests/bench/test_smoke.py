"""The benchmark harness's smoke mode, for real: `netid bench smoke` starts the real server
(and granian's RSGI hello-world) in subprocesses and drives them with the real wrk and the
Python load generator. Structure and sanity only — never timing targets (issue 7 §3)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netid.bench.runner import SCENARIOS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is installed by `make venv`"),
]


def test_smoke_runs_every_scenario_and_writes_the_results(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
    if "NETID_TEST_DATABASE_URL" in os.environ:
        env["NETID_TEST_DATABASE_URL"] = os.environ["NETID_TEST_DATABASE_URL"]
    out = subprocess.run(
        [sys.executable, "-m", "netid.cli", "bench", "smoke", "--results", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == str(tmp_path / "SUMMARY.md")

    files = sorted(p.name for p in tmp_path.glob("*.json"))
    results = {}
    for path in tmp_path.glob("*.json"):
        (entry,) = json.loads(path.read_text())  # one run of each scenario
        assert path.name == f"{entry['date']}-{entry['scenario']}.json"
        results[entry["scenario"]] = entry
    assert set(results) == set(SCENARIOS), files

    run_ids = {r["run_id"] for r in results.values()}
    assert len(run_ids) == 1
    for name, result in results.items():
        assert result["smoke"] is True
        assert result["errors"] == 0, (name, result.get("error_detail"))
        assert result["throughput"] > 0, name
        assert all(result.get("checks", {}).values()), (
            name,
            result["checks"],
            result.get("details"),
        )
        assert result["settings"]["people"] > 0
        assert "machine" in result
        assert "git_commit" in result
    for name in ("hello", "rsgi_hello", "id2", "netid_qr", "token", "inclusion_proof"):
        result = results[name]
        assert result["requests"] > 0, name
        assert result["ok"] == result["requests"], name
        assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"], name
        assert result["loadgen_cpu_s"] >= 0
        assert result["server_cpu_s"] > 0, name
        assert result["peak_rss_mib_max_worker"] > 0, name
        assert result["ratio_to_rsgi_hello"] > 0, name
    for name in ("id2", "netid_qr", "token", "oidc", "inclusion_proof"):
        assert results[name]["ratio_to_hello"] > 0, name
        assert results[name]["settings"]["synchronous"].endswith("synchronous=FULL"), name
    assert results["oidc"]["logins"] > 0
    assert results["oidc"]["settings"]["load_generator"] == "python"
    assert results["audit_verify"]["checks"]["clean"]
    assert results["audit_verify"]["entries"] >= 200  # the population's log, and the runs'
    imported = results["registry_import"]["details"]
    assert imported["at_n"]["people"] == 200
    assert imported["at_quarter_n"]["people"] == 50

    summary = (tmp_path / "SUMMARY.md").read_text()
    for name in SCENARIOS:
        assert f"| {name} |" in summary
