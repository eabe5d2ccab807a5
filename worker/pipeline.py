"""poll_once(ctx, now): fetch -> parse -> thread -> store + queue replies (one transaction) -> mark.

Order of side effects: a batch of messages, their tickets and queued replies commit together
(their rows sent once per table: worker/rowbuffer.py); only after the commit are the messages
moved to the processed folder. If the batch fails (one bad message, a racing worker's duplicate)
it is redone with each message inside its own SAVEPOINT, so that message only fails itself.
"""
from __future__ import annotations

import itertools
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import parsers
from parsers import ParseOptions, ParseResult
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from . import conversation, rowbuffer, store
from .config import Settings
from .faults import crash_point
from .mailbox import FolderState, Mailbox, MailboxUnavailableError, RawMessage
from .messages import build_stored_message, message_key, resolve_keys
from .replies import ReplyRenderer
from .store import MailboxState, Store, StoredMessage
from .tickets import TicketWriter

log = logging.getLogger(__name__)


@dataclass
class WorkerContext:
    """What a cycle needs: settings, the store, how to open the mailbox, the reply renderer."""

    settings: Settings
    store: Store
    open_mailbox: Callable[[], Mailbox]
    renderer: ReplyRenderer
    options: ParseOptions
    parse: Callable[[bytes, ParseOptions], ParseResult] | None = None  # None: parsers.parse


@dataclass
class MessageOutcome:
    """What happened to one fetched message (no personal data: safe to print and log)."""

    uid: int
    outcome: str  # new | follow_up | note (machine mail on a ticket) | duplicate | failed
    message_key: str = field(default="", repr=False)  # never logged
    references: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    replies: int = 0


@dataclass
class CycleReport:
    fetched: int = 0
    outcomes: list[MessageOutcome] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    skipped: bool = False  # another worker was polling this mailbox

    @property
    def ok(self) -> bool:
        return self.error is None

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    @property
    def replies_queued(self) -> int:
        return sum(o.replies for o in self.outcomes)


@dataclass
class Fetched:
    """One fetched message with its parse result (or the parser's crash)."""

    raw: RawMessage
    key: str
    result: ParseResult | None
    crash: str | None = None


