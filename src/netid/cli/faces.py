"""``netid faces``: enrol a person's face template and compare two face images.

Images are read, reduced to a template and forgotten: only the template (128 float32 values,
sealed under the face key) is stored, and nothing personal is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from netid.core.errors import NetidError
from netid.faces import FaceMatcher
from netid.faces.service import MAX_IMAGE_BYTES

faces_app = typer.Typer(help="Face templates: enrol and compare.", no_args_is_help=True)


def _read_image(path: Path) -> bytes:
    """At most one byte over the limit is read, so a huge file is refused without loading it."""
    with path.open("rb") as handle:
        return handle.read(MAX_IMAGE_BYTES + 1)


def _template(matcher: FaceMatcher, path: Path, label: str) -> bytes:
    try:
        return matcher.template(_read_image(path))
    except NetidError as error:
        error.details.setdefault("image", label)  # which image, never its path
        raise


@faces_app.command("enrol")
def enrol(
    document: Annotated[
        str, typer.Option(help="The person's document number, or '-' to read it from stdin")
    ],
    image: Annotated[
        Path, typer.Option(dir_okay=False, help="A JPEG or PNG showing one face (≤ 2 MiB)")
    ],
) -> None:
    """Compute the face template of IMAGE and store it for the holder of DOCUMENT (recorded)."""
    from netid.cli.main import container, emit
    from netid.registry.errors import PersonNotFound

    if document == "-":  # keeps the number out of `ps` and shell history
        document = sys.stdin.readline().strip()
    c = container()
    matcher = c.face_matcher()
    template = _template(matcher, image, "image")
    with c.registry_unit() as registry:
        person_id = registry.find_person_id(document)
        if person_id is None:
            raise PersonNotFound()
        registry.store_face_template(
            person_id, model=matcher.model, template=template, actor=c.operator_actor()
        )
    emit({"enrolled": True, "model": matcher.model})


@faces_app.command("compare")
def compare(
    first: Annotated[Path, typer.Argument(dir_okay=False, help="A JPEG or PNG (one face)")],
    second: Annotated[Path, typer.Argument(dir_okay=False, help="Another JPEG or PNG")],
) -> None:
    """Compare the faces in two images: distance, similarity in [0, 1] and match."""
    from netid.cli.main import container, emit

    matcher = container().face_matcher()
    probe = _template(matcher, first, "first")
    reference = _template(matcher, second, "second")
    emit({"model": matcher.model, **matcher.compare(probe, reference).to_json()})
