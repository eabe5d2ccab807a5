"""Deferred INSERTs for one batch transaction: ids allocated up front, each table's rows sent once.

Inside `buffered(session)`, store.insert_row / insert_values queue their rows here instead of
executing them; the rows go out as one executemany per table (parents before children) when the
block ends, when `flush()` is called, and before any ORM statement the session executes (a
query, an ORM UPDATE: the rows of the tables it names and of the tables they refer to), so
every read in the transaction still sees every row written before it.
Ids come from the table's own counter without a round trip per row: on PostgreSQL a block of
`nextval` of the column's sequence in one SELECT, elsewhere (SQLite, which holds its write lock
for the whole transaction: BEGIN IMMEDIATE) one past the table's highest id.

An error in a row (a duplicate key) surfaces at the flush, not at the insert call: the caller
flushes inside the SAVEPOINT it wants the error attributed to.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, event, func, insert, select, text
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.sql.util import find_tables
from sqlmodel import Session, SQLModel

log = logging.getLogger(__name__)

_KEY = "mosaic_row_buffer"
_NEXTVAL = text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)")


class RowBuffer:
    """Rows waiting to be inserted in one session's transaction, grouped by table and columns."""

    def __init__(self, session: Session, reserve: dict[str, int] | None = None) -> None:
        self.session = session
        self.rows: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
        self.tables: dict[str, Table] = {}
        self.pool: dict[str, list[int]] = {}  # PostgreSQL: ids taken from the sequence, unused
        self.next_id: dict[str, int] = {}  # elsewhere: the next id to hand out
        self.reserve = dict(reserve or {})  # table -> ids the batch will likely need
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def new_id(self, table: Table) -> int:
        """An id for a new row of `table` (a primary key column `id` with its own counter)."""
        name = table.name
        if self.postgres:
            pool = self.pool.setdefault(name, [])
            if not pool:  # the first asks for the batch's estimate; later ones for one each
                n = max(1, self.reserve.pop(name, 1))
                got = self.session.connection().execute(_NEXTVAL, {"t": name, "n": n})
                pool.extend(sorted((int(r[0]) for r in got), reverse=True))
            return pool.pop()
        if name not in self.next_id:
            highest = self.session.connection().execute(select(func.max(table.c.id))).scalar()
            self.next_id[name] = int(highest or 0) + 1
        value = self.next_id[name]
        self.next_id[name] = value + 1
        return value

    def add(self, table: Table, values: dict[str, Any]) -> None:
        self.tables[table.name] = table
        self.rows.setdefault((table.name, tuple(values)), []).append(values)

    def discard(self) -> None:
        """Drop the queued rows (their savepoint is being rolled back)."""
        self.rows = {}

    def flush(self, tables: set[str] | None = None) -> None:
        """Send the queued rows (of `tables` and the tables they refer to, or all): one
        executemany per table and column set, parents first."""
        if not self.rows:
            return
        wanted = None if tables is None else _with_parents(tables)
        order = _table_order()
        keys = sorted((k for k in self.rows if wanted is None or k[0] in wanted),
                      key=lambda k: order.get(k[0], 0))
        conn = self.session.connection()
        for key in keys:
            conn.execute(insert(self.tables[key[0]]), self.rows.pop(key))


def _table_order() -> dict[str, int]:
    return {t.name: n for n, t in enumerate(SQLModel.metadata.sorted_tables)}


def _with_parents(names: set[str]) -> set[str]:
    """These tables and every table their foreign keys refer to, transitively."""
    found, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        table = SQLModel.metadata.tables.get(name)
        if table is not None:
            todo += [fk.column.table.name for fk in table.foreign_keys]
    return found


def active(session: Session) -> RowBuffer | None:
    """The session's buffer while inside `buffered(session)`, else None."""
    return session.info.get(_KEY)  # type: ignore[no-any-return]


@contextmanager
def buffered(session: Session, reserve: dict[str, int] | None = None) -> Iterator[RowBuffer]:
    """Queue the session's store inserts until the block ends (rows are flushed then, unless
    the block raised: the caller rolls back)."""
    buffer = RowBuffer(session, reserve)
    session.info[_KEY] = buffer
    try:
        yield buffer
        buffer.flush()
    finally:
        session.info.pop(_KEY, None)


@event.listens_for(Session, "do_orm_execute")
def _flush_before_orm_statement(state: ORMExecuteState) -> None:
    """A query or ORM UPDATE in a buffered session first sends the rows queued before it."""
    buffer = state.session.info.get(_KEY)
    if buffer is not None and buffer.rows:
        tables = {t.name for t in find_tables(state.statement, include_joins=True,
                                              include_crud=True, include_aliases=True)}
        buffer.flush(tables or None)  # none found: everything
