"""The migration history has one head, and the database reports it after an upgrade."""

from __future__ import annotations

import pytest

from netid.db import migrate
from tests.conftest import Backend

pytestmark = pytest.mark.db


def test_one_head() -> None:
    # Issue 4's branches (0007 log, 0008 admins, 0009 monitoring) each sit on 0006 until the
    # lead's merge revision joins them.
    heads = migrate.head_revisions()
    assert "0007" in heads
    assert heads <= {"0007", "0008", "0009"}


def test_upgraded_database_is_at_the_head(db: Backend) -> None:
    assert migrate.current_revisions(db.engine) == migrate.head_revisions()
    assert migrate.is_up_to_date(db.engine)
