"""Redis down: verifications fail closed with ``monitoring_unavailable`` (503 over HTTP), and
recover by themselves when Redis returns. A real redis-server of the test's own, stopped and
started again on the same port (no mocks)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError
from starlette.testclient import TestClient

from netid.container import Container
from netid.web.app import create_app
from tests.monitoring.support import ask, id2, monitored_container, rules_document, unknown_numbers
from tests.verification.support import ApprovedInstitution, approved

pytestmark = [
    pytest.mark.db,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client = Redis(port=self.port, socket_connect_timeout=0.2)
                if client.ping():
                    client.close()
                    return
            except (OSError, RedisError):  # not listening yet
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


def test_service_fails_closed_and_recovers(
    container: Container, tmp_path: Path, redis_server: RedisServer
) -> None:
    c = monitored_container(
        container,
        tmp_path,
        rules_document(distinct_people={"max_distinct": 100}),
        redis_url=redis_server.url,
    )
    institution = approved(
        c, industry="banking_finance", purposes=["account_opening"], quotas={"id2": 100}
    ).id
    numbers = unknown_numbers(4)
    assert ask(c, institution, id2(numbers[0])).answer is not None

    redis_server.stop()
    down = ask(c, institution, id2(numbers[1]))
    assert down.answer is None
    assert down.refusal is not None
    assert down.refusal.code == "monitoring_unavailable"
    assert "receipt" in down.refusal.details  # a recorded refusal, like any other
    assert "redis" not in down.refusal.message.lower()

    redis_server.start()  # same port, empty: the service reconnects by itself
    back = ask(c, institution, id2(numbers[2]))
    assert back.answer is not None
    assert back.answer.result == "mismatch"


def test_http_answers_503_while_redis_is_down(
    container: Container, tmp_path: Path, redis_server: RedisServer
) -> None:
    c = monitored_container(
        container,
        tmp_path,
        rules_document(distinct_people={"max_distinct": 100}),
        redis_url=redis_server.url,
    )
    bank = ApprovedInstitution(c, quotas={"id2": 100})
    numbers = unknown_numbers(3)
    with TestClient(create_app(c)) as http:
        headers = {"Authorization": f"Bearer {bank.token(http)}"}
        assert (
            http.post("/v1/verifications", json=id2(numbers[0]), headers=headers).status_code == 200
        )
        assert http.get("/readyz").status_code == 200
        redis_server.stop()
        response = http.post("/v1/verifications", json=id2(numbers[1]), headers=headers)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "monitoring_unavailable"
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"]["code"] == "monitoring_unavailable"
        redis_server.start()
        assert http.get("/readyz").status_code == 200
        response = http.post("/v1/verifications", json=id2(numbers[2]), headers=headers)
        assert response.status_code == 200, response.text
