"""Fixtures: the counter store to run under (the database, or the real Redis at
127.0.0.1:6379 under a key prefix of the test's own: tests/conftest.py's ``redis_prefix``)."""

from __future__ import annotations

import pytest

from tests.conftest import REDIS_URL


@pytest.fixture(params=["database", "redis"])
def store(request: pytest.FixtureRequest, redis_prefix: str) -> dict[str, str | None]:
    """Container arguments selecting the counter store."""
    if request.param == "redis":
        return {"redis_url": REDIS_URL, "redis_prefix": redis_prefix}
    return {"redis_url": None, "redis_prefix": redis_prefix}
