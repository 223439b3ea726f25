"""The one table that maps the error tree to CLI exit codes (sysexits.h where one fits)."""

from __future__ import annotations

import sys

import orjson

from netid.core.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NetidError,
    NotFound,
    Unavailable,
)

EXIT_BY_ERROR: tuple[tuple[type[NetidError], int], ...] = (
    (InvalidInput, 65),  # EX_DATAERR
    (NotFound, 66),  # EX_NOINPUT
    (Conflict, 75),  # EX_TEMPFAIL (state conflict; retry after fixing)
    (Unavailable, 69),  # EX_UNAVAILABLE
    (ConfigurationError, 78),  # EX_CONFIG
)


def exit_code_for(error: NetidError) -> int:
    for cls, code in EXIT_BY_ERROR:
        if isinstance(error, cls):
            return code
    return 70  # EX_SOFTWARE


def report_error(error: NetidError) -> int:
    sys.stderr.write(orjson.dumps({"error": error.to_dict()}).decode() + "\n")
    return exit_code_for(error)
