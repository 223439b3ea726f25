"""Face templates and comparisons: the matcher contract the rest of netid depends on.

A **template** is what is stored (DESIGN.md "Data and keys": templates, never raw images):
``TEMPLATE_DIMENSIONS`` float32 values, little-endian, so 512 bytes for dlib's 128-d ResNet
descriptor. Images are decoded, reduced to a template and forgotten.

**Distance and similarity.** ``distance`` is the Euclidean distance between two templates;
``match`` is ``distance <= threshold`` (dlib's threshold is 0.6 for its ResNet model). The
reported ``similarity`` maps the distance to [0, 1] linearly around the threshold::

    similarity = clamp(1 - distance / (2 * threshold), 0, 1)

so 1.0 is identical, 0.5 is exactly the threshold (``match`` ⇔ ``similarity >= 0.5``) and 0.0
is a distance of twice the threshold or more. It is a presentation of the distance, not a
probability.

Face is never the only factor (NIST SP 800-63B §3.2.3: a biometric is used only together with a
physical authenticator / another factor); callers combine it with a document check.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from netid.faces.errors import TemplateInvalid

TEMPLATE_DIMENSIONS = 128
TEMPLATE_BYTES = TEMPLATE_DIMENSIONS * 4
_TEMPLATE = struct.Struct(f"<{TEMPLATE_DIMENSIONS}f")
DEFAULT_THRESHOLD = 0.6


@dataclass(frozen=True, slots=True)
class FaceComparison:
    similarity: float
    distance: float
    match: bool

    def to_json(self) -> dict[str, float | bool]:
        return {
            "similarity": round(self.similarity, 4),
            "distance": round(self.distance, 4),
            "match": self.match,
        }


@runtime_checkable
class FaceMatcher(Protocol):
    """Turns an image into a template and compares two templates."""

    @property
    def model(self) -> str:
        """Names the model (stored beside each template, e.g. ``dlib-resnet-v1``)."""
        ...

    def template(self, image: bytes) -> bytes:
        """The template of the one face in ``image`` (JPEG or PNG bytes).

        Raises ImageInvalid, NoFaceFound or MultipleFaces."""
        ...

    def compare(self, probe: bytes, reference: bytes) -> FaceComparison:
        """Compare two templates of this model. Raises TemplateInvalid."""
        ...


def encode_template(values: list[float] | tuple[float, ...]) -> bytes:
    if len(values) != TEMPLATE_DIMENSIONS or not all(math.isfinite(v) for v in values):
        raise TemplateInvalid()
    return _TEMPLATE.pack(*values)


def decode_template(template: bytes) -> tuple[float, ...]:
    if len(template) != TEMPLATE_BYTES:
        raise TemplateInvalid()
    values: tuple[float, ...] = _TEMPLATE.unpack(template)
    if not all(math.isfinite(v) for v in values):
        raise TemplateInvalid()
    return values


def compare_templates(
    probe: bytes, reference: bytes, *, threshold: float = DEFAULT_THRESHOLD
) -> FaceComparison:
    """Euclidean distance and the similarity mapping in this module's docstring."""
    a = decode_template(probe)
    b = decode_template(reference)
    distance = math.sqrt(math.fsum((x - y) ** 2 for x, y in zip(a, b, strict=True)))
    similarity = min(1.0, max(0.0, 1.0 - distance / (2.0 * threshold)))
    return FaceComparison(similarity=similarity, distance=distance, match=distance <= threshold)
