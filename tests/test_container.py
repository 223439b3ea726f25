from __future__ import annotations

from pathlib import Path

import pytest

from netid.config import Settings
from netid.container import Container
from netid.core.errors import ConfigurationError


def test_dev_profile_accepts_defaults(tmp_path: Path) -> None:
    Container(Settings(data_dir=tmp_path)).check_profile()


def test_production_needs_a_public_url(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "var", profile="production", master_key_file=tmp_path / "m.key"
    )
    with pytest.raises(ConfigurationError, match="NETID_PUBLIC_URL"):
        Container(settings).check_profile()


def test_production_refuses_a_master_key_inside_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "var", profile="production", public_url="https://id.example.test"
    )
    with pytest.raises(ConfigurationError, match="outside the data directory"):
        Container(settings).check_profile()
    Container(
        settings.model_copy(update={"master_key_file": tmp_path / "elsewhere" / "m.key"})
    ).check_profile()


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    url = Settings(data_dir=tmp_path).resolved_database_url
    assert url == f"sqlite:///{tmp_path.resolve()}/netid.sqlite3"
