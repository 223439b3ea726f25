"""Templates and comparisons: pure logic against the known-answer file vectors/templates.json."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest

from netid.faces import FaceComparison, TemplateInvalid, compare_templates
from netid.faces.schemas import TEMPLATE_BYTES, decode_template, encode_template

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "templates.json").read_text(encoding="utf-8")
)


def template(name: str) -> bytes:
    return bytes.fromhex(VECTORS["templates"][name])


@pytest.mark.parametrize(
    "case", VECTORS["comparisons"], ids=lambda c: f"{c['probe']}-{c['reference']}"
)
def test_known_comparisons(case: dict[str, Any]) -> None:
    result = compare_templates(template(case["probe"]), template(case["reference"]))
    assert result.distance == pytest.approx(case["distance"], abs=1e-12)
    assert result.similarity == pytest.approx(case["similarity"], abs=1e-12)
    assert result.match is case["match"]
    # symmetric
    assert compare_templates(template(case["reference"]), template(case["probe"])) == result


def test_float32_boundary_is_decided_on_the_stored_values() -> None:
    # 0.3 is 0.30000001… in float32, so four of them are 0.6000000238 away from zero: no match
    result = compare_templates(template("zero"), template("point3_e1234"))
    assert result.distance > 0.6
    assert not result.match
    assert compare_templates(template("zero"), template("point3_e1234"), threshold=0.61).match


def test_similarity_mapping() -> None:
    zero = encode_template([0.0] * 128)
    for distance, similarity in [(0.0, 1.0), (0.6, 0.5), (0.3, 0.75), (1.2, 0.0), (1.5, 0.0)]:
        other = encode_template([distance] + [0.0] * 127)
        result = compare_templates(zero, other)
        assert result.similarity == pytest.approx(similarity, abs=1e-6)
        assert result.match is (result.distance <= 0.6)


def test_threshold_is_a_parameter() -> None:
    a, b = template("astronaut"), template("tom_hanks")
    assert not compare_templates(a, b).match
    assert compare_templates(a, b, threshold=0.8).match
    assert compare_templates(a, b, threshold=0.8).similarity == pytest.approx(
        1 - 0.7435203793147178 / 1.6
    )


def test_template_is_little_endian_float32() -> None:
    values = [float(i) / 256 for i in range(128)]
    encoded = encode_template(values)
    assert len(encoded) == TEMPLATE_BYTES == 512
    assert encoded[4:8] == struct.pack("<f", 1 / 256)
    assert decode_template(encoded) == tuple(values)


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x00" * 511,
        b"\x00" * 513,
        struct.pack("<128f", math.nan, *([0.0] * 127)),
        struct.pack("<128f", *([0.0] * 127), math.inf),
    ],
    ids=["empty", "short", "long", "nan", "inf"],
)
def test_invalid_templates_are_refused(bad: bytes) -> None:
    good = template("astronaut")
    with pytest.raises(TemplateInvalid) as info:
        compare_templates(bad, good)
    assert info.value.code == "invalid_template"
    with pytest.raises(TemplateInvalid):
        compare_templates(good, bad)


def test_encode_refuses_wrong_sizes() -> None:
    with pytest.raises(TemplateInvalid):
        encode_template([0.0] * 127)
    with pytest.raises(TemplateInvalid):
        encode_template([math.nan] * 128)


def test_comparison_json_has_no_template() -> None:
    out = FaceComparison(similarity=0.123456, distance=0.7654321, match=False).to_json()
    assert out == {"similarity": 0.1235, "distance": 0.7654, "match": False}
