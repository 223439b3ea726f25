"""Strictly read a versioned JSON data file (the policy catalogue, the monitoring rules):
the shipped one or an operator's, with one error type per caller and messages that name the
problem, never the content."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

from netid.core.errors import NetidError

ErrorFactory = Callable[[str], NetidError]


def read_data_file(
    path: Path | None, *, package: str, default: str, what: str, error: ErrorFactory
) -> str:
    """The text of ``path``, or of ``default`` shipped in ``package`` when ``path`` is None."""
    if path is None:
        return resources.files(package).joinpath(default).read_text(encoding="utf-8")
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"The {what} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"The {what} cannot be read ({type(exc).__name__}).") from None


def strict_json(text: str, *, error: ErrorFactory) -> Any:
    """JSON without duplicate keys (RFC 8259 §4 leaves them undefined) and without NaN or
    Infinity (not JSON at all)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise error(f"duplicate key {key!r}")
            out[key] = value
        return out

    def reject_constant(name: str) -> NoReturn:
        raise error(f"{name} is not allowed")

    try:
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=reject_constant)
    except json.JSONDecodeError as exc:
        raise error(f"not JSON (line {exc.lineno}, column {exc.colno})") from None
