"""Search keys: person/workstep IDs and requester words of each ticket, in an indexed table.

The worker writes tickets without knowing about search, so the app brings the keys up to date
before it searches: tickets whose `updated_at` differs from the version last indexed. The scan
is bounded by an index on `updated_at` (a window behind the last sync), so a search costs a
few indexed lookups however many tickets there are.
"""
from __future__ import annotations

import logging
import re
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ..staff import SearchIndexed, SearchKey
from ..store import Store, Ticket

log = logging.getLogger(__name__)

# a worker transaction may commit a while after the `now` it stamped on its tickets
SYNC_WINDOW = timedelta(hours=1)
CHUNK = 2000
ID_FIELDS = ("person_id", "keep_person_id")
_WORD = re.compile(r"[\w'.-]+")


def keys_of(fields: dict[str, Any], email: str | None, name: str | None) -> set[tuple[str, str]]:
    """(kind, value) pairs a ticket is found by: its IDs, its requester's address and names."""
    keys: set[tuple[str, str]] = set()
    for f in ID_FIELDS:
        if isinstance(fields.get(f), str) and fields[f].isdigit():
            keys.add(("id", fields[f]))
    for v in fields.get("person_ids") or []:
        if isinstance(v, str) and v.isdigit():
            keys.add(("id", v))
    ws = fields.get("workstep_id")
    if isinstance(ws, str) and ws.isdigit():
        keys.add(("workstep", ws))
    if email:
        keys.add(("requester", email.lower()[:320]))
        keys.add(("requester", email.lower().split("@")[0][:320]))
    if name:
        low = " ".join(name.lower().split())[:320]
        keys.add(("requester", low))
        keys.update(("requester", w.strip(".'-")) for w in _WORD.findall(low)
                    if len(w.strip(".'-")) > 1)
    return keys


class SearchIndex:
    """Keeps search_keys in step with tickets; one per app process (thread-safe)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._since: datetime | None = None  # None: scan everything once

    def sync(self, now: datetime) -> int:
        """Re-index tickets changed since the last sync; returns how many were re-indexed.

        Each chunk is its own short transaction, so the worker and other staff requests can
        write between them (SQLite has one writer at a time)."""
        with self._lock:
            with self.store.session() as session:
                rows = list(session.execute(self._changed()))
            try:
                for start in range(0, len(rows), CHUNK):
                    with self.store.session() as session:
                        self._write(session, rows[start:start + CHUNK])
            except IntegrityError:
                # another app process indexed the same tickets at the same moment: theirs stand
                log.info("search keys: concurrent sync, skipped")
                return 0
            self._since = now - SYNC_WINDOW
            if rows:
                log.info("search keys: %d ticket(s) indexed", len(rows))
            return len(rows)

    def _changed(self) -> Any:
        query = (select(Ticket.id, Ticket.fields, Ticket.requester_email, Ticket.requester_name,
                        Ticket.updated_at, SearchIndexed.ticket_id.label("indexed"))
                 .outerjoin(SearchIndexed, SearchIndexed.ticket_id == Ticket.id)  # type: ignore[arg-type]
                 .where(or_(SearchIndexed.ticket_id.is_(None),  # type: ignore[union-attr]
                            SearchIndexed.updated_at != Ticket.updated_at)))
        if self._since is not None:
            query = query.where(Ticket.updated_at >= self._since)
        return query

    @staticmethod
    def _write(session: Session, rows: list[Any]) -> None:
        stale = [r.id for r in rows if r.indexed is not None]  # indexed before, changed since
        if stale:
            session.execute(delete(SearchKey).where(SearchKey.ticket_id.in_(stale)))  # type: ignore[attr-defined]
            session.execute(delete(SearchIndexed).where(SearchIndexed.ticket_id.in_(stale)))  # type: ignore[attr-defined]
        keys = [{"ticket_id": r.id, "kind": k, "value": v}
                for r in rows for k, v in keys_of(r.fields or {}, r.requester_email,
                                                  r.requester_name)]
        # Core inserts (executemany): the ORM path costs several times more per row
        if keys:
            session.execute(insert(SearchKey.__table__), keys)  # type: ignore[attr-defined]
        session.execute(insert(SearchIndexed.__table__),  # type: ignore[attr-defined]
                        [{"ticket_id": r.id, "updated_at": r.updated_at} for r in rows])


def reference_of(term: str, prefix: str) -> str | None:
    """`MDHD-000123`, `mdhd 123` or `[MDHD-000123]` as the stored reference; else None."""
    m = re.fullmatch(rf"\[?\s*{re.escape(prefix)}\s*-?\s*(\d{{1,9}})\s*\]?", term, re.I)
    return f"{prefix}-{int(m.group(1)):06d}" if m else None


def matching_ids_query(term: str, prefix: str) -> Any | None:
    """A select of ticket ids matching a search term, or None for an empty term.

    Reference (`MDHD-000123`), a person or workstep ID (digits), or the requester (address,
    its local part, full name or one of the names); all exact lookups in indexes.
    """
    term = " ".join(term.split())
    if not term:
        return None
    reference = reference_of(term, prefix)
    if reference:
        return select(Ticket.id).where(Ticket.reference == reference)
    digits = re.sub(r"[\s-]", "", term)
    if digits.isdigit():
        return select(SearchKey.ticket_id).where(
            SearchKey.value == digits, SearchKey.kind.in_(("id", "workstep")))  # type: ignore[attr-defined]
    return select(SearchKey.ticket_id).where(SearchKey.value == term.lower()[:320],
                                             SearchKey.kind == "requester")


def needs_keys(term: str, prefix: str) -> bool:
    """Whether a search term is answered from search_keys (so they must be synced first)."""
    return bool(term.strip()) and reference_of(" ".join(term.split()), prefix) is None

