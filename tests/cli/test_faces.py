"""``netid faces`` end to end through the real command, on every database backend."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from netid.audit.models import AccessRecord
from netid.config import Settings
from netid.container import Container
from netid.faces import DlibFaceMatcher
from tests.conftest import Backend
from tests.faces.photos import photo
from tests.registry.factories import person_record
from tests.registry.test_service import load


class Netid:
    def __init__(self, db: Backend | None, data_dir: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
        self.env.update(NETID_DATA_DIR=str(data_dir))
        if db is not None:
            self.env["NETID_DATABASE_URL"] = db.url
        if db is not None and db.schema:
            self.env["NETID_DATABASE_SCHEMA"] = db.schema

    def run(
        self, *args: str, expect: int = 0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "netid.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            input=stdin,
        )
        assert result.returncode == expect, (result.returncode, result.stderr[-2000:])
        assert "Traceback" not in result.stderr
        return result

    def json(self, *args: str, stdin: str | None = None) -> Any:
        return json.loads(self.run(*args, stdin=stdin).stdout.splitlines()[-1])

    def error(self, *args: str, expect: int, stdin: str | None = None) -> dict[str, Any]:
        result = self.run(*args, expect=expect, stdin=stdin)
        error: dict[str, Any] = json.loads(result.stderr.splitlines()[-1])["error"]
        return error


def save(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.db
def test_enrol_stores_the_template_not_the_image(
    container: Container, settings: Settings, db: Backend, tmp_path: Path
) -> None:
    record = person_record(random.Random(3))
    load(container, [record])
    number = record["documents"][0]["number"]
    netid = Netid(db, settings.data_dir)
    assert settings.master_key
    netid.env["NETID_MASTER_KEY"] = settings.master_key
    astronaut = save(tmp_path, "a.png", photo("astronaut.png"))

    enrolled = netid.run("faces", "enrol", "--document", "-", "--image", astronaut, stdin=number)
    assert json.loads(enrolled.stdout) == {"enrolled": True, "model": "dlib-resnet-v1"}
    assert number not in enrolled.stdout + enrolled.stderr

    expected = DlibFaceMatcher().template(photo("astronaut.png"))
    with container.registry_unit() as registry:
        person_id = registry.find_person_id(number)
        assert person_id is not None
        stored = registry.load_face_template(person_id, actor="test", purpose="face-check")
    assert stored == expected  # the template, not the image
    with container.transaction(write=False) as session:
        actions = session.scalars(
            select(AccessRecord.action).where(AccessRecord.action.like("registry.face_%"))
        ).all()
    assert sorted(actions) == ["registry.face_template.load", "registry.face_template.store"]

    # Refusals: unknown person, an image that is no face image, a group photo.
    unknown = netid.error(
        "faces", "enrol", "--document", "11010519491231002X", "--image", astronaut, expect=66
    )
    assert unknown["code"] == "person_not_found"
    gif = io.BytesIO()
    Image.new("RGB", (64, 64)).save(gif, "GIF")
    bad = netid.error(
        "faces", "enrol", "--document", number, "--image", save(tmp_path, "x.gif", gif.getvalue()),
        expect=65,
    )  # fmt: skip
    assert bad["code"] == "invalid_image"
    assert bad["details"] == {"image": "image"}
    group = save(tmp_path, "g.jpg", photo("group.jpg"))
    many = netid.error("faces", "enrol", "--document", number, "--image", group, expect=65)
    assert many["code"] == "multiple_faces"
    missing = netid.error(
        "faces", "enrol", "--document", number, "--image", str(tmp_path / "nope.png"), expect=74
    )
    assert missing["code"] == "file_error"
    assert "nope" not in missing["message"]


def test_compare_prints_only_numbers(tmp_path: Path) -> None:
    netid = Netid(None, tmp_path / "var")  # two files: no database, no keys
    astronaut = save(tmp_path, "a.png", photo("astronaut.png"))
    hanks = save(tmp_path, "h.png", photo("tom_hanks.png"))
    different = netid.json("faces", "compare", astronaut, hanks)
    assert set(different) == {"model", "similarity", "distance", "match"}
    assert different["match"] is False
    assert different["distance"] == pytest.approx(0.7435, abs=1e-3)
    crop = io.BytesIO()
    Image.open(astronaut).convert("RGB").crop((100, 20, 360, 300)).save(crop, "JPEG")
    same = netid.json("faces", "compare", save(tmp_path, "c.jpg", crop.getvalue()), astronaut)
    assert same["match"] is True
    assert same["similarity"] > 0.9
    noface = save(tmp_path, "n.png", photo("astronaut.png"))
    Image.new("RGB", (200, 200), (90, 90, 90)).save(noface, "PNG")
    none = netid.error("faces", "compare", astronaut, noface, expect=65)
    assert none["code"] == "no_face_found"
    assert none["details"] == {"image": "second"}
