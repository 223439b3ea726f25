"""The one table that maps failures to CLI exit codes (sysexits.h where one fits).

Whatever escapes a command ends as one JSON line ``{"error": {"code", "message"}}`` on
stderr, never a traceback: errors from outside the tree are first translated into the public
error they stand for (:data:`PUBLIC_ERROR_FOR`), whose class then gives the exit code
(:data:`EXIT_BY_ERROR`). Messages never carry paths, values or SQL (they may be personal data
or secrets).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import orjson
import pydantic
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError

from netid.config import Settings
from netid.core.errors import (
    ConfigurationError,
    Conflict,
    Forbidden,
    InvalidInput,
    NetidError,
    NotFound,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
)


class FileError(NetidError):
    """A file could not be read or written (missing, exists, no permission, a directory…)."""

    code = "file_error"
    default_message = "A file could not be read or written."


class Interrupted(NetidError):
    code = "interrupted"
    default_message = "Interrupted."


EXIT_BY_ERROR: tuple[tuple[type[NetidError], int], ...] = (
    (InvalidInput, 65),  # EX_DATAERR
    (NotFound, 66),  # EX_NOINPUT
    (Unauthenticated, 77),  # EX_NOPERM
    (Forbidden, 77),  # EX_NOPERM
    (TooManyRequests, 75),  # EX_TEMPFAIL
    (Conflict, 75),  # EX_TEMPFAIL (state conflict; retry after fixing)
    (Unavailable, 69),  # EX_UNAVAILABLE
    (FileError, 74),  # EX_IOERR
    (ConfigurationError, 78),  # EX_CONFIG
    (Interrupted, 130),  # 128 + SIGINT, as shells report it
)


def _file_error(error: OSError) -> NetidError:
    # strerror names the kind of problem; the path (filename) may be personal and is left out.
    if error.strerror:
        return FileError(f"A file could not be read or written: {error.strerror}.")
    return FileError()


def _settings_error(error: pydantic.ValidationError) -> NetidError:
    # Field names only: the error's own text would show the offending values.
    fields = sorted(
        {
            str(err["loc"][0])
            for err in error.errors(include_input=False, include_context=False, include_url=False)
            if err["loc"] and str(err["loc"][0]) in Settings.model_fields
        }
    )
    if not fields:
        return ConfigurationError("The settings are not valid (check the NETID_* variables).")
    names = ", ".join(fields)
    prefix = Settings.model_config.get("env_prefix", "")
    variables = ", ".join(f"{prefix}{name}".upper() for name in fields)
    return ConfigurationError(f"Settings not valid: {names} ({variables}).")


# Errors from outside the tree, as the public error they stand for. First match wins, so
# subclasses come before their bases (OperationalError and IntegrityError are DBAPIErrors;
# ConnectionError and TimeoutError are OSErrors, but not about files).
PUBLIC_ERROR_FOR: tuple[tuple[type[BaseException], Callable[[Any], NetidError]], ...] = (
    (KeyboardInterrupt, lambda _: Interrupted()),
    (OperationalError, lambda _: Unavailable("The database does not answer.")),
    (IntegrityError, lambda _: Conflict("The change conflicts with data in the database.")),
    (DBAPIError, lambda _: NetidError("The database refused the command.")),
    (ArgumentError, lambda _: ConfigurationError("NETID_DATABASE_URL is not a valid URL.")),
    (pydantic.ValidationError, _settings_error),
    (ConnectionError, lambda _: Unavailable("A service does not answer.")),
    (TimeoutError, lambda _: Unavailable("A service did not answer in time.")),
    (OSError, _file_error),
)


def public_error(error: BaseException) -> NetidError:
    if isinstance(error, NetidError):
        return error
    for cls, translate in PUBLIC_ERROR_FOR:
        if isinstance(error, cls):
            return translate(error)
    return NetidError(f"The command failed unexpectedly ({type(error).__name__}).")


def exit_code_for(error: NetidError) -> int:
    for cls, code in EXIT_BY_ERROR:
        if isinstance(error, cls):
            return code
    return 70  # EX_SOFTWARE


def was_interrupted(exit_: SystemExit) -> bool:
    """Typer turns Ctrl-C into ``Exit(130)`` and then ``SystemExit(130)``; find it in the chain."""
    seen: BaseException | None = exit_
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        if isinstance(seen, KeyboardInterrupt):
            return True
        visited.add(id(seen))
        seen = seen.__cause__ or seen.__context__
    return False


def report_error(error: BaseException) -> int:
    """Write ``error`` as one JSON line on stderr and return its exit code."""
    public = public_error(error)
    sys.stderr.write(orjson.dumps({"error": public.to_dict()}).decode() + "\n")
    return exit_code_for(public)
