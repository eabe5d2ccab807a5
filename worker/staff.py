"""Staff accounts (argon2 hashes), failed-login throttling, the append-only audit log, search keys.

These tables belong to the staff web app (worker/web) and share the store's metadata, so the
Alembic migrations and the schema-match test see them. Nothing here logs a name, a password or
a value: only outcomes.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Index, Text, delete
from sqlmodel import Field, Session, SQLModel, select

from .store import Ticket, UTCDateTime

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
MIN_PASSWORD_LENGTH = 10
# failed logins per account+address allowed before each further attempt must wait
FREE_FAILURES = 3
MAX_DELAY = timedelta(minutes=15)

_hasher = PasswordHasher()
# verified against when the account does not exist, so both paths cost the same time
_DUMMY_HASH = _hasher.hash("not a real password: equalises timing")


def _utc(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class StaffAccount(SQLModel, table=True):
    """A help-desk staff member who may log in to the web app."""

    __tablename__ = "staff_accounts"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    password_hash: str = Field(max_length=255)
    created_at: datetime = _utc()
    active: bool = True
    failed_logins: int = 0  # since the last successful login
    last_failed_at: datetime | None = _utc(default=None)
    last_login_at: datetime | None = _utc(default=None)
    # sessions carry the epoch they began in; raising it (logout, new password, disable)
    # ends every session of the account, wherever its cookie has gone
    session_epoch: int = 0


class LoginFailure(SQLModel, table=True):
    """Failed logins per (account name, client address): drives the slow-down."""

    __tablename__ = "login_failures"
    name: str = Field(primary_key=True, max_length=64)
    address: str = Field(primary_key=True, max_length=64)
    count: int = 0
    last_at: datetime = _utc()


class AuditEntry(SQLModel, table=True):
    """Append-only: who did or saw what on which ticket, with old and new values."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _utc(index=True)
    actor: str = Field(max_length=64)
    ticket_id: int | None = Field(default=None, foreign_key="tickets.id", index=True)
    action: str = Field(max_length=40)
    field: str | None = Field(default=None, max_length=64)
    old_value: str | None = Field(default=None, sa_type=Text)
    new_value: str | None = Field(default=None, sa_type=Text)


class SearchKey(SQLModel, table=True):
    """Indexed lookup values of a ticket (IDs, requester) kept in step with its fields."""

    __tablename__ = "search_keys"
    ticket_id: int = Field(foreign_key="tickets.id", primary_key=True)
    kind: str = Field(primary_key=True, max_length=16)  # id | workstep | requester
    value: str = Field(primary_key=True, max_length=320, index=True)


class SearchIndexed(SQLModel, table=True):
    """Which version (updated_at) of each ticket its search keys were built from."""

    __tablename__ = "search_indexed"
    ticket_id: int = Field(foreign_key="tickets.id", primary_key=True)
    updated_at: datetime = _utc()


# The queue's orderings and filters (oldest first, by status / type / assignee), on the
# worker's tickets table; declared here so store.py stays the worker's.
_t = Ticket.__table__.c  # type: ignore[attr-defined]
QUEUE_INDEXES = (
    Index("ix_tickets_status_created", _t.status, _t.created_at, _t.id),
    Index("ix_tickets_created", _t.created_at, _t.id),
    Index("ix_tickets_type_created", _t.type, _t.created_at, _t.id),
    Index("ix_tickets_assignee_created", _t.assignee, _t.created_at, _t.id),
    Index("ix_tickets_updated", _t.updated_at),
)


