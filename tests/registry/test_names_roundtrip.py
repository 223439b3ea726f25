"""Names survive import → database → export byte-exact, on every backend (SEC-45)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import orjson
import pytest

from netid.container import Container
from tests.registry.factories import person_record
from tests.registry.test_importer import import_file

pytestmark = pytest.mark.db
CORPUS = Path(__file__).parents[1] / "core" / "vectors" / "names.json"


def test_name_corpus_round_trips_byte_exact(container: Container, tmp_path: Path) -> None:
    names = [entry["name"] for entry in json.loads(CORPUS.read_text(encoding="utf-8"))["valid"]]
    assert len(names) >= 40
    rng = random.Random(99)
    path = tmp_path / "names.jsonl"
    with path.open("wb") as handle:
        for name in names:
            handle.write(orjson.dumps(person_record(rng, name=name)) + b"\n")
    summary, rejections = import_file(container, path)
    assert rejections == [] and summary["imported"] == len(names)
    with container.registry_unit() as registry:
        exported = [p.name for p in registry.unsafe_export_plaintext(actor="operator:test")]
    assert [n.encode("utf-8") for n in exported] == [n.encode("utf-8") for n in names]
