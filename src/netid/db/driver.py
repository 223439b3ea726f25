"""Fixed statements run on the driver's cursor: the hot path's reads and writes.

A SQLAlchemy Core execution costs ≈ 40–70 µs here even for a compiled, cached statement (cache
key, parameter processing, result metadata); the same point select on the ``sqlite3`` cursor
costs ≈ 6–10 µs. A verification makes a dozen such statements inside the writer slot, so this
is the difference between ≈ 1 ms and ≈ 0.4 ms of the slot per request
(docs/decisions/0007-performance.md).

What SQLAlchemy would still have done is kept: parameters and results go through the
columns' own type processors for the connection's dialect (so a ``UtcDateTime`` is stored and
read back exactly as the ORM does it), the statement runs on the session's connection inside
its transaction (and savepoint), and rows come back as typed named tuples. SQL is written once
with ``?`` placeholders and rewritten to psycopg's ``%s`` for PostgreSQL; values are always
bound, never formatted into the text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Generic, NamedTuple, NoReturn, TypeVar

from sqlalchemy import ColumnElement, Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

R = TypeVar("R", bound=NamedTuple)

Processor = Callable[[Any], Any] | None


class _Compiled(NamedTuple):
    sql: str
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]
    # No processor at all (most columns on SQLite, many on PostgreSQL): values pass as they
    # are, without a per-value loop (a Python-level loop costs ≈ 2–3 µs per statement here).
    binds_as_is: bool
    results_as_is: bool


def _bind_processor(column: ColumnElement[Any] | None, dialect: Dialect) -> Processor:
    if column is None:
        return None
    return column.type._cached_bind_processor(dialect)


def _result_processor(column: ColumnElement[Any], dialect: Dialect) -> Processor:
    return column.type._cached_result_processor(dialect, None)


def reraise_translated(conn: Connection, statement: str, exc: BaseException) -> NoReturn:
    """Raise a driver's error as SQLAlchemy would have (IntegrityError for a unique
    violation, OperationalError for a locked or lost database …), parameters hidden, so the
    error table at the edge and every caller see the same exceptions whichever way a
    statement ran; anything else unchanged. Called from the ``except`` that caught ``exc``."""
    dbapi = conn.dialect.loaded_dbapi
    if not isinstance(exc, dbapi.Error):
        raise exc
    raise DBAPIError.instance(
        statement, None, exc, dbapi.Error, hide_parameters=True, dialect=conn.dialect
    ) from exc


@contextmanager
def sqlalchemy_errors(conn: Connection, statement: str) -> Iterator[None]:
    """:func:`reraise_translated` around a block."""
    try:
        yield
    except Exception as exc:
        reraise_translated(conn, statement, exc)


class _DriverStatement:
    """``sql`` with ``?`` placeholders; ``params``: the column each placeholder binds to (its
    type converts the value; ``None``: passed as is)."""

    def __init__(
        self,
        sql: str,
        *,
        params: Sequence[ColumnElement[Any] | None] = (),
        columns: Sequence[ColumnElement[Any]] = (),
    ) -> None:
        if sql.count("?") != len(params):
            raise ValueError("one column (or None) per placeholder")
        if "%" in sql:
            raise ValueError("no '%' in driver SQL (psycopg reads it as a placeholder)")
        self._sql = sql
        self._params = tuple(params)
        self._columns = tuple(columns)
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            sql = self._sql.replace("?", "%s") if dialect.paramstyle != "qmark" else self._sql
            binds = tuple(_bind_processor(c, dialect) for c in self._params)
            results = tuple(_result_processor(c, dialect) for c in self._columns)
            compiled = self._compiled[dialect.name] = _Compiled(
                sql,
                binds,
                results,
                all(proc is None for proc in binds),
                all(proc is None for proc in results),
            )
        return compiled

    @staticmethod
    def _bound(compiled: _Compiled, values: Sequence[Any]) -> Sequence[Any]:
        if len(values) != len(compiled.binds):
            raise ValueError("one value per placeholder")
        if compiled.binds_as_is:
            return values
        return tuple(
            value if proc is None else proc(value)
            for proc, value in zip(compiled.binds, values, strict=True)
        )

    @staticmethod
    def _cursor(conn: Connection) -> Any:
        driver = conn.connection.driver_connection
        assert driver is not None
        return driver.cursor()

    def _execute(self, conn: Connection, values: Sequence[Any]) -> tuple[_Compiled, Any]:
        """The statement run on a new cursor of the connection's driver connection (the
        caller closes it), driver errors translated."""
        compiled = self._for(conn.dialect)
        bound = self._bound(compiled, values)
        cursor = self._cursor(conn)
        try:
            cursor.execute(compiled.sql, bound)
        except BaseException as exc:
            with suppress(Exception):  # the statement's error is the one to report
                cursor.close()
            reraise_translated(conn, compiled.sql, exc)
        return compiled, cursor


class DriverWrite(_DriverStatement):
    """An INSERT / UPDATE / DELETE."""

    def rowcount(self, conn: Connection, values: Sequence[Any] = ()) -> int:
        """Run a write; the number of rows it changed."""
        _, cursor = self._execute(conn, values)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def many(self, conn: Connection, rows: Iterable[Sequence[Any]]) -> None:
        compiled = self._for(conn.dialect)
        bound = [self._bound(compiled, row) for row in rows]
        if not bound:
            return
        cursor = self._cursor(conn)
        try:
            with sqlalchemy_errors(conn, compiled.sql):
                cursor.executemany(compiled.sql, bound)
        finally:
            cursor.close()


class DriverQuery(_DriverStatement, Generic[R]):
    """A SELECT whose rows become ``returns``, a named tuple whose fields are ``columns``'
    values, in order (converted by their types)."""

    def __init__(
        self,
        sql: str,
        *,
        params: Sequence[ColumnElement[Any] | None] = (),
        returns: type[R],
        columns: Sequence[ColumnElement[Any]],
    ) -> None:
        if len(returns._fields) != len(columns):
            raise ValueError("one column per field of the row type")
        super().__init__(sql, params=params, columns=columns)
        self._returns = returns

    def _row(self, compiled: _Compiled, raw: Sequence[Any]) -> R:
        if compiled.results_as_is:
            return self._returns._make(raw)
        return self._returns._make(
            value if proc is None else proc(value)
            for proc, value in zip(compiled.results, raw, strict=True)
        )

    def one_or_none(self, conn: Connection, values: Sequence[Any] = ()) -> R | None:
        rows = self.all(conn, values, limit=2)
        if len(rows) > 1:
            raise LookupError("more than one row")
        return rows[0] if rows else None

    def first(self, conn: Connection, values: Sequence[Any] = ()) -> R | None:
        rows = self.all(conn, values, limit=1)
        return rows[0] if rows else None

    def all(self, conn: Connection, values: Sequence[Any] = (), *, limit: int = 0) -> list[R]:
        """The rows (at most ``limit`` fetched, if given)."""
        compiled, cursor = self._execute(conn, values)
        try:
            raw = cursor.fetchmany(limit) if limit else cursor.fetchall()
        except BaseException as exc:
            reraise_translated(conn, compiled.sql, exc)
        finally:
            cursor.close()
        return [self._row(compiled, row) for row in raw]
