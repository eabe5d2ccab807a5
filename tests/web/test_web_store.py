"""The web app's tables and queries on SQLite and PostgreSQL: audit append-only, search, paging,
login slow-down."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from worker.migrations import upgrade_database
from worker.staff import AuditEntry, add_account, audit, check_login, login_wait
from worker.store import Store, Ticket
from worker.web.queue import QueueFilter, queue_page
from worker.web.search import SearchIndex

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)
STATUSES = ["triage", "awaiting_details", "ready", "resolved"]


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    upgrade_database(db_url)
    st = Store(db_url)
    yield st
    st.close()


def pid_of(i: int) -> str:
    return f"{1000000 + i % 20}"


def _fill(st: Store, n: int) -> None:
    with st.session() as session:
        for i in range(1, n + 1):
            fields = {"person_id": pid_of(i)} if i % 3 == 0 else {}
            if i % 7 == 0:
                fields["workstep_id"] = f"{50000000 + i}"
            # created out of id order, so "oldest first" is not just "by id"
            created = T0 + timedelta(minutes=(i * 37) % n)
            session.add(Ticket(reference=f"MDHD-{i:06d}", type="remove_lock", action="ack",
                               status=STATUSES[i % 4], fields=fields, created_at=created,
                               updated_at=created, requester_email=f"user{i % 9}@example.gov.uk",
                               requester_name=f"Pat Surname{i % 9}"))


def _refs(page) -> list[str]:
    return [r["reference"] for r in page.rows]


def test_audit_log_is_append_only_in_the_database(store):
    with store.session() as session:
        audit(session, "alice", None, "search", T0, new="1234567")
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError):
            with store.session() as session:
                session.execute(text(statement))
    with store.session() as session:
        entries = list(session.exec(select(AuditEntry)))
    assert [(e.actor, e.new_value) for e in entries] == [("alice", "1234567")]


def test_queue_pages_oldest_first_each_ticket_once_with_counts(store):
    _fill(store, 230)
    seen: list[tuple[datetime, str]] = []
    f = QueueFilter(status="triage")
    with store.session() as session:
        while True:
            page = queue_page(session, f, "MDHD", T0 + timedelta(days=1), page_size=25)
            seen += [(r["created_at"], r["reference"]) for r in page.rows]
            assert {r["status"] for r in page.rows} <= {"triage"}
            if page.next_cursor is None:
                break
            from worker.web.queue import parse_cursor
            f = QueueFilter(status="triage", after=parse_cursor(page.next_cursor))
        counts = page.counts
    assert len(seen) == len({ref for _, ref in seen}) == counts["triage"] == 57
    assert [when for when, _ in seen] == sorted(when for when, _ in seen)
    assert sum(counts.values()) == 230 and counts["in_progress"] == 0


def test_search_by_reference_ids_and_requester_follows_edits(store):
    _fill(store, 120)
    index = SearchIndex(store)
    assert index.sync(T0) == 120
    with store.session() as session:
        by_pid = _refs(queue_page(session, QueueFilter(q="1000003"), "MDHD", T0))
        by_ws = _refs(queue_page(session, QueueFilter(q="50000014"), "MDHD", T0))
        by_ref = _refs(queue_page(session, QueueFilter(q="mdhd-7"), "MDHD", T0))
        by_surname = _refs(queue_page(session, QueueFilter(q="surname4", status="triage"),
                                      "MDHD", T0))
        by_address = _refs(queue_page(session, QueueFilter(q="USER4@example.gov.uk"), "MDHD", T0))
    assert sorted(by_pid) == [f"MDHD-{i:06d}" for i in range(1, 121)
                              if i % 3 == 0 and pid_of(i) == "1000003"] == ["MDHD-000003",
                                                                          "MDHD-000063"]
    assert by_ws == ["MDHD-000014"]
    assert by_ref == ["MDHD-000007"]
    assert by_surname and all(int(r[-6:]) % 9 == 4 and int(r[-6:]) % 4 == 0 for r in by_surname)
    assert len(by_address) == len([i for i in range(1, 121) if i % 9 == 4])

    later = T0 + timedelta(hours=2)
    with store.session() as session:
        ticket = session.exec(select(Ticket).where(Ticket.reference == "MDHD-000003")).one()
        ticket.fields = {"person_id": "7777777"}
        ticket.updated_at = later
        session.add(ticket)
    assert index.sync(later) == 1  # only the changed ticket is re-read
    with store.session() as session:
        assert _refs(queue_page(session, QueueFilter(q="7777777"), "MDHD", later)) == \
            ["MDHD-000003"]
        assert "MDHD-000003" not in _refs(queue_page(session, QueueFilter(q="1000003"), "MDHD",
                                                     later))


def test_failed_logins_slow_down_that_account_from_that_address(store):
    with store.session() as session:
        add_account(session, "alice", "a long password", T0)
    with store.session() as session:
        for i in range(3):
            assert check_login(session, "alice", "wrong", "10.0.0.1", T0) is None
            assert login_wait(session, "alice", "10.0.0.1", T0) == (0 if i < 2 else 2)
        assert login_wait(session, "alice", "10.0.0.2", T0) == 0  # another address
        assert check_login(session, "alice", "wrong", "10.0.0.1", T0) is None
        assert login_wait(session, "alice", "10.0.0.1", T0) == 4  # doubles
        assert login_wait(session, "alice", "10.0.0.1", T0 + timedelta(seconds=5)) == 0
        account = check_login(session, "alice", "a long password", "10.0.0.1",
                              T0 + timedelta(seconds=5))
        assert account is not None and account.failed_logins == 0
        assert login_wait(session, "alice", "10.0.0.1", T0 + timedelta(seconds=5)) == 0
        assert check_login(session, "nobody", "a long password", "10.0.0.1", T0) is None