def log_bug(what: str, exc: BaseException) -> None:
    """Log a bug with its traceback but not the exception's message, which may quote the mail
    (a parser's ValueError, a driver error's parameters)."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("%s: %s\n%s", what, type(exc).__name__, frames.rstrip())


def describe_error(exc: BaseException) -> str:
    """An outage for logs, the CLI and the store: a mailbox error says which call failed; a
    database error only its types (its text can quote the statement's parameters)."""
    if isinstance(exc, MailboxUnavailableError):
        return f"{type(exc).__name__}: {exc}"[:500]
    orig = getattr(exc, "orig", None)
    return type(exc).__name__ + (f" ({type(orig).__name__})" if orig is not None else "")


def parse_fetched(raw: RawMessage, options: ParseOptions, max_bytes: int,
                  parse: Callable[[bytes, ParseOptions], ParseResult] | None = None) -> Fetched:
    key = message_key(raw.data)
    if len(raw.data) > max_bytes:
        return Fetched(raw, key, ParseResult(message=None, error="too_large"))
    try:
        return Fetched(raw, key, (parse or parsers.parse)(raw.data, options))
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the cycle
        log_bug(f"uid={raw.uid}: the parser raised", exc)
        return Fetched(raw, key, None, crash=f"{store.PARSER_CRASHED}{type(exc).__name__}")


def _ensure_state(st: Store, mailbox: str, folder: str, now: datetime) -> FolderState:
    with st.session() as session:
        row = store.folder_state(session, mailbox, folder)
        if row is not None:
            return FolderState(row.uidvalidity, row.last_uid)
    try:
        with st.session() as session:
            session.add(MailboxState(mailbox=mailbox, folder=folder, last_uid=0))
    except IntegrityError:  # a racing worker created it first
        pass
    return FolderState(None, 0)


def _record_poll(st: Store, mailbox: str, folder: str, now: datetime, error: str | None) -> None:
    try:
        with st.session() as session:
            row = store.folder_state(session, mailbox, folder)
            if row is None:  # the first poll failed before the mailbox answered
                row = MailboxState(mailbox=mailbox, folder=folder, last_uid=0)
            if error is None:
                row.last_poll_at, row.failing_since = now, None
            else:
                row.last_error, row.last_error_at = error[:2000], now
                row.failing_since = row.failing_since or now
            session.add(row)
    except Exception:  # noqa: BLE001 - the store may be what failed; the report carries it
        log.warning("could not record the poll result for mailbox %s", mailbox)


def handle_message(session: Session, item: Fetched, writer: TicketWriter, mailbox_name: str,
                   now: datetime) -> MessageOutcome:
    """Store one message and its ticket(s), queue its replies; caller owns the transaction."""
    stored = build_stored_message(item.raw, item.key, item.result, item.crash, now, mailbox_name)
    store.insert_row(session, stored)  # a duplicate key raises IntegrityError at the flush
    tickets, outcome, replies = writer.file(session, stored, item.result, item.crash)
    if outcome == "note" and item.result is not None:  # machine mail kept on a ticket
        types, actions = [r.type for r in item.result.requests[:1]], ["ignore"]
    else:
        types, actions = [t.type for t in tickets], [t.action for t in tickets]
    return MessageOutcome(uid=item.raw.uid, outcome=outcome, message_key=item.key,
                          references=[t.reference or "" for t in tickets], types=types,
                          actions=actions, replies=replies)


def refile_message(session: Session, row: StoredMessage, item: Fetched, writer: TicketWriter,
                   mailbox_name: str, now: datetime) -> MessageOutcome:
    """A message stored when the parser crashed on it, back from the Failed folder: the row
    gets its parsed form, its unreadable ticket is superseded, and it is filed as new."""
    fresh = build_stored_message(item.raw, item.key, item.result, None, row.received_at,
                                 mailbox_name)
    for name in ("message_id", "subject", "sender_email", "sent_date", "in_reply_to",
                 "reference_ids", "screen", "parse_error", "masked_text", "masked_request_text"):
        setattr(row, name, getattr(fresh, name))
    session.add(row)
    writer.supersede_unreadable(session, row)
    tickets, outcome, replies = writer.file(session, row, item.result, None)
    return MessageOutcome(uid=item.raw.uid, outcome=outcome, message_key=item.key,
                          references=[t.reference or "" for t in tickets],
                          types=[t.type for t in tickets], actions=[t.action for t in tickets],
                          replies=replies)


def store_batch(ctx: WorkerContext, batch: list[Fetched], mailbox: Mailbox, uidvalidity: int,
                now: datetime) -> list[tuple[Fetched, MessageOutcome]]:
    """One transaction for the batch; returns each message's outcome once committed.

    Fast path without savepoints; if anything in it fails (a racing worker's duplicate, one bad
    message) the whole batch is rolled back and redone with a SAVEPOINT per message, so only
    that message is skipped. A failure outside any message (the database is gone) raises.
    """
    try:
        return _store_batch(ctx, batch, mailbox, uidvalidity, now, isolate=False)
    except Exception:  # noqa: BLE001 - retried message by message just below
        log.info("batch of %d rolled back; storing message by message", len(batch))
    return _store_batch(ctx, batch, mailbox, uidvalidity, now, isolate=True)


def _store_batch(ctx: WorkerContext, batch: list[Fetched], mailbox: Mailbox, uidvalidity: int,
                 now: datetime, isolate: bool) -> list[tuple[Fetched, MessageOutcome]]:
    writer = TicketWriter(ctx.settings, ctx.renderer, ctx.options, now)
    done: list[tuple[Fetched, MessageOutcome]] = []
    with ctx.store.session() as session:
        seen = resolve_keys(session, batch)  # re-keys a different message reusing a Message-ID
        crashed = store.crashed_messages(session, seen) if seen else {}
        # rows go out once per table at the end (and before any read that may need them)
        needed = _ids_needed(batch, seen, crashed, ctx.options.reference_prefix)
        with rowbuffer.buffered(session, needed) as rows:
            for item in batch:
                retry = crashed.pop(item.key, None) if item.crash is None else None
                if item.key in seen and retry is None:
                    done.append((item, MessageOutcome(item.raw.uid, "duplicate", item.key)))
                    continue
                if isolate:
                    outcome = _store_isolated(session, rows, item, retry, writer, mailbox.name,
                                              now)
                else:
                    outcome = _store_one(session, item, retry, writer, mailbox.name, now)
                seen.add(item.key)
                done.append((item, outcome))
        store.advance_last_uid(session, mailbox.name, batch[0].raw.folder, uidvalidity,
                               max(f.raw.uid for f in batch))
    return done


def _ids_needed(batch: list[Fetched], seen: set[str], crashed: dict[str, StoredMessage],
                reference_prefix: str) -> dict[str, int]:
    """How many message and ticket ids a batch will likely take (PostgreSQL takes them from
    the sequences in one go; unused ones are gaps in the references, so this errs low): a new
    conversation makes a ticket per request; mail that may follow up a ticket is not counted."""
    tickets = messages = 0
    for item in batch:
        if item.key in seen and (item.key not in crashed or item.crash is not None):
            continue  # a duplicate
        messages += item.key not in seen
        result = item.result
        msg = result.message if result is not None else None
        if result is None or msg is None or result.error:
            tickets += 1
        elif not (result.ticket_refs or msg.in_reply_to or msg.references
                  or conversation.may_follow_up(msg.subject, reference_prefix)):
            ignored = any(r.action == "ignore" for r in result.requests)
            tickets += 1 if ignored else max(1, len(result.requests))
    return {"messages": messages, "tickets": tickets}


def _store_one(session: Session, item: Fetched, retry: StoredMessage | None,
               writer: TicketWriter, mailbox_name: str, now: datetime) -> MessageOutcome:
    if retry is not None:  # replayed after a parser fix: file it properly now
        return refile_message(session, retry, item, writer, mailbox_name, now)
    return handle_message(session, item, writer, mailbox_name, now)


def _store_isolated(session: Session, rows: rowbuffer.RowBuffer, item: Fetched,
                    retry: StoredMessage | None, writer: TicketWriter, mailbox_name: str,
                    now: datetime) -> MessageOutcome:
    """One message inside its own SAVEPOINT: its failure rolls back only itself."""
    savepoint = session.begin_nested()
    try:
        outcome = _store_one(session, item, retry, writer, mailbox_name, now)
        rows.flush()  # its rows' errors (a duplicate key) belong to this savepoint
        savepoint.commit()
        return outcome
    except IntegrityError as exc:
        rows.discard()
        savepoint.rollback()
        if store.existing_keys(session, [item.key]):  # a racing worker stored it
            return MessageOutcome(item.raw.uid, "duplicate", item.key)
        log_bug(f"uid={item.raw.uid}: could not store the message", exc)  # not a duplicate
    except Exception as exc:  # noqa: BLE001 - one bad message must not stop the batch
        rows.discard()
        savepoint.rollback()
        log_bug(f"uid={item.raw.uid}: could not store the message", exc)
    return MessageOutcome(item.raw.uid, "failed", item.key)


def _mark(mailbox: Mailbox, item: Fetched, outcome: MessageOutcome) -> None:
    try:
        if outcome.outcome == "failed" or item.crash:
            mailbox.mark_failed(item.raw)
        else:
            mailbox.mark_processed(item.raw)
    except Exception as exc:  # noqa: BLE001 - stored already; next cycle skips it by key
        log.warning("uid=%s: stored but not moved (%s)", item.raw.uid, type(exc).__name__)


def _log_outcome(outcome: MessageOutcome) -> None:
    log.info("uid=%s outcome=%s refs=%s types=%s actions=%s replies=%d", outcome.uid,
             outcome.outcome, ",".join(outcome.references) or "-",
             ",".join(outcome.types) or "-", ",".join(outcome.actions) or "-", outcome.replies)


def poll_once(ctx: WorkerContext, now: datetime) -> CycleReport:
    """One cycle on one mailbox connection. Never raises: an outage is `report.error`."""
    report = CycleReport()
    started = time.perf_counter()
    name = ctx.settings.mailbox.name
    folder = ctx.settings.imap.inbox if ctx.settings.mailbox.kind == "imap" else "INBOX"
    try:
        with ctx.store.poll_lock(name) as mine:
            if not mine:
                log.info("mailbox %s: another worker is polling it; skipping this cycle", name)
                report.skipped = True
                report.seconds = time.perf_counter() - started
                return report
            _poll(ctx, now, report)
    except Exception as exc:  # noqa: BLE001 - outage: log once, let the next cycle retry
        report.error = describe_error(exc)
        log.error("poll of mailbox %s failed: %s", name, type(exc).__name__)
    _record_poll(ctx.store, name, folder, now, report.error)
    report.seconds = time.perf_counter() - started
    return report


def _poll(ctx: WorkerContext, now: datetime, report: CycleReport) -> None:
    batch_size = max(1, ctx.settings.mailbox.batch_size)
    max_bytes = ctx.settings.helpdesk.max_message_bytes
    with ctx.open_mailbox() as mailbox:
        uidvalidity = mailbox.uidvalidity()
        folder = getattr(mailbox, "inbox", None) or getattr(mailbox, "folder", "INBOX")
        state = _ensure_state(ctx.store, mailbox.name, folder, now)  # same key as raw.folder
        # Stored but never moved (a move refused, or the process died before its queued moves
        # went out): still in the inbox below last_uid. Filed again they are duplicates by key,
        # so they only get moved.
        stranded = getattr(mailbox, "fetch_stranded", None)
        sources = [stranded(state, batch_size)] if stranded is not None else []
        batch: list[Fetched] = []
        for raw in itertools.chain(*sources, mailbox.fetch_new(state, batch_size)):
            report.fetched += 1
            batch.append(parse_fetched(raw, ctx.options, max_bytes, ctx.parse))
            if len(batch) >= batch_size:
                _finish(ctx, batch, mailbox, uidvalidity, now, report)
                batch = []
        if batch:
            _finish(ctx, batch, mailbox, uidvalidity, now, report)
        crash_point("before_move")  # test hook: moves queued, not yet sent to the server


def _finish(ctx: WorkerContext, batch: list[Fetched], mailbox: Mailbox, uidvalidity: int,
            now: datetime, report: CycleReport) -> None:
    crash_point("after_fetch")  # test hook: fetched and parsed, nothing stored
    done = store_batch(ctx, batch, mailbox, uidvalidity, now)
    crash_point("after_commit")  # test hook: stored and committed, nothing moved
    for item, outcome in done:
        _mark(mailbox, item, outcome)
        _log_outcome(outcome)
        report.outcomes.append(outcome)
