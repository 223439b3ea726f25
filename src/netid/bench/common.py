"""Where the harness keeps things, and facts about the machine and the checkout."""

from __future__ import annotations

import datetime as dt
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any


def checkout_root() -> Path:
    """The source checkout this package runs from (results and cache live in its ``bench/``);
    the working directory when the package is installed elsewhere."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "bench").is_dir():
            return parent
    return Path.cwd()


def default_results_dir() -> Path:
    return checkout_root() / "bench" / "results"


def default_cache_dir() -> Path:
    return checkout_root() / "bench" / ".cache"


def postgresql_url() -> str:
    """The PostgreSQL server the PostgreSQL runs use (the test suite's, by default)."""
    return os.environ.get(
        "NETID_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, no input
            capture_output=True,
            text=True,
            check=False,
            cwd=checkout_root(),
        )
    except OSError:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
        cwd=checkout_root(),
    )
    commit = out.stdout.strip()
    if not commit:
        return None
    return commit + ("+dirty" if dirty.stdout.strip() else "")


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "system": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
