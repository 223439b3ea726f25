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
    port = free_port()
    # The port is a setting, not only a flag: the demo's client files name the token
    # endpoint and API base of the running server.
    env["NETID_PORT"] = str(port)
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

    first = demo_setup()
    assert first["loaded"] == 200 and len(first["institutions_created"]) == 3
    assert demo_setup() == {"people": 200, "loaded": 0, "institutions_created": []}
    assert (tmp_path / "var" / "netid.sqlite3").exists()
    demo = tmp_path / "var" / "demo"
    for path in [*(demo / "institutions").iterdir(), demo / "people.jsonl"]:
        assert path.stat().st_mode & 0o777 == 0o600, path  # private keys, plaintext people

    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen([*netid, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
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
        relying_party_verifies_someone(netid, env, demo)
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def relying_party_verifies_someone(netid: list[str], env: dict[str, str], demo: Path) -> None:
    """The README's "try it": the demo bank verifies a demo person over real HTTP."""
    person = json.loads((demo / "people.jsonl").read_text(encoding="utf-8").splitlines()[0])

    def client_verify(*extra: str) -> tuple[int, dict[str, object]]:
        result = subprocess.run(
            [
                *netid,
                "client",
                "verify",
                "--institution",
                str(demo / "institutions" / "bank.json"),
                "--document",
                person["document_number"],
                "--purpose",
                "account_opening",
                *extra,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return result.returncode, json.loads(result.stdout)

    code, out = client_verify("--name", person["name"])
    assert code == 0, out
    answer = out["answer"]
    assert isinstance(answer, dict) and answer["result"] == "match" and answer["pseudonym"]
    code, out = client_verify("--name", person["name"] + "错")
    assert code == 0 and isinstance(out["answer"], dict) and out["answer"]["result"] == "mismatch"
    code, out = client_verify("--name", person["name"], "--claims", "name")
    assert code == 1 and out["status"] == 403
    assert isinstance(out["answer"], dict)
    assert out["answer"]["error"]["code"] == "consent_required"
