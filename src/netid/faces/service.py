"""The real face matcher: dlib's ResNet face model (99.38 % on LFW).

The pipeline is dlib's own: HOG frontal face detector → 5-point shape predictor (aligns the
face chip) → ``face_recognition_model_v1.compute_face_descriptor`` (128 float32 values). The
``dlib`` module comes from the prebuilt ``dlib-bin`` wheel and the model files from the
``face-recognition-models`` package: the optional ``face`` extra. Nothing downloads at run time.

The models are loaded lazily, once per process, and shared by every matcher; dlib does not
document these objects as thread-safe, so loading and inference run under one lock.

Images: JPEG or PNG only, at most ``max_bytes`` and ``max_pixels``, decoded with Pillow (EXIF
orientation applied) and scaled down to ``max_side`` before detection. An image showing several
faces is refused (``MultipleFaces``) rather than guessing which one is meant.
"""

from __future__ import annotations

import importlib.util
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netid.faces.errors import FaceMatcherUnavailable, ImageInvalid, MultipleFaces, NoFaceFound
from netid.faces.schemas import (
    DEFAULT_THRESHOLD,
    FaceComparison,
    FaceMatcher,
    compare_templates,
    encode_template,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

DLIB_MODEL = "dlib-resnet-v1"
MAX_IMAGE_BYTES = 2 * 1024 * 1024  # 2 MiB
MAX_IMAGE_PIXELS = 24_000_000  # e.g. 6000 × 4000; checked from the header, before decoding
MAX_SIDE = 1024  # longer side after scaling down; faces stay well above the detector's 40 px
# The detector's score (HOG + linear SVM margin) below which a detection is not a face. dlib
# reports detections down to 0; weak ones are often patterns (a badge, a poster) that would
# otherwise turn a one-person photo into "multiple faces".
MIN_DETECTION_SCORE = 0.3
MAX_JITTER = 10
_UPSAMPLE = 1  # one doubling: finds faces down to ≈ 40 px
_FACE_EXTRA = ("dlib", "face_recognition_models", "numpy", "PIL")
_MODEL_FILES = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")


def _models_dir() -> Path:
    """The model files of ``face-recognition-models``, found without importing the package (its
    ``__init__`` imports the deprecated ``pkg_resources``)."""
    for name in _FACE_EXTRA:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            raise FaceMatcherUnavailable()
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:  # pragma: no cover - checked above
        raise FaceMatcherUnavailable()
    return _checked(Path(spec.origin).parent / "models")


def _checked(models: Path) -> Path:
    if not all((models / name).is_file() for name in _MODEL_FILES):
        raise FaceMatcherUnavailable()
    return models


@dataclass
class _DlibModels:
    detector: Any
    shape_predictor: Any
    recognizer: Any


_models: _DlibModels | None = None
_lock = threading.Lock()  # guards loading and every call into dlib


def _load_models(models_dir: Path) -> _DlibModels:
    """Load once per process (about a second); the caller holds ``_lock``."""
    global _models
    if _models is None:
        import dlib

        _models = _DlibModels(
            detector=dlib.get_frontal_face_detector(),
            shape_predictor=dlib.shape_predictor(str(models_dir / _MODEL_FILES[0])),
            recognizer=dlib.face_recognition_model_v1(str(models_dir / _MODEL_FILES[1])),
        )
    return _models


def decode_image(
    image: bytes,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_pixels: int = MAX_IMAGE_PIXELS,
    max_side: int = MAX_SIDE,
) -> npt.NDArray[np.uint8]:
    """JPEG or PNG bytes → an RGB array (height × width × 3), or ``ImageInvalid``."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not image or len(image) > max_bytes:
        raise ImageInvalid(f"The image must be a JPEG or PNG of at most {max_bytes} bytes.")
    try:
        with Image.open(io.BytesIO(image), formats=("JPEG", "PNG")) as opened:
            width, height = opened.size
            if width < 1 or height < 1 or width * height > max_pixels:
                raise ImageInvalid(f"The image must have at most {max_pixels} pixels.")
            opened.load()  # a truncated or corrupt file fails here
            picture = ImageOps.exif_transpose(opened).convert("RGB")
    except ImageInvalid:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,  # raised when warnings are errors
        OSError,
        ValueError,
        SyntaxError,  # Pillow's PNG chunk parser raises it for broken chunks
        EOFError,
    ) as exc:
        raise ImageInvalid() from exc
    if max(picture.size) > max_side:
        picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(picture, dtype=np.uint8)


class DlibFaceMatcher:
    """``FaceMatcher`` on dlib's ResNet model. ``threshold`` is the largest distance that
    counts as the same person (dlib: 0.6). ``jitter`` is dlib's ``num_jitters``: 0 and 1 both
    mean one pass over the aligned face chip (deterministic); N ≥ 2 averages N randomly
    jittered copies (N times slower, not reproducible), at most ``MAX_JITTER``."""

    model = DLIB_MODEL

    def __init__(
        self,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        jitter: int = 0,
        min_detection_score: float = MIN_DETECTION_SCORE,
        max_bytes: int = MAX_IMAGE_BYTES,
        max_pixels: int = MAX_IMAGE_PIXELS,
        models_dir: Path | None = None,
    ) -> None:
        if not 0 < threshold < 2:
            raise ValueError("threshold must be in (0, 2)")
        if not 0 <= jitter <= MAX_JITTER:
            raise ValueError(f"jitter must be in 0..{MAX_JITTER}")
        self.threshold = threshold
        self.jitter = jitter
        self.min_detection_score = min_detection_score
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self._models_dir = _models_dir() if models_dir is None else _checked(models_dir)

    def warm_up(self) -> None:
        """Load the models now (about a second) rather than on the first image."""
        with _lock:
            _load_models(self._models_dir)

    def template(self, image: bytes) -> bytes:
        pixels = decode_image(image, max_bytes=self.max_bytes, max_pixels=self.max_pixels)
        with _lock:
            models = _load_models(self._models_dir)
            boxes, scores, _ = models.detector.run(pixels, _UPSAMPLE, self.min_detection_score)
            faces = [
                box
                for box, score in zip(boxes, scores, strict=True)
                if score >= self.min_detection_score
            ]
            if not faces:
                raise NoFaceFound()
            if len(faces) > 1:
                raise MultipleFaces(details={"faces": len(faces)})
            shape = models.shape_predictor(pixels, faces[0])
            descriptor = models.recognizer.compute_face_descriptor(pixels, shape, self.jitter)
        return encode_template([float(v) for v in descriptor])

    def compare(self, probe: bytes, reference: bytes) -> FaceComparison:
        return compare_templates(probe, reference, threshold=self.threshold)


def load_face_matcher(*, threshold: float = DEFAULT_THRESHOLD, jitter: int = 0) -> FaceMatcher:
    """The dlib matcher, or ``FaceMatcherUnavailable`` when the ``face`` extra is missing.
    The models themselves load on first use."""
    return DlibFaceMatcher(threshold=threshold, jitter=jitter)
