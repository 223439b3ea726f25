"""netid.faces: face templates and a pluggable matcher (dlib's ResNet model by default).

The package imports without the optional ``face`` extra; only using the dlib matcher needs it.
"""

from netid.faces.errors import (
    FaceMatcherUnavailable,
    ImageInvalid,
    MultipleFaces,
    NoFaceFound,
    TemplateInvalid,
)
from netid.faces.schemas import (
    DEFAULT_THRESHOLD,
    TEMPLATE_BYTES,
    FaceComparison,
    FaceMatcher,
    compare_templates,
)
from netid.faces.service import DLIB_MODEL, DlibFaceMatcher, load_face_matcher

__all__ = [
    "DEFAULT_THRESHOLD",
    "DLIB_MODEL",
    "TEMPLATE_BYTES",
    "DlibFaceMatcher",
    "FaceComparison",
    "FaceMatcher",
    "FaceMatcherUnavailable",
    "ImageInvalid",
    "MultipleFaces",
    "NoFaceFound",
    "TemplateInvalid",
    "compare_templates",
    "load_face_matcher",
]
