"""Build or upgrade the schema by running the Alembic migrations (never ``create_all``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def autogenerate(engine: Engine, metadata: MetaData, message: str) -> None:
    """Developer tool: write a new revision from the difference to ``metadata``."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["target_metadata"] = metadata
        command.revision(config, message=message, autogenerate=True)
