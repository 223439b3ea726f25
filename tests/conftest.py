"""Shared fixtures. Database tests run once per backend: SQLite (a file in a temp dir) and
PostgreSQL (``NETID_TEST_DATABASE_URL``, default the local server's ``test`` database), each
run in its own schema so concurrent runs never collide. The schema is built by running the
migrations, once per backend per session; each test starts from empty tables."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import Engine, text

from netid.config import Settings
from netid.container import Container
from netid.crypto.sealing import generate_seal_key
from netid.db import migrate
from netid.db.append_only import unsafe_append_only_disabled
from netid.db.engine import make_engine
from netid.keys.master import format_master_key
from netid.models import metadata

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# The real Redis of this machine; each test that uses it gets a key prefix of its own.
REDIS_URL = os.environ.get("NETID_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BACKENDS = [b for b in os.environ.get("NETID_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


class Backend:
    def __init__(self, name: str, url: str, schema: str | None, engine: Engine) -> None:
        self.name = name
        self.url = url
        self.schema = schema
        self.engine = engine

    def clean(self) -> None:
        # The log tables refuse DELETE (netid.db.append_only): the triggers are removed and
        # put back around the cleanup, in the same transaction.
        with self.engine.begin() as conn, unsafe_append_only_disabled(conn):
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    name = request.param
    if name == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "netid.sqlite3"
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        yield Backend(name, url, None, engine)
        engine.dispose()
        return
    url = os.environ.get("NETID_TEST_DATABASE_URL", DEFAULT_PG_URL)
    schema = f"t_{os.getpid()}_{secrets.token_hex(4)}"
    engine = make_engine(url, schema=schema)
    migrate.upgrade(engine)
    yield Backend(name, url, schema, engine)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def db(backend: Backend) -> Iterator[Backend]:
    backend.clean()
    yield backend
    backend.clean()


@pytest.fixture
def settings(db: Backend, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=db.url,
        database_schema=db.schema,
        master_key=format_master_key(generate_seal_key()),
    )


@pytest.fixture
def container(settings: Settings, db: Backend) -> Container:
    """A container on the test database with an initialised keyring."""
    c = Container(settings, engine=db.engine)
    with c.transaction() as session:
        c.keyring_service(session).initialise()
    return c


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the real Redis; its keys are deleted afterwards."""
    prefix = f"netid-test:{secrets.token_hex(6)}:"
    yield prefix
    client = Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
