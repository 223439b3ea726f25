"""The migration history has one head, and the database reports it after an upgrade."""

from __future__ import annotations

import pytest

from netid.db import migrate
from tests.conftest import Backend

pytestmark = pytest.mark.db


def test_one_head() -> None:
    # Branches written in parallel (issue 3: 0002-0005, issue 4: 0007-0009) are joined by
    # merge revisions (0006, 0010): the history ends in one head.
    assert migrate.head_revisions() == {"0017"}


def test_upgraded_database_is_at_the_head(db: Backend) -> None:
    assert migrate.current_revisions(db.engine) == migrate.head_revisions()
    assert migrate.is_up_to_date(db.engine)
