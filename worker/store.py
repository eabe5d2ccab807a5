"""The store: SQLModel tables (messages, tickets, links, outbox, mailbox state, events) + queries.

The schema is owned by Alembic (worker/migrations); `open_store` never creates tables itself.
"""
from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, Index, LargeBinary, Text, event, insert, text
from sqlalchemy.engine import Engine, make_url
from pydantic_core import PydanticUndefined
from sqlalchemy.orm import instrumentation
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel, create_engine, select

from . import rowbuffer

log = logging.getLogger(__name__)
M = TypeVar("M", bound=SQLModel)

# parse_error of a message the parser raised on (a bug): replaying it re-files it
PARSER_CRASHED = "parser crashed: "

# ticket statuses, from the catalogue's Outcomes table
STATUS_FOR_ACTION = {"ack": "ready", "request_details": "awaiting_details",
                     "redirect": "redirected", "ignore": "ignored", "triage": "triage"}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends (SQLite keeps no offset, so we add UTC back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware one")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _utc(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class StoredMessage(SQLModel, table=True):
    """One inbound message as received: raw bytes kept for re-parsing and replay."""

    __tablename__ = "messages"
    id: int | None = Field(default=None, primary_key=True)
    message_key: str = Field(unique=True, max_length=255)  # Message-ID, else sha256:<hex of raw>
    message_id: str | None = Field(default=None, index=True, max_length=998)
    raw_sha256: str = Field(index=True, max_length=64)
    raw: bytes = Field(sa_type=LargeBinary)
    mailbox: str = Field(max_length=100)
    folder: str = Field(max_length=255)
    uidvalidity: int | None = None
    uid: int | None = None
    subject: str | None = Field(default=None, sa_type=Text)
    sender_email: str | None = Field(default=None, index=True, max_length=320)
    sent_date: datetime | None = _utc(default=None)
    received_at: datetime = _utc()
    in_reply_to: str | None = Field(default=None, max_length=998)
    reference_ids: list[str] = Field(default_factory=list, sa_type=JSON)  # References header
    screen: str | None = Field(default=None, max_length=20)
    parse_error: str | None = Field(default=None, sa_type=Text)
    # body text with NHS / National Insurance numbers masked; the request part only too
    masked_text: str | None = Field(default=None, sa_type=Text)
    masked_request_text: str | None = Field(default=None, sa_type=Text)
    purged_at: datetime | None = _utc(default=None)  # retention removed raw bytes and texts


class Ticket(SQLModel, table=True):
    """One request found in a message; later messages of the conversation join it."""

    __tablename__ = "tickets"
    id: int | None = Field(default=None, primary_key=True)
    reference: str | None = Field(default=None, unique=True, max_length=40)
    type: str = Field(index=True, max_length=40)
    action: str = Field(max_length=20)
    status: str = Field(index=True, max_length=20)
    fields: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # current (staff may edit)
    parsed_fields: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # parser's own
    edited_fields: list[str] = Field(default_factory=list, sa_type=JSON)  # names staff changed
    missing: list[str] = Field(default_factory=list, sa_type=JSON)
    cues: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    notes: list[str] = Field(default_factory=list, sa_type=JSON)
    confidence: float = 0.0
    subject: str | None = Field(default=None, sa_type=Text)
    requester_email: str | None = Field(default=None, index=True, max_length=320)
    requester_name: str | None = Field(default=None, max_length=255)
    requester_team: str | None = Field(default=None, max_length=255)
    requester_phone: str | None = Field(default=None, max_length=64)
    sensitive: bool = False
    sensitive_kinds: list[str] = Field(default_factory=list, sa_type=JSON)
    assignee: str | None = Field(default=None, max_length=255)
    last_reply_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    # sender policy (worker/senders.py): outside the allowed domains or failing authentication
    external: bool = False
    auth_failures: list[str] = Field(default_factory=list, sa_type=JSON)  # e.g. "dmarc=fail"
    # a message naming this ticket from someone outside its conversation opened this one
    linked_ticket_id: int | None = Field(default=None, foreign_key="tickets.id")
    purged_at: datetime | None = _utc(default=None)  # retention removed its personal data


class TicketMessage(SQLModel, table=True):
    """The conversation: which messages belong to which ticket (a message may hold several)."""

    __tablename__ = "ticket_messages"
    ticket_id: int = Field(foreign_key="tickets.id", primary_key=True)
    message_id: int = Field(foreign_key="messages.id", primary_key=True, index=True)
    role: str = Field(max_length=20)  # request | follow_up
    created_at: datetime = _utc()


class OutboxItem(SQLModel, table=True):
    """A fully rendered reply; resending after a crash reuses these exact bytes."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    message_id: str = Field(unique=True, max_length=255)  # our Message-ID
    kind: str = Field(max_length=40)
    sender: str = Field(max_length=320)
    recipient: str = Field(index=True, max_length=320)  # lower-cased, for the per-sender cap
    recipients: list[str] = Field(default_factory=list, sa_type=JSON)
    data: bytes = Field(sa_type=LargeBinary)
    status: str = Field(max_length=20)  # pending | sending | sent | failed | held
    attempts: int = 0
    next_attempt_at: datetime = _utc()
    claimed_at: datetime | None = _utc(default=None)
    claimed_by: str | None = Field(default=None, max_length=200)  # host:pid of the sender
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _utc()
    sent_at: datetime | None = _utc(default=None)
    appended_sent: bool = False


class MailboxState(SQLModel, table=True):
    """Per mailbox folder: UIDVALIDITY and the last UID stored, and how the last poll went."""

    __tablename__ = "mailbox_state"
    mailbox: str = Field(primary_key=True, max_length=100)
    folder: str = Field(primary_key=True, max_length=255)
    uidvalidity: int | None = None
    last_uid: int = 0
    last_poll_at: datetime | None = _utc(default=None)
    last_error: str | None = Field(default=None, sa_type=Text)
    last_error_at: datetime | None = _utc(default=None)
    failing_since: datetime | None = _utc(default=None)  # first failed poll since the last success
    alerted_at: datetime | None = _utc(default=None)  # staff told polling is failing; None: not


class TicketEvent(SQLModel, table=True):
    """Append-only history of a ticket for staff: created, follow-up, reply queued/sent/failed."""

    __tablename__ = "events"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="tickets.id", index=True)
    kind: str = Field(max_length=40)
    actor: str = Field(default="worker", max_length=100)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = _utc()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # autocommit at the driver; SQLAlchemy emits BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoint, far fewer fsyncs
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE: take the write lock up front, waiting busy_timeout for it. A deferred BEGIN
    # that reads and then writes fails at once (SQLITE_BUSY_SNAPSHOT) when the send job
    # committed in between.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def ensure_sqlite_dir(url: str) -> None:
    """A fresh checkout has no var/ yet: create the SQLite file's folder."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str) -> Engine:
    """One engine (connection pool) per process; SQLite gets WAL and foreign keys.

    hide_parameters: a driver error must never carry message text or addresses into a log."""
    if url.startswith("sqlite"):
        ensure_sqlite_dir(url)
        engine = create_engine(url, connect_args={"check_same_thread": False},
                               hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling breaks SAVEPOINT; we emit BEGIN ourselves
        # (the recipe in SQLAlchemy's SQLite dialect docs, "Serializable isolation / Savepoints")
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # A PostgreSQL server that stops answering must not hang the worker: connect timeout and
    # TCP keepalives (a URL's own connect_timeout wins).
    timeouts = {} if "connect_timeout=" in url else {"connect_timeout": 10}
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args={
        **timeouts, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
        "keepalives_count": 3})


class Store:
    """The database behind the worker: sessions and the queries the worker and CLI need."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def poll_lock(self, mailbox: str) -> Iterator[bool]:
        """On PostgreSQL, at most one worker polls a mailbox at a time (a session advisory
        lock, held on its own connection for the whole cycle): two workers moving the same
        IMAP message at once can leave two copies in the processed folder. Yields False when
        another worker holds it. SQLite serves one worker: always True."""
        if self.engine.dialect.name != "postgresql":
            yield True
            return
        key = zlib.crc32(f"mosaic-helpdesk poll {mailbox}".encode())
        with self.engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise


# -- queries (all take a session: the caller owns the transaction) --------------------------

def existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    keys = list(set(keys))
    if not keys:
        return set()
    rows = session.exec(select(StoredMessage.message_key)
                        .where(StoredMessage.message_key.in_(keys)))  # type: ignore[union-attr]
    return set(rows)


def crashed_messages(session: Session, keys: Iterable[str]) -> dict[str, StoredMessage]:
    """Stored messages among `keys` that the parser crashed on."""
    rows = session.exec(select(StoredMessage).where(
        StoredMessage.message_key.in_(list(keys)),  # type: ignore[union-attr]
        StoredMessage.parse_error.startswith(PARSER_CRASHED)))  # type: ignore[union-attr]
    return {r.message_key: r for r in rows}


def folder_state(session: Session, mailbox: str, folder: str) -> MailboxState | None:
    return session.get(MailboxState, (mailbox, folder))


def advance_last_uid(session: Session, mailbox: str, folder: str, uidvalidity: int,
                     uid: int) -> None:
    """Raise last_uid to `uid` (never lower it: a racing worker may be ahead)."""
    session.execute(text(
        "UPDATE mailbox_state SET last_uid = CASE WHEN last_uid < :uid OR uidvalidity IS NULL "
        "OR uidvalidity <> :v THEN :uid ELSE last_uid END, uidvalidity = :v "
        "WHERE mailbox = :m AND folder = :f"), {"uid": uid, "v": uidvalidity, "m": mailbox,
                                                 "f": folder})


def ticket_by_reference(session: Session, reference: str) -> Ticket | None:
    return session.exec(select(Ticket).where(Ticket.reference == reference.upper())).first()


def tickets_of_message_ids(session: Session, message_ids: Iterable[str]) -> list[Ticket]:
    """Tickets owning any of these Message-IDs: an inbound message of theirs or a reply of ours."""
    ids = [m for m in dict.fromkeys(message_ids) if m]
    if not ids:
        return []
    inbound = (select(TicketMessage.ticket_id).join(StoredMessage)
               .where(StoredMessage.message_id.in_(ids)))  # type: ignore[union-attr]
    ours = select(OutboxItem.ticket_id).where(OutboxItem.message_id.in_(ids))  # type: ignore[attr-defined]
    found = set(session.exec(inbound)) | set(session.exec(ours))
    if not found:
        return []
    return list(session.exec(select(Ticket).where(Ticket.id.in_(found))  # type: ignore[union-attr]
                             .order_by(Ticket.id.desc())))  # type: ignore[union-attr]


def awaiting_tickets_of(session: Session, sender_email: str) -> list[Ticket]:
    return list(session.exec(select(Ticket).where(
        Ticket.requester_email == sender_email, Ticket.status == "awaiting_details")
        .order_by(Ticket.id.desc())))  # type: ignore[union-attr]


def messages_of_ticket(session: Session, ticket_id: int) -> list[StoredMessage]:
    return list(session.exec(select(StoredMessage).join(TicketMessage)
                             .where(TicketMessage.ticket_id == ticket_id)
                             .order_by(StoredMessage.id)))  # type: ignore[arg-type]


HUMAN_ROLES = ("request", "follow_up")  # machine mail is linked under its screen kind


def human_messages_of_ticket(session: Session, ticket_id: int) -> list[StoredMessage]:
    """A ticket's request and the follow-ups of people on its conversation, oldest first:
    never the auto-replies and bounces kept on it as notes."""
    return list(session.exec(select(StoredMessage).join(TicketMessage)
                             .where(TicketMessage.ticket_id == ticket_id,
                                    TicketMessage.role.in_(HUMAN_ROLES))  # type: ignore[attr-defined]
                             .order_by(StoredMessage.id)))  # type: ignore[arg-type]


def tickets_naming(session: Session, ticket_id: int) -> list[Ticket]:
    """Tickets opened by mail from outside this ticket's conversation that named it."""
    return list(session.exec(select(Ticket).where(Ticket.linked_ticket_id == ticket_id)
                             .order_by(Ticket.id)))  # type: ignore[arg-type]


def tickets_of_message(session: Session, message_row_id: int) -> list[Ticket]:
    return list(session.exec(select(Ticket).join(TicketMessage)
                             .where(TicketMessage.message_id == message_row_id)
                             .order_by(Ticket.id)))  # type: ignore[arg-type]


def list_tickets(session: Session, status: str | None = None,
                 type_: str | None = None) -> list[Ticket]:
    query = select(Ticket).order_by(Ticket.id)  # type: ignore[arg-type]
    if status:
        query = query.where(Ticket.status == status)
    if type_:
        query = query.where(Ticket.type == type_)
    return list(session.exec(query))


def replies_of_ticket(session: Session, ticket_id: int) -> list[OutboxItem]:
    return list(session.exec(select(OutboxItem).where(OutboxItem.ticket_id == ticket_id)
                             .order_by(OutboxItem.id)))  # type: ignore[arg-type]


def _columns(row: SQLModel) -> dict[str, Any]:
    table = row.__table__  # type: ignore[attr-defined]
    return {c.name: getattr(row, c.name) for c in table.columns
            if not (c.primary_key and getattr(row, c.name) is None)}


_INSERTS: dict[str, Any] = {}


def insert_row(session: Session, row: SQLModel) -> SQLModel:
    """INSERT one row with a cached core statement on the session's connection (a third of the
    ORM flush's cost); sets its id. The row stays detached: later changes need statements.
    Inside rowbuffer.buffered(session) the row is queued (its id allocated) instead."""
    table = row.__table__  # type: ignore[attr-defined]
    returning = "id" in table.columns and getattr(row, "id", None) is None
    buffer = rowbuffer.active(session)
    if buffer is not None:  # a batch: the id now, the INSERT with the table's others
        if returning:
            row.id = buffer.new_id(table)  # type: ignore[attr-defined]
        buffer.add(table, _columns(row))
        return row
    key = f"{table.name}:{returning}"
    stmt = _INSERTS.get(key)
    if stmt is None:
        stmt = insert(table).returning(table.c.id) if returning else insert(table)
        _INSERTS[key] = stmt
    result = session.connection().execute(stmt, _columns(row))
    if returning:
        row.id = result.scalar_one()  # type: ignore[attr-defined]
    return row


_DEFAULTS: dict[type, dict[str, tuple[bool, Any]]] = {}


def new_row(model: type[M], **values: Any) -> M:
    """A new (transient) row object built the way the ORM builds a row it loads: the model's
    defaults, then `values`, with no per-field validation or events. SQLModel's own __init__
    costs ~60 us a ticket, a tenth of a batch's store time. Values are taken as given."""
    defaults = _DEFAULTS.get(model)
    if defaults is None:
        defaults = _DEFAULTS[model] = {
            name: (True, f.default_factory) if f.default_factory is not None else (False, f.default)
            for name, f in model.model_fields.items()}
    row = instrumentation.manager_of_class(model).new_instance()
    for name, (factory, default) in defaults.items():
        if name not in values:
            if default is PydanticUndefined:
                raise TypeError(f"new_row({model.__name__}): {name} is required")
            row.__dict__[name] = default() if factory else default
    row.__dict__.update(values)
    return row  # type: ignore[no-any-return]


def new_id(session: Session, model: type[SQLModel]) -> int | None:
    """The id the next row of `model` inserted in this batch may take (None outside a batch:
    insert_row then gets it from the database)."""
    buffer = rowbuffer.active(session)
    return buffer.new_id(model.__table__) if buffer is not None else None  # type: ignore[attr-defined]


def insert_values(session: Session, model: type[SQLModel], **values: Any) -> None:
    """INSERT one row from plain values (every NOT NULL column given): skips building a model
    object, which costs more than the INSERT itself."""
    table = model.__table__  # type: ignore[attr-defined]
    buffer = rowbuffer.active(session)
    if buffer is not None:
        buffer.add(table, values)
        return
    key = f"{table.name}:values"
    stmt = _INSERTS.get(key)
    if stmt is None:
        stmt = _INSERTS[key] = insert(table)
    session.connection().execute(stmt, values)


def link_message(session: Session, ticket_id: int, message_row_id: int, role: str,
                 now: datetime) -> None:
    insert_values(session, TicketMessage, ticket_id=ticket_id, message_id=message_row_id,
                  role=role[:20], created_at=now)


def add_event(session: Session, ticket_id: int | None, event_name: str, now: datetime,
              **detail: Any) -> None:
    """Append one event; detail holds field names, outcomes, references: never message text."""
    insert_values(session, TicketEvent, ticket_id=ticket_id, kind=event_name, actor="worker",
                  detail=detail, created_at=now)


# the staff web app's tables share this metadata (Alembic, schema-match test): see worker/staff.py
from . import staff as _staff  # noqa: E402,F401
