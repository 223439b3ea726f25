"""The container loads the catalogue named by NETID_POLICY_CATALOGUE, once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netid.config import Settings
from netid.container import Container
from netid.policy import CatalogueInvalid, default_catalogue

from .support import shipped_document


def test_default_is_the_shipped_catalogue(tmp_path: Path) -> None:
    container = Container(Settings(data_dir=tmp_path))
    assert container.catalogue() == default_catalogue()
    assert container.catalogue() is container.catalogue()


def test_the_setting_points_to_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = shipped_document()
    doc["version"] = "operator-7"
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    monkeypatch.setenv("NETID_POLICY_CATALOGUE", str(path))
    settings = Settings(data_dir=tmp_path)
    assert settings.policy_catalogue == path
    assert Container(settings).catalogue().version == "operator-7"


def test_a_broken_file_fails_at_load(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(CatalogueInvalid, match="missing key"):
        Container(Settings(data_dir=tmp_path, policy_catalogue=path)).catalogue()
