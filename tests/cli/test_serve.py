"""``make run`` in miniature: demo setup, then the real server answering over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_setup_then_serve(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
    env["NETID_DATA_DIR"] = str(tmp_path / "var")
    netid = [sys.executable, "-m", "netid.cli"]

    def demo_setup() -> dict[str, int]:
        result = subprocess.run(
            [*netid, "demo", "setup", "--people", "200"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        outcome: dict[str, int] = json.loads(result.stdout.splitlines()[-1])
        return outcome

    assert demo_setup()["loaded"] == 200
    assert demo_setup() == {"people": 200, "loaded": 0}
    assert (tmp_path / "var" / "netid.sqlite3").exists()

    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [*netid, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        assert httpx.get(f"{base}/readyz").json() == {"status": "ready"}
        assert httpx.get(f"{base}/docs").status_code == 200
        checked = httpx.post(f"{base}/v1/documents/check", json={"numbers": ["830000198501010030"]})
        assert checked.json()["results"][0]["type"] == "residence_permit"
        bad = httpx.post(
            f"{base}/v1/documents/check", content=b"{", headers={"content-type": "application/json"}
        )
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
