"""Fixtures: the counter store to run under (the database, or the real Redis at
127.0.0.1:6379 under a key prefix of the test's own), and a bank to monitor."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from redis import Redis

REDIS_URL = os.environ.get("NETID_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"netid-test:{secrets.token_hex(6)}:"
    yield prefix
    client = Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(params=["database", "redis"])
def store(request: pytest.FixtureRequest, redis_prefix: str) -> dict[str, str | None]:
    """Container arguments selecting the counter store."""
    if request.param == "redis":
        return {"redis_url": REDIS_URL, "redis_prefix": redis_prefix}
    return {"redis_url": None, "redis_prefix": redis_prefix}
