"""send_pending: send due replies over one transport connection, marking each sent at once.

Each row is claimed (pending -> sending, claimed_by host:pid) in a short transaction before it
is sent, so two workers never send the same reply; on PostgreSQL one worker sends at a time (a
session advisory lock the server drops if the worker dies). A row left `sending` by a dead
worker goes back to pending at the next run and is resent with its stored bytes (same
Message-ID): if the crash came after the SMTP server accepted it and before it was recorded as
sent, the recipient gets it twice with one Message-ID (the one window no design can close).
"""
from __future__ import annotations

import logging
import os
import socket
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from . import store
from .config import Settings
from .faults import crash_point
from .mailbox import Mailbox
from .pipeline import describe_error
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


WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"  # claimed_by: who is sending a row
SENDER_LOCK = zlib.crc32(b"mosaic-helpdesk outbox sender")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _dead_claimer(claimed_by: str | None) -> bool:
    """A claim made on this host by a process that no longer exists."""
    host, _, pid = (claimed_by or "").rpartition(":")
    return (host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid()
            and not _pid_alive(int(pid)))


def _release_stale_claims(st: Store, now: datetime, sole_sender: bool) -> None:
    """Rows left `sending` by a sender that died go back to pending (resent with the same bytes).

    On PostgreSQL only the holder of the sender lock sends, and we hold it: every row still
    `sending` belongs to a dead session. On SQLite (one host) a claim whose process is gone, or
    older than CLAIM_TIMEOUT, is stale."""
    with st.session() as session:
        sending = OutboxItem.status == "sending"
        if sole_sender:
            query = update(OutboxItem).where(sending)
        else:
            rows = session.execute(select(OutboxItem.id, OutboxItem.claimed_by,
                                          OutboxItem.claimed_at).where(sending)).all()
            stale = [i for i, by, at in rows
                     if _dead_claimer(by) or at is None or at < now - CLAIM_TIMEOUT]
            if not stale:
                return
            stale_ids = OutboxItem.id.in_(stale)  # type: ignore[union-attr]
            query = update(OutboxItem).where(sending, stale_ids)
        result = session.execute(query.values(status="pending", claimed_by=None))
        if result.rowcount:
            log.warning("%d reply(ies) left sending by an interrupted run: will resend",
                        result.rowcount)


@contextmanager
def _mark_connection(st: Store) -> Iterator[Connection | None]:
    """PostgreSQL: one autocommit connection for the run's 'sent' marks (no pool checkout, ping,
    BEGIN or COMMIT per reply: each UPDATE is durable when it returns). None on SQLite."""
    if st.engine.dialect.name != "postgresql":
        yield None
        return
    with st.engine.connect() as conn:
        marks = conn.execution_options(isolation_level="AUTOCOMMIT")
        # Like SQLite's WAL + synchronous=NORMAL: a mark survives a worker crash at once and a
        # database server crash after its WAL flush (well under a second); losing one means
        # that reply is resent with the same Message-ID, never lost.
        marks.execute(text("SET synchronous_commit TO off"))
        try:
            yield marks
        finally:
            marks.execute(text("RESET synchronous_commit"))  # the connection goes back to the pool


@contextmanager
def _sender_lock(st: Store) -> Iterator[bool | None]:
    """PostgreSQL: one worker sends at a time (a session advisory lock on its own connection,
    released by the server if the worker dies). Yields True/False; None on SQLite (no lock)."""
    if st.engine.dialect.name != "postgresql":
        yield None
        return
    with st.engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                {"k": SENDER_LOCK}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SENDER_LOCK})
                conn.commit()


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
        rows = sorted(session.execute(  # claimed and read in one statement
            update(OutboxItem).where(OutboxItem.id.in_(ids), OutboxItem.status == "pending")
            .values(status="sending", claimed_at=now, claimed_by=WORKER_ID)
            .returning(OutboxItem)).scalars(), key=lambda r: r.id)  # type: ignore[union-attr]
        if not rows:
            return []
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
                      claimed_by=None,
                      sent_at=bindparam("now")))


def _finish(st: Store, row: OutboxItem, now: datetime, *, status: str, error: str | None = None,
            retry_at: datetime | None = None, marks: Connection | None = None) -> None:
    """Record one send attempt in its own short transaction. A sent row is its own record
    (sent_at); failures, retries and holds also go to the ticket's events."""
    if status == "sent":  # the hot path: one statement, one commit, no ORM session
        if marks is not None:  # PostgreSQL: one round trip, committed by the server at once
            crash_point("during_outbox_update")  # test hook: accepted, update not yet sent
            marks.execute(_MARK_SENT, {"row_id": row.id, "now": now})
            return
        with st.engine.begin() as conn:
            conn.execute(_MARK_SENT, {"row_id": row.id, "now": now})
            crash_point("during_outbox_update")  # test hook: updated, not committed
        return
    with st.session() as session:
        values: dict = {"status": status, "attempts": OutboxItem.attempts + 1,
                        "last_error": error, "claimed_by": None}
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
    try:
        _send_pending(st, transport, settings, now, mailbox, report)
    except SQLAlchemyError as exc:  # the store is down: nothing claimed or marked; next run
        report.error = describe_error(exc)
        log.error("outbox: store unavailable (%s)", report.error)
    return report


def _send_pending(st: Store, transport: Transport, settings: Settings, now: datetime,
                  mailbox: Mailbox | SentAppender | None, report: SendReport) -> None:
    with _sender_lock(st) as mine:
        if mine is False:
            log.info("outbox: another worker is sending; skipping this run")
            return
        _release_stale_claims(st, now, sole_sender=mine is True)
        due = _due_ids(st, now)
        if not due:
            return
        try:
            with transport, _mark_connection(st) as marks:
                while due:  # pages of BATCH_LIMIT ids, all over this one connection
                    for start in range(0, len(due), CLAIM_CHUNK):
                        for row in _claim(st, due[start:start + CLAIM_CHUNK], settings, now,
                                          report):
                            _send_one(st, transport, settings, row, now, report, mailbox,
                                      marks)
                    due = _due_ids(st, now, after=due[-1])
        except (TemporarySendError, OSError) as exc:  # could not connect at all: rows stay pending
            report.error = f"{type(exc).__name__}: {exc}"
            log.error("outbox: transport unavailable (%s)", type(exc).__name__)
            _unclaim(st)


def _unclaim(st: Store) -> None:
    """Our claimed rows we never got to (the server went away) are pending again at once."""
    with st.session() as session:
        session.execute(update(OutboxItem).where(OutboxItem.status == "sending",
                                                 OutboxItem.claimed_by == WORKER_ID)
                        .values(status="pending", claimed_by=None))


def _send_one(st: Store, transport: Transport, settings: Settings, row: OutboxItem,
              now: datetime, report: SendReport, mailbox: Mailbox | SentAppender | None,
              marks: Connection | None = None) -> None:
    crash_point("during_send")  # test hook: claimed, not yet handed to the server
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
    crash_point("after_send")  # test hook: the server has it, the store does not know yet
    _finish(st, row, now, status="sent", marks=marks)
    report.sent += 1
    log.debug("reply %s sent (%s)", row.id, row.kind)
    _append_sent(st, mailbox, row)
