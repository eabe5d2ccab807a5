"""The queue: tickets by status with counts, oldest first, filtered, searched, keyset-paged."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlmodel import Session

from ..store import Ticket
from .search import matching_ids_query

log = logging.getLogger(__name__)

STATUSES = ("triage", "awaiting_details", "ready", "in_progress", "resolved", "redirected",
            "ignored")
PAGE_SIZE = 50
COUNT_CAP = 10_000


@dataclass(frozen=True)
class QueueFilter:
    """What the staff member asked for: status, type, assignee ("" any, "-" nobody), search."""

    status: str = ""
    type: str = ""
    assignee: str = ""
    q: str = ""
    after: tuple[datetime, int] | None = None  # keyset cursor: (created_at, id) of the last row


@dataclass
class QueuePage:
    rows: list[dict[str, Any]]
    counts: dict[str, int]
    total: int
    next_cursor: str | None
    filter: QueueFilter
    extra: dict[str, Any] = field(default_factory=dict)


def parse_cursor(text: str | None) -> tuple[datetime, int] | None:
    """`<iso created_at>_<id>` from a next-page link; None when absent or malformed."""
    if not text or "_" not in text:
        return None
    stamp, _, row_id = text.rpartition("_")
    try:
        when = datetime.fromisoformat(stamp)
        return (when, int(row_id)) if when.tzinfo is not None else None
    except ValueError:
        return None


def format_cursor(created_at: datetime, row_id: int) -> str:
    return f"{created_at.isoformat()}_{row_id}"


def age_text(created_at: datetime, now: datetime) -> str:
    """A short human age: `3 d 4 h`, `5 h 12 m`, `12 m`."""
    minutes = max(0, int((now - created_at).total_seconds() // 60))
    days, rem = divmod(minutes, 1440)
    hours, mins = divmod(rem, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} m"
    return f"{mins} m"


def _filtered(query: Any, f: QueueFilter, prefix: str, with_status: bool = True) -> Any:
    if with_status and f.status:
        query = query.where(Ticket.status == f.status)
    if f.type:
        query = query.where(Ticket.type == f.type)
    if f.assignee == "-":
        query = query.where(Ticket.assignee.is_(None))  # type: ignore[union-attr]
    elif f.assignee:
        query = query.where(Ticket.assignee == f.assignee)
    matches = matching_ids_query(f.q, prefix)
    if matches is not None:
        query = query.where(Ticket.id.in_(matches))  # type: ignore[union-attr]
    return query


def status_counts(session: Session, f: QueueFilter, prefix: str) -> dict[str, int]:
    """Tickets per status under the type/assignee/search filters (not the status one).

    Each count stops at COUNT_CAP + 1 (shown as "10000+"): resolved and ignored tickets grow
    without end, and an exact count of them would scan them all on every page view."""
    if matching_ids_query(f.q, prefix) is not None:
        # a search: one pass over its (indexed) matches beats seven capped counts of them
        query = _filtered(select(Ticket.status, func.count()).group_by(Ticket.status), f,
                          prefix, with_status=False)
        found = dict(session.execute(query).all())
        return {s: found.get(s, 0) for s in STATUSES}
    counts = []
    for status in STATUSES:
        inner = _filtered(select(Ticket.id).where(Ticket.status == status), f, prefix,
                          with_status=False).limit(COUNT_CAP + 1).subquery()
        counts.append(select(func.count()).select_from(inner).scalar_subquery().label(status))
    row = session.execute(select(*counts)).one()
    return dict(zip(STATUSES, row))


def queue_page(session: Session, f: QueueFilter, prefix: str, now: datetime,
               page_size: int = PAGE_SIZE) -> QueuePage:
    """One page of the queue, oldest first; `next_cursor` when there is more."""
    cols = (Ticket.id, Ticket.reference, Ticket.type, Ticket.status, Ticket.action,
            Ticket.created_at, Ticket.requester_email, Ticket.requester_name, Ticket.assignee,
            Ticket.missing, Ticket.confidence, Ticket.sensitive, Ticket.subject)
    query = _filtered(select(*cols), f, prefix)
    if f.after is not None:
        query = query.where(tuple_(Ticket.created_at, Ticket.id) > tuple_(*f.after))
    query = query.order_by(Ticket.created_at, Ticket.id).limit(page_size + 1)  # type: ignore[arg-type]
    rows = list(session.execute(query))
    more = len(rows) > page_size
    rows = rows[:page_size]
    counts = status_counts(session, f, prefix)
    out = [{"reference": r.reference, "type": r.type, "status": r.status, "action": r.action,
            "created_at": r.created_at, "age": age_text(r.created_at, now),
            "requester": r.requester_name or r.requester_email or "-",
            "requester_email": r.requester_email, "assignee": r.assignee,
            "missing": list(r.missing or []), "confidence": r.confidence,
            "sensitive": r.sensitive, "subject": r.subject} for r in rows]
    cursor = format_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    shown = [counts[f.status]] if f.status else list(counts.values())
    total = sum(min(n, COUNT_CAP) for n in shown)
    total_text = f"{total}+" if any(n > COUNT_CAP for n in shown) else str(total)
    return QueuePage(rows=out, counts=counts, total=total, next_cursor=cursor, filter=f,
                     extra={"total_text": total_text,
                            "all_text": f"{sum(min(n, COUNT_CAP) for n in counts.values())}"
                                        f"{'+' if any(n > COUNT_CAP for n in counts.values()) else ''}"})
