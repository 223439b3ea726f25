"""The real matcher on real photos (tests/faces/photos.py says where they come from).

Same person: one photo and its augmentations (crop, scale, brightness, rotation, mirror, JPEG
re-encoding). Different people: the astronaut, Tom Hanks and six faces cut from a group photo.
These run in ``make test``: missing photos or a missing ``face`` extra fail, never skip.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance, ImageFilter

from netid.faces import (
    DLIB_MODEL,
    DlibFaceMatcher,
    FaceMatcher,
    FaceMatcherUnavailable,
    ImageInvalid,
    MultipleFaces,
    NoFaceFound,
    load_face_matcher,
)
from netid.faces import service as face_service
from netid.faces.schemas import decode_template
from tests.faces.photos import photo

VECTORS = json.loads((Path(__file__).parent / "vectors" / "templates.json").read_text())

# Face boxes (left, top, size) that dlib's detector reports in the group photo.
GROUP_FACES = [(1118, 283, 109), (67, 283, 109), (724, 367, 109), (450, 295, 108),
               (870, 67, 130), (275, 176, 90)]  # fmt: skip


@pytest.fixture(scope="module")
def matcher() -> DlibFaceMatcher:
    return DlibFaceMatcher()


@pytest.fixture(scope="module")
def astronaut(matcher: DlibFaceMatcher) -> bytes:
    return matcher.template(photo("astronaut.png"))


def picture(name: str) -> Image.Image:
    return Image.open(io.BytesIO(photo(name))).convert("RGB")


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 80} if fmt == "JPEG" else {}))
    return out.getvalue()


def test_load_face_matcher_gives_the_dlib_matcher() -> None:
    matcher = load_face_matcher(threshold=0.55)
    assert isinstance(matcher, FaceMatcher)
    assert isinstance(matcher, DlibFaceMatcher)
    assert matcher.model == DLIB_MODEL == "dlib-resnet-v1"
    assert matcher.threshold == 0.55


def test_template_is_128_float32_and_matches_the_vector(astronaut: bytes) -> None:
    assert len(astronaut) == 512
    values = decode_template(astronaut)
    expected = decode_template(bytes.fromhex(VECTORS["templates"]["astronaut"]))
    # dlib's float maths may differ in the last bits between CPUs; the model may not.
    assert max(abs(a - b) for a, b in zip(values, expected, strict=True)) < 1e-4
    assert b"PNG" not in astronaut and photo("astronaut.png")[:64] not in astronaut


def test_template_is_deterministic(matcher: DlibFaceMatcher, astronaut: bytes) -> None:
    assert matcher.template(photo("astronaut.png")) == astronaut


AUGMENTATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "crop": lambda im: im.crop((100, 20, 360, 300)),
    "scale-down": lambda im: im.resize((384, 384), Image.Resampling.LANCZOS),
    "scale-up": lambda im: im.resize((768, 768), Image.Resampling.BICUBIC),
    "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.35),
    "darker": lambda im: ImageEnhance.Brightness(im).enhance(0.65),
    "rotate-left": lambda im: im.rotate(8, resample=Image.Resampling.BICUBIC),
    "rotate-right": lambda im: im.rotate(-8, resample=Image.Resampling.BICUBIC),
    "mirror": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "blur": lambda im: im.filter(ImageFilter.GaussianBlur(1.2)),
}


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("augment", AUGMENTATIONS, ids=str)
def test_same_person_matches(
    matcher: DlibFaceMatcher, astronaut: bytes, augment: str, fmt: str
) -> None:
    probe = matcher.template(encoded(AUGMENTATIONS[augment](picture("astronaut.png")), fmt))
    result = matcher.compare(probe, astronaut)
    assert result.match, result
    assert result.distance <= 0.35  # well inside the threshold, not by luck
    assert result.similarity >= 0.7


def test_different_people_do_not_match(matcher: DlibFaceMatcher, astronaut: bytes) -> None:
    hanks = matcher.template(photo("tom_hanks.png"))
    result = matcher.compare(hanks, astronaut)
    assert not result.match
    assert result.distance == pytest.approx(0.7435, abs=1e-3)
    assert result.similarity < 0.5


def test_faces_cut_from_the_group_photo_are_all_different(
    matcher: DlibFaceMatcher, astronaut: bytes
) -> None:
    group = picture("group.jpg")
    templates = []
    for left, top, size in GROUP_FACES:
        margin = size * 3 // 4
        crop = group.crop((left - margin, top - margin, left + size + margin, top + size + margin))
        templates.append(matcher.template(encoded(crop)))
    hanks = matcher.template(photo("tom_hanks.png"))
    for a, b in itertools.combinations([*templates, astronaut, hanks], 2):
        result = matcher.compare(a, b)
        assert not result.match, result
        assert result.similarity < 0.5
    # and each crop still matches itself re-encoded: the crops are faces, not noise
    again = matcher.template(encoded(group.crop((1118 - 80, 283 - 80, 1118 + 190, 283 + 190))))
    assert matcher.compare(again, templates[0]).match


def test_group_photo_is_multiple_faces(matcher: DlibFaceMatcher) -> None:
    with pytest.raises(MultipleFaces) as info:
        matcher.template(photo("group.jpg"))
    assert info.value.code == "multiple_faces"
    assert info.value.details == {"faces": 6}


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (400, 300), (255, 255, 255)),
        Image.new("RGB", (400, 300), (0, 0, 0)),
        Image.frombytes("RGB", (400, 300), os.urandom(400 * 300 * 3)),
        Image.frombytes("L", (300, 300), os.urandom(300 * 300)).filter(ImageFilter.BoxBlur(3)),
    ],
    ids=["white", "black", "noise", "blurred-noise"],
)
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_no_face(matcher: DlibFaceMatcher, image: Image.Image, fmt: str) -> None:
    with pytest.raises(NoFaceFound) as info:
        matcher.template(encoded(image, fmt))
    assert info.value.code == "no_face_found"


def test_a_face_too_small_to_judge_is_no_face(matcher: DlibFaceMatcher) -> None:
    tiny = picture("astronaut.png").resize((96, 96), Image.Resampling.LANCZOS)
    with pytest.raises(NoFaceFound):
        matcher.template(encoded(tiny))


def test_invalid_images_never_reach_dlib(matcher: DlibFaceMatcher) -> None:
    jpeg = encoded(picture("astronaut.png"), "JPEG")
    for bad in (jpeg[:-4000], encoded(picture("astronaut.png"), "GIF"), b"\x89PNG\r\n\x1a\n"):
        with pytest.raises(ImageInvalid):
            matcher.template(bad)
    small = DlibFaceMatcher(max_bytes=100_000)
    with pytest.raises(ImageInvalid):
        small.template(photo("astronaut.png"))  # 791,555 bytes
    few = DlibFaceMatcher(max_pixels=500 * 500)
    with pytest.raises(ImageInvalid):
        few.template(photo("astronaut.png"))  # 512 × 512


def test_concurrent_templates_agree(matcher: DlibFaceMatcher, astronaut: bytes) -> None:
    results: list[bytes] = []
    errors: list[BaseException] = []
    data = photo("astronaut.png")

    def work() -> None:
        try:
            results.append(DlibFaceMatcher().template(data))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [astronaut] * 4


def test_missing_extra_is_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(face_service, "_FACE_EXTRA", (*face_service._FACE_EXTRA, "no_such_mod"))
    with pytest.raises(FaceMatcherUnavailable) as info:
        load_face_matcher()
    assert info.value.code == "face_unavailable"
    monkeypatch.undo()
    with pytest.raises(FaceMatcherUnavailable):
        DlibFaceMatcher(models_dir=tmp_path)  # no model files there


def test_constructor_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="threshold"):
        DlibFaceMatcher(threshold=0)
    with pytest.raises(ValueError, match="jitter"):
        DlibFaceMatcher(jitter=11)


def test_jitter(astronaut: bytes) -> None:
    # dlib treats 0 and 1 alike; 2 averages two randomly jittered chips of the same face
    assert DlibFaceMatcher(jitter=1).template(photo("astronaut.png")) == astronaut
    jittered = DlibFaceMatcher(jitter=2).template(photo("astronaut.png"))
    assert jittered != astronaut
    assert DlibFaceMatcher().compare(jittered, astronaut).distance < 0.3
