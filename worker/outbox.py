"""send_pending: send due replies over one transport connection, marking each sent at once.

Each row is claimed (pending -> sending) in its own short transaction before it is sent, so two
workers never send the same reply; a row left `sending` by a crash goes back to pending after
CLAIM_TIMEOUT and is resent with its stored bytes (same Message-ID).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import select

from . import store
from .config import Settings
from .mailbox import Mailbox
from .store import OutboxItem, Store, Ticket
from .transport import PermanentSendError, TemporarySendError, Transport

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=15)
BATCH_LIMIT = 1000
MAX_DELAY = 3600  # back-off doubles from retry_base_seconds up to an hour


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    held: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _release_stale_claims(st: Store, now: datetime) -> None:
    with st.session() as session:
        result = session.execute(
            update(OutboxItem).where(OutboxItem.status == "sending",
                                     OutboxItem.claimed_at < now - CLAIM_TIMEOUT)
            .values(status="pending"))
        if result.rowcount:
            log.warning("%d reply(ies) left sending by an interrupted run: will resend",
                        result.rowcount)


def _due_ids(st: Store, now: datetime) -> list[int]:
    with st.session() as session:
        query = (select(OutboxItem.id).where(OutboxItem.status == "pending",
                                             OutboxItem.next_attempt_at <= now)
                 .order_by(OutboxItem.id).limit(BATCH_LIMIT))  # type: ignore[arg-type]
        return [i for i in session.exec(query) if i is not None]


def _claim(st: Store, row_id: int, settings: Settings, now: datetime) -> OutboxItem | None:
    """pending -> sending (or -> held when the recipient hit the hourly cap); None if taken."""
    with st.session() as session:
        claimed = session.execute(
            update(OutboxItem).where(OutboxItem.id == row_id, OutboxItem.status == "pending")
            .values(status="sending", claimed_at=now))
        if claimed.rowcount != 1:
            return None  # another worker has it
        row = session.get(OutboxItem, row_id)
        if row is None:
            return None
        recent = session.exec(select(func.count()).select_from(OutboxItem).where(
            OutboxItem.recipient == row.recipient, OutboxItem.id != row.id,
            OutboxItem.sent_at >= now - timedelta(hours=1))).one()  # type: ignore[operator]
        if recent >= settings.helpdesk.replies_per_sender_per_hour:
            row.status = "held"
            session.add(row)
            store.add_event(session, row.ticket_id, "reply_held", now, kind=row.kind,
                            reason="replies_per_sender_per_hour")
            log.warning("reply %s held: per-sender hourly cap reached", row.id)
            return None
        return row


def _finish(st: Store, row_id: int, now: datetime, *, status: str, error: str | None = None,
            retry_at: datetime | None = None) -> None:
    with st.session() as session:
        row = session.get(OutboxItem, row_id)
        if row is None:
            return
        row.attempts += 1
        row.status = status
        row.last_error = error
        if status == "sent":
            row.sent_at = now
        if retry_at is not None:
            row.next_attempt_at = retry_at
        session.add(row)
        if status == "failed":
            ticket = session.get(Ticket, row.ticket_id)
            if ticket is not None:
                ticket.last_reply_error = error
                session.add(ticket)
        store.add_event(session, row.ticket_id, f"reply_{status}", now, kind=row.kind,
                        attempts=row.attempts)


class SentAppender:
    """Opens the mailbox only when a sent reply has to be appended (most runs send nothing)."""

    def __init__(self, open_mailbox: Callable[[], Mailbox]) -> None:
        self._open = open_mailbox
        self._mailbox: Mailbox | None = None

    def __enter__(self) -> "SentAppender":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._mailbox is not None:
            self._mailbox.__exit__(None, None, None)
            self._mailbox = None

    def append_sent(self, data: bytes) -> None:
        if self._mailbox is None:
            self._mailbox = self._open().__enter__()
        self._mailbox.append_sent(data)


def _append_sent(st: Store, mailbox: Mailbox | SentAppender | None, row: OutboxItem) -> None:
    if mailbox is None:
        return
    try:
        mailbox.append_sent(row.data)
    except Exception as exc:  # noqa: BLE001 - the reply is sent; never resend over this
        log.warning("reply %s sent but not appended to Sent (%s)", row.id, type(exc).__name__)
        return
    with st.session() as session:
        session.execute(update(OutboxItem).where(OutboxItem.id == row.id)
                        .values(appended_sent=True))


def send_pending(st: Store, transport: Transport, settings: Settings, now: datetime,
                 mailbox: Mailbox | SentAppender | None = None) -> SendReport:
    """Send every due reply; never raises for a send failure (it is recorded on the row)."""
    report = SendReport()
    _release_stale_claims(st, now)
    due = _due_ids(st, now)
    if not due:
        return report
    base = max(1, settings.outbox.retry_base_seconds)
    try:
        with transport:
            for row_id in due:
                row = _claim(st, row_id, settings, now)
                if row is None:
                    continue
                try:
                    transport.send(row.data, row.sender, list(row.recipients))
                except PermanentSendError as exc:
                    _finish(st, row_id, now, status="failed", error=str(exc)[:1000])
                    report.failed += 1
                    log.warning("reply %s rejected for good (%s)", row_id, type(exc).__name__)
                    continue
                except (TemporarySendError, OSError) as exc:
                    attempts = row.attempts + 1
                    if attempts >= settings.outbox.max_attempts:
                        _finish(st, row_id, now, status="failed", error=str(exc)[:1000])
                        report.failed += 1
                    else:
                        delay = timedelta(seconds=min(base * 2 ** (attempts - 1), MAX_DELAY))
                        _finish(st, row_id, now, status="pending", error=str(exc)[:1000],
                                retry_at=now + delay)
                        report.retrying += 1
                    log.warning("reply %s not sent, attempt %d (%s)", row_id, attempts,
                                type(exc).__name__)
                    continue
                _finish(st, row_id, now, status="sent")
                report.sent += 1
                log.info("reply %s sent (%s)", row_id, row.kind)
                _append_sent(st, mailbox, row)
    except (TemporarySendError, OSError) as exc:  # could not connect at all: rows stay pending
        report.error = f"{type(exc).__name__}: {exc}"
        log.error("outbox: transport unavailable (%s)", type(exc).__name__)
    report.held = _count_held(st, due)
    return report


def _count_held(st: Store, ids: list[int]) -> int:
    with st.session() as session:
        return session.exec(select(func.count()).select_from(OutboxItem).where(
            OutboxItem.id.in_(ids), OutboxItem.status == "held")).one()  # type: ignore[union-attr]
