"""One QR nonce, 50 concurrent redemptions spread over TWO real ``netid serve`` processes that
share PostgreSQL and Redis: exactly one is answered, the 49 others are ``qr_replayed``, and
all 50 are in the log (issue 5 §5, SEC-16)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import func, select

from netid.audit.models import AccessRecord
from netid.client.rp import ASSERTION_TYPE, client_assertion
from netid.config import Settings
from netid.core.clock import FixedClock
from tests.conftest import REDIS_URL, Backend
from tests.enrolment.support import make_world
from tests.verification.support import ApprovedInstitution
from tests.verification.test_qr import Wallet


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.2)


def test_fifty_redemptions_over_two_servers_one_success(
    settings: Settings, db: Backend, tmp_path: Path, redis_prefix: str
) -> None:
    if db.name != "postgresql":
        pytest.skip("two server processes share one PostgreSQL (SQLite is one node)")
    world = make_world(settings, db)
    # The servers run on the real clock: move the world's clock there before enrolling.
    assert isinstance(world.clock, FixedClock)
    world.clock.advance(dt.datetime.now(dt.UTC) - world.clock.now())
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    text = wallet.qr()

    assert settings.master_key is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
    env.update(
        NETID_DATA_DIR=str(settings.data_dir),
        NETID_DATABASE_URL=db.url,
        NETID_DATABASE_SCHEMA=db.schema or "",
        NETID_MASTER_KEY=settings.master_key,
        NETID_REDIS_URL=REDIS_URL,
        NETID_REDIS_PREFIX=redis_prefix,
        # One public URL for both: a token from one node is good on the other.
        NETID_PUBLIC_URL=world.container.api_base_url(),
    )
    ports = [free_port(), free_port()]
    servers, logs, handles = [], [], []
    try:
        for port in ports:
            log = tmp_path / f"serve-{port}.log"
            logs.append(log)
            handles.append(log.open("wb"))
            servers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "netid.cli", "serve", "--port", str(port)],
                    env=env,
                    stdout=handles[-1],
                    stderr=subprocess.STDOUT,
                )
            )
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base, server, log in zip(bases, servers, logs, strict=True):
            wait_healthy(base, server, log)
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(bank.client_file),
        }
        token = httpx.post(f"{bases[0]}/oauth2/token", data=form).json()["access_token"]
        body = {"type": "netid_qr", "purpose": "payment", "qr": text}
        statuses: list[int] = []
        lock = threading.Lock()
        start = threading.Barrier(50)

        def redeem(i: int) -> None:
            start.wait()
            answer = httpx.post(
                f"{bases[i % 2]}/v1/verifications",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            with lock:
                statuses.append(answer.status_code)

        threads = [threading.Thread(target=redeem, args=(i,)) for i in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=15)
        for handle in handles:
            handle.close()
    assert sorted(statuses) == [200] + [409] * 49, statuses
    with world.container.transaction(write=False) as session:
        outcomes = session.execute(
            select(AccessRecord.outcome, func.count())
            .where(AccessRecord.action == "verification.netid_qr")
            .group_by(AccessRecord.outcome)
        ).all()
    assert dict(outcomes) == {"match": 1, "refused": 49}
