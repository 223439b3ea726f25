"""Errors of face matching. Messages say what is wrong with an image, never what it shows."""

from __future__ import annotations

from netid.core.errors import InvalidInput, Unavailable


class ImageInvalid(InvalidInput):
    """Not a JPEG or PNG, corrupt or truncated, too many bytes or too many pixels."""

    code = "invalid_image"
    default_message = "The image must be a JPEG or PNG within the size limits."


class NoFaceFound(InvalidInput):
    code = "no_face_found"
    default_message = "No face was found in the image."


class MultipleFaces(InvalidInput):
    """More than one face: for verification we do not guess whose face is meant."""

    code = "multiple_faces"
    default_message = "The image shows more than one face; send an image of one person."


class TemplateInvalid(InvalidInput):
    code = "invalid_template"
    default_message = "The face template is not valid for this matcher."


class FaceMatcherUnavailable(Unavailable):
    code = "face_unavailable"
    default_message = (
        "Face matching is not installed (install the 'face' extra: pip install 'netid[face]')."
    )
