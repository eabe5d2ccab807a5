"""Retention: closed tickets `retention_days` after their last change lose every personal detail.

Kept for reporting: reference, type, action, status, dates, missing field names, outcome notes,
event kinds and times. Purged: the raw message (stored unmasked: the only place NHS and NI
numbers appear in full), its texts, subject, addresses and thread headers; the ticket's fields,
cues, subject and requester; our replies' bytes and recipients; event details; search keys.
The staff audit log is append-only by design (database triggers) and is not touched.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, select

from .staff import SearchIndexed, SearchKey
from .store import OutboxItem, StoredMessage, Store, Ticket, TicketEvent, TicketMessage

log = logging.getLogger(__name__)

CLOSED_STATUSES = ("resolved", "redirected", "ignored", "superseded")
CHUNK = 500  # tickets purged per transaction


@dataclass
class PurgeReport:
    tickets: int = 0
    messages: int = 0


def _purge_tickets(session: Session, ids: list[int], now: datetime) -> int:
    """Blank the personal columns of these tickets and everything hanging off them; returns
    how many messages were purged (those whose every ticket is now purged)."""
    session.execute(update(Ticket).where(Ticket.id.in_(ids)).values(  # type: ignore[union-attr]
        fields={}, parsed_fields={}, edited_fields=[], cues=[], subject=None,
        requester_email=None, requester_name=None, requester_team=None, requester_phone=None,
        last_reply_error=None, auth_failures=[], purged_at=now))
    session.execute(update(OutboxItem).where(OutboxItem.ticket_id.in_(ids))  # type: ignore[attr-defined]
                    .values(data=b"", recipient="", recipients=[], last_error=None))
    session.execute(update(TicketEvent).where(TicketEvent.ticket_id.in_(ids))  # type: ignore[union-attr]
                    .values(detail={}))
    session.execute(delete(SearchKey).where(SearchKey.ticket_id.in_(ids)))  # type: ignore[attr-defined]
    session.execute(delete(SearchIndexed).where(SearchIndexed.ticket_id.in_(ids)))  # type: ignore[attr-defined]
    message_ids = set(session.exec(select(TicketMessage.message_id).where(
        TicketMessage.ticket_id.in_(ids))))  # type: ignore[attr-defined]
    if not message_ids:
        return 0
    still_open = set(session.exec(select(TicketMessage.message_id).join(Ticket).where(
        TicketMessage.message_id.in_(message_ids),  # type: ignore[attr-defined]
        Ticket.purged_at.is_(None))))  # type: ignore[union-attr]
    done = sorted(message_ids - still_open)
    rows = session.exec(select(StoredMessage.id, StoredMessage.message_key).where(
        StoredMessage.id.in_(done), StoredMessage.purged_at.is_(None)))  # type: ignore[union-attr]
    count = 0
    for row_id, key in rows.all():
        session.execute(update(StoredMessage).where(StoredMessage.id == row_id).values(
            **_blank_message(key), purged_at=now))
        count += 1
    return count


def _blank_message(key: str) -> dict[str, Any]:
    # the key is the Message-ID (it can hold a name): kept unique, no longer readable
    digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()
    return {"message_key": f"purged:{digest}", "raw": b"", "message_id": None, "subject": None,
            "sender_email": None, "in_reply_to": None, "reference_ids": [],
            "masked_text": None, "masked_request_text": None}


def purge_expired(st: Store, retention_days: int, now: datetime) -> PurgeReport:
    """Purge tickets closed (CLOSED_STATUSES) and unchanged for `retention_days`; 0 disables."""
    report = PurgeReport()
    if retention_days <= 0:
        return report
    cutoff = now - timedelta(days=retention_days)
    while True:
        with st.session() as session:
            ids = [i for i in session.exec(select(Ticket.id).where(
                Ticket.status.in_(CLOSED_STATUSES),  # type: ignore[attr-defined]
                Ticket.updated_at < cutoff, Ticket.purged_at.is_(None))  # type: ignore[union-attr]
                .order_by(Ticket.id).limit(CHUNK)) if i is not None]  # type: ignore[arg-type]
            if not ids:
                break
            report.messages += _purge_tickets(session, ids, now)
            report.tickets += len(ids)
    if report.tickets:
        log.info("retention: %d ticket(s) and %d message(s) purged (closed over %d days)",
                 report.tickets, report.messages, retention_days)
    return report


def retention_job(ctx: Any) -> PurgeReport | None:
    """The scheduled job (worker/scheduler.py): never raises, an outage waits for the next run."""
    from .edges import utcnow

    try:
        return purge_expired(ctx.store, ctx.settings.helpdesk.retention_days, utcnow())
    except Exception as exc:  # noqa: BLE001 - the store may be down; try again next time
        log.error("retention: purge failed (%s)", type(exc).__name__)
        return None
