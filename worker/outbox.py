"""send_pending: send due replies over one transport connection, marking each sent at once.

Each row is claimed (pending -> sending) in its own short transaction before it is sent, so two
workers never send the same reply; a row left `sending` by a crash goes back to pending after
CLAIM_TIMEOUT and is resent with its stored bytes (same Message-ID).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, update
from sqlmodel import select

from . import store
from .config import Settings
from .mailbox import Mailbox
from .store import OutboxItem, Store, Ticket
from .transport import PermanentSendError, TemporarySendError, Transport

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=15)
BATCH_LIMIT = 1000
CLAIM_CHUNK = 50  # rows claimed at once; a crash leaves at most these to resend later
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


def _due_ids(st: Store, now: datetime, after: int = 0) -> list[int]:
    with st.session() as session:
        query = (select(OutboxItem.id).where(OutboxItem.status == "pending",
                                             OutboxItem.next_attempt_at <= now,
                                             OutboxItem.id > after)
                 .order_by(OutboxItem.id).limit(BATCH_LIMIT))  # type: ignore[arg-type]
        return [i for i in session.exec(query) if i is not None]


def _claim(st: Store, ids: list[int], settings: Settings, now: datetime,
           report: SendReport) -> list[OutboxItem]:
    """pending -> sending for these rows (only those still pending: another worker may have
    some); rows whose recipient reached the hourly cap go to `held` instead."""
    cap = settings.helpdesk.replies_per_sender_per_hour
    with st.session() as session:
        claimed = list(session.execute(
            update(OutboxItem).where(OutboxItem.id.in_(ids), OutboxItem.status == "pending")
            .values(status="sending", claimed_at=now)
            .returning(OutboxItem.id)).scalars())  # type: ignore[union-attr]
        if not claimed:
            return []
        rows = list(session.exec(select(OutboxItem).where(OutboxItem.id.in_(claimed))
                                 .order_by(OutboxItem.id)))  # type: ignore[union-attr]
        recipients = {r.recipient for r in rows}
        sent_recently = dict(session.execute(
            select(OutboxItem.recipient, func.count()).where(
                OutboxItem.recipient.in_(recipients),  # type: ignore[attr-defined]
                OutboxItem.sent_at >= now - timedelta(hours=1))  # type: ignore[operator]
            .group_by(OutboxItem.recipient)).all())
        keep, held = [], []
        for row in rows:
            if sent_recently.get(row.recipient, 0) >= cap:
                held.append(row)
                continue
            sent_recently[row.recipient] = sent_recently.get(row.recipient, 0) + 1
            keep.append(row)
        for row in held:
            row.status = "held"
            session.add(row)
            store.add_event(session, row.ticket_id, "reply_held", now, kind=row.kind,
                            reason="replies_per_sender_per_hour")
            log.warning("reply %s held: per-sender hourly cap reached", row.id)
        report.held += len(held)
        return keep


_OUTBOX = OutboxItem.__table__  # type: ignore[attr-defined]
_MARK_SENT = (update(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id"))
              .values(status="sent", attempts=_OUTBOX.c.attempts + 1, last_error=None,
                      sent_at=bindparam("now")))


def _finish(st: Store, row: OutboxItem, now: datetime, *, status: str, error: str | None = None,
            retry_at: datetime | None = None) -> None:
    """Record one send attempt in its own short transaction. A sent row is its own record
    (sent_at); failures, retries and holds also go to the ticket's events."""
    if status == "sent":  # the hot path: one statement, one commit, no ORM session
        with st.engine.begin() as conn:
            conn.execute(_MARK_SENT, {"row_id": row.id, "now": now})
        return
    with st.session() as session:
        values: dict = {"status": status, "attempts": OutboxItem.attempts + 1,
                        "last_error": error}
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        session.execute(update(OutboxItem).where(OutboxItem.id == row.id).values(**values))
        if status == "failed":
            session.execute(update(Ticket).where(Ticket.id == row.ticket_id)
                            .values(last_reply_error=error))
        store.add_event(session, row.ticket_id, f"reply_{status}", now, kind=row.kind,
                        attempts=row.attempts + 1)


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
    try:
        with transport:
            while due:  # pages of BATCH_LIMIT ids, all over this one connection
                for start in range(0, len(due), CLAIM_CHUNK):
                    for row in _claim(st, due[start:start + CLAIM_CHUNK], settings, now, report):
                        _send_one(st, transport, settings, row, now, report, mailbox)
                due = _due_ids(st, now, after=due[-1])
    except (TemporarySendError, OSError) as exc:  # could not connect at all: rows stay pending
        report.error = f"{type(exc).__name__}: {exc}"
        log.error("outbox: transport unavailable (%s)", type(exc).__name__)
    return report


def _send_one(st: Store, transport: Transport, settings: Settings, row: OutboxItem,
              now: datetime, report: SendReport, mailbox: Mailbox | SentAppender | None) -> None:
    try:
        transport.send(row.data, row.sender, list(row.recipients))
    except PermanentSendError as exc:
        _finish(st, row, now, status="failed", error=str(exc)[:1000])
        report.failed += 1
        log.warning("reply %s rejected for good (%s)", row.id, type(exc).__name__)
        return
    except (TemporarySendError, OSError) as exc:
        attempts = row.attempts + 1
        if attempts >= settings.outbox.max_attempts:
            _finish(st, row, now, status="failed", error=str(exc)[:1000])
            report.failed += 1
        else:
            base = max(1, settings.outbox.retry_base_seconds)
            delay = timedelta(seconds=min(base * 2 ** (attempts - 1), MAX_DELAY))
            _finish(st, row, now, status="pending", error=str(exc)[:1000], retry_at=now + delay)
            report.retrying += 1
        log.warning("reply %s not sent, attempt %d (%s)", row.id, attempts, type(exc).__name__)
        return
    _finish(st, row, now, status="sent")
    report.sent += 1
    log.debug("reply %s sent (%s)", row.id, row.kind)
    _append_sent(st, mailbox, row)
