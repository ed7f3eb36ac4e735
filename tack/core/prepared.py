"""Statements of the busiest write path, run straight on the SQLite driver.

SQLAlchemy spends 40 to 300 µs of Python on each statement it executes (the session's and the
connection's bookkeeping, an execution context, events, a result object), while SQLite answers the
small keyed statements of a chat send in a few µs. For a message that is most of the server's CPU.
A `Prepared` statement is an ordinary SQLAlchemy Core statement, compiled once per engine. On
SQLite it runs on the driver connection of the session's current transaction (the same transaction:
the connection is the one SQLAlchemy began, and tack/core/sqlite.py drives it on the loop's thread),
with the compiled statement's own bind and result processors, so values are written and read
exactly as SQLAlchemy would write and read them. On any other engine it runs through SQLAlchemy
like every other statement.

Only for Core statements whose parameters are all given by the caller: no Python-side column
defaults (they are computed by SQLAlchemy's execution, which is skipped here), no expanding IN.
Errors are raised as SQLAlchemy's (IntegrityError, OperationalError, ...), as with `db.execute`.
Transactions stay SQLAlchemy's: begin, commit and roll back with the session as usual.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

from tack.core.sqlite import InlineConnection

# Where a session keeps the sqlite3 connection of its current transaction (None: not SQLite).
_DRIVER = "tack_prepared_driver"
# Called with the SQL of every statement run on the driver (tests count statements with it;
# SQLAlchemy's own cursor events do not see these).
statement_observers: list[Callable[[str], None]] = []


@event.listens_for(Session, "after_transaction_end")
def _forget_driver(session: Session, transaction: Any) -> None:
    # The next transaction may run on another pooled connection.
    session.info.pop(_DRIVER, None)


async def _driver_of(db: AsyncSession) -> sqlite3.Connection | None:
    info = db.info
    if _DRIVER in info:
        return info[_DRIVER]  # type: ignore[no-any-return]
    connection = await db.connection()
    raw = connection.sync_connection.connection.driver_connection  # type: ignore[union-attr]
    driver = raw.sqlite if isinstance(raw, InlineConnection) else None
    info[_DRIVER] = driver
    return driver


class _Compiled:
    """A statement compiled for SQLite: its SQL, how to order and convert its parameters, and how
    to convert the columns of its rows."""

    __slots__ = ("sql", "binds", "results")

    def __init__(self, statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        if compiled.insert_prefetch or compiled.update_prefetch:  # type: ignore[attr-defined]
            raise ValueError("A prepared statement gets every column's value from its caller (no defaults).")
        processors = compiled._bind_processors  # type: ignore[attr-defined]
        self.sql = compiled.string
        self.binds: list[tuple[str, Callable[[Any], Any] | None, Any]] = []
        for name in compiled.positiontup or ():  # type: ignore[attr-defined]
            bind = compiled.binds[name]
            fixed = bind.effective_value if not bind.required else _REQUIRED
            self.binds.append((name, processors.get(name), fixed))
        results = [
            column.type._cached_result_processor(dialect, None)
            for column in compiled._result_columns  # type: ignore[attr-defined]
        ]
        self.results = results if any(results) else None

    def parameters(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, process, fixed in self.binds:
            value = params[name] if fixed is _REQUIRED else params.get(name, fixed)
            values.append(value if process is None or value is None else process(value))
        return tuple(values)


_REQUIRED = object()


class Prepared:
    """A Core statement for the hot path (see the module docstring)."""

    __slots__ = ("statement", "_sqlite")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._sqlite: dict[tuple[str, ...], _Compiled] = {}

    def _on_sqlite(self, db: AsyncSession, params: Mapping[str, Any]) -> _Compiled:
        keys = tuple(params)
        compiled = self._sqlite.get(keys)
        if compiled is None:
            compiled = self._sqlite[keys] = _Compiled(self.statement, db.get_bind().dialect, keys)
        return compiled

    async def run(self, db: AsyncSession, params: Mapping[str, Any]) -> tuple[list[Any], int]:
        """(the rows it returned, as tuples; the number of rows it changed)."""
        driver = await _driver_of(db)
        if driver is None:
            result = await db.execute(self.statement, dict(params))
            rows = [tuple(row) for row in result] if result.returns_rows else []
            return rows, result.rowcount  # type: ignore[attr-defined]
        compiled = self._on_sqlite(db, params)
        args = compiled.parameters(params)
        for observe in statement_observers:
            observe(compiled.sql)
        try:
            cursor = driver.execute(compiled.sql, args)
            rows = cursor.fetchall()
        except sqlite3.Error as error:
            raise DBAPIError.instance(compiled.sql, args, error, sqlite3.Error) from error
        results = compiled.results
        if results is not None and rows:
            rows = [tuple(value if convert is None else convert(value) for convert, value in zip(results, row, strict=True))
                    for row in rows]
        return rows, cursor.rowcount

    async def first(self, db: AsyncSession, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows, _ = await self.run(db, params)
        return rows[0] if rows else None

    async def rowcount(self, db: AsyncSession, params: Mapping[str, Any]) -> int:
        _, count = await self.run(db, params)
        return count