class AccountError(ValueError):
    """A staff name or password that cannot be used."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def add_account(session: Session, name: str, password: str, now: datetime) -> StaffAccount:
    """Create an account (or reset its password). Names: lower-case letters, digits, . _ -."""
    name = name.strip().lower()
    if not NAME_RE.match(name):
        raise AccountError("name must be 2-63 characters: lower-case letters, digits, . _ -")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    account = session.exec(select(StaffAccount).where(StaffAccount.name == name)).first()
    if account is None:
        account = StaffAccount(name=name, password_hash=hash_password(password), created_at=now)
    else:
        account.password_hash = hash_password(password)
        account.active = True
        account.session_epoch += 1
    session.add(account)
    session.flush()
    return account


def login_wait(session: Session, name: str, address: str, now: datetime) -> float:
    """Seconds this account+address must still wait before another attempt (0: may try now)."""
    row = session.get(LoginFailure, (name.strip().lower()[:64], address[:64]))
    if row is None or row.count < FREE_FAILURES:
        return 0.0
    delay = min(timedelta(seconds=2 ** (row.count - FREE_FAILURES + 1)), MAX_DELAY)
    return max(0.0, (row.last_at + delay - now).total_seconds())


def check_login(session: Session, name: str, password: str, address: str,
                now: datetime) -> StaffAccount | None:
    """The account when name and password match; records the failure otherwise.

    The caller checks `login_wait` first. Unknown names cost the same hash verification.
    """
    name = name.strip().lower()[:64]
    account = session.exec(select(StaffAccount).where(StaffAccount.name == name)).first()
    try:
        ok = _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if ok and account is not None and account.active:
        if _hasher.check_needs_rehash(account.password_hash):
            account.password_hash = hash_password(password)
        account.failed_logins = 0
        account.last_login_at = now
        session.add(account)
        session.execute(delete(LoginFailure).where(LoginFailure.name == name,
                                                   LoginFailure.address == address[:64]))
        return account
    row = session.get(LoginFailure, (name, address[:64])) or LoginFailure(
        name=name, address=address[:64], count=0, last_at=now)
    row.count += 1
    row.last_at = now
    session.add(row)
    if account is not None:
        account.failed_logins += 1
        account.last_failed_at = now
        session.add(account)
    log.info("failed login (attempt %d from this address)", row.count)
    return None


def disable_account(session: Session, name: str) -> bool:
    """Stop an account logging in and end its sessions; False when there is no such account."""
    account = session.exec(select(StaffAccount).where(StaffAccount.name == name.strip().lower())
                           ).first()
    if account is None:
        return False
    account.active = False
    account.session_epoch += 1
    session.add(account)
    return True


def end_sessions(session: Session, name: str) -> None:
    """Log the account out everywhere (its signed cookies stop being accepted)."""
    account = session.exec(select(StaffAccount).where(StaffAccount.name == name)).first()
    if account is not None:
        account.session_epoch += 1
        session.add(account)


def account_names(session: Session) -> list[str]:
    return list(session.exec(select(StaffAccount.name).where(StaffAccount.active)
                             .order_by(StaffAccount.name)))


def audit(session: Session, actor: str, ticket_id: int | None, action: str, now: datetime,
          field: str | None = None, old: Any = None, new: Any = None) -> None:
    """Append one audit entry; values are stored as text (JSON for lists and objects)."""
    session.add(AuditEntry(created_at=now, actor=actor, ticket_id=ticket_id, action=action,
                           field=field, old_value=_as_text(old), new_value=_as_text(new)))


def _as_text(value: Any) -> str | None:
    import json

    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def audit_of_ticket(session: Session, ticket_id: int) -> list[AuditEntry]:
    return list(session.exec(select(AuditEntry).where(AuditEntry.ticket_id == ticket_id)
                             .order_by(AuditEntry.id)))  # type: ignore[arg-type]


def recent_audit(session: Session, actor: str | None = None, ticket_id: int | None = None,
                 before: int | None = None, limit: int = 100) -> list[AuditEntry]:
    """Newest first, optionally one actor's or one ticket's, below entry id `before`."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc())  # type: ignore[union-attr]
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if ticket_id is not None:
        query = query.where(AuditEntry.ticket_id == ticket_id)
    if before is not None:
        query = query.where(AuditEntry.id < before)  # type: ignore[operator]
    return list(session.exec(query.limit(limit)))
