"""The servers under test, each a subprocess for the length of a ``with`` block."""

from __future__ import annotations

import http.client
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from netid.bench.common import free_port
from netid.bench.measure import workers

START_TIMEOUT_S = 120


@dataclass(frozen=True)
class Server:
    pid: int
    port: int
    workers: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _answers(port: int, path: str) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


@contextmanager
def _running(
    command: list[str], env: dict[str, str], *, port: int, count: int, log_path: Path, probe: str
) -> Iterator[Server]:
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            # Up once it answers and every worker process exists (uvicorn's supervisor binds
            # the socket before its workers have imported the application).
            while not (
                _answers(port, probe) and (count == 1 or len(workers(process.pid)) >= count)
            ):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start: see {log_path}")
                time.sleep(0.2)
            for _ in range(4 * count):  # give each worker a first request
                _answers(port, probe)
            yield Server(process.pid, port, count)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@contextmanager
def netid_serve(env: dict[str, str], *, workers: int, log_path: Path) -> Iterator[Server]:
    """``netid serve --workers W`` with ``env`` (which names its port, NETID_PORT)."""
    command = [sys.executable, "-m", "netid.cli", "serve", "--workers", str(workers)]
    with _running(
        command,
        env,
        port=int(env["NETID_PORT"]),
        count=workers,
        log_path=log_path,
        probe="/healthz",
    ) as server:
        yield server


def granian_available() -> bool:
    return importlib.util.find_spec("granian") is not None


@contextmanager
def rsgi_hello(*, workers: int, log_path: Path) -> Iterator[Server]:
    """A bare granian RSGI hello-world (:mod:`netid.bench.rsgi_hello`): the ceiling of a
    Python HTTP server on this machine, so that a slow stack cannot make a ratio look good."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "rsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "netid.bench.rsgi_hello:app",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
    with _running(command, env, port=port, count=workers, log_path=log_path, probe="/") as server:
        yield server
