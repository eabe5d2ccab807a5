"""The store on SQLite and PostgreSQL: round trips, unique keys, and two workers racing."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from worker.mailbox import RawMessage
from worker.pipeline import Fetched, parse_fetched, store_batch
from worker.store import OutboxItem, StoredMessage, Ticket, TicketMessage, list_tickets

from tests.worker.worker_setup import (CORPUS, OPEN_NOW, close_stores, make_ctx,  # noqa: F401
                                       make_settings, make_store)


def test_ticket_round_trip_keeps_json_and_utc_times(tmp_path: Path, db_url: str) -> None:
    store = make_store(make_settings(tmp_path, db_url))
    paris = timezone(timedelta(hours=1))
    with store.session() as s:
        t = Ticket(reference="MDHD-000001", type="worker_details", action="ack", status="ready",
                   fields={"worker_name": "Chloe Brennan", "changes": {"surname": "Okafor"}},
                   missing=[], created_at=datetime(2027, 1, 4, 10, 0, tzinfo=paris),
                   updated_at=OPEN_NOW)
        s.add(t)
    with store.session() as s:
        got = s.exec(select(Ticket)).one()
    assert got.fields == {"worker_name": "Chloe Brennan", "changes": {"surname": "Okafor"}}
    assert got.created_at == datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)
    assert got.created_at.tzinfo is not None
    with store.session() as s:
        assert [t.reference for t in list_tickets(s, status="ready", type_="worker_details")] == \
            ["MDHD-000001"]
        assert list_tickets(s, status="triage") == []


def test_message_key_and_reference_are_unique(tmp_path: Path, db_url: str) -> None:
    store = make_store(make_settings(tmp_path, db_url))

    def message() -> StoredMessage:
        return StoredMessage(message_key="<a@b>", raw_sha256="0" * 64, raw=b"x", mailbox="m",
                             folder="INBOX", received_at=OPEN_NOW)

    with store.session() as s:
        s.add(message())
    with pytest.raises(IntegrityError):
        with store.session() as s:
            s.add(message())
    with store.session() as s:
        s.add(Ticket(reference="MDHD-000009", type="x", action="triage", status="triage",
                     created_at=OPEN_NOW, updated_at=OPEN_NOW))
    with pytest.raises(IntegrityError):
        with store.session() as s:
            s.add(Ticket(reference="MDHD-000009", type="x", action="triage", status="triage",
                         created_at=OPEN_NOW, updated_at=OPEN_NOW))


class _Named:
    """Only the mailbox's name is used by store_batch."""

    def __init__(self, name: str) -> None:
        self.name = name


def test_two_workers_racing_store_each_message_once(tmp_path: Path, pg_url: str) -> None:
    settings = make_settings(tmp_path, pg_url)
    names = sorted(p for p in CORPUS.glob("0[0-2]*.eml"))[:12]
    raws = [RawMessage("INBOX", 7, i + 1, p.read_bytes()) for i, p in enumerate(names)]
    options = settings.parse_options()
    batch: list[Fetched] = [parse_fetched(r, options, 10**8) for r in raws]
    workers = [make_ctx(settings), make_ctx(settings)]
    with workers[0].store.session() as s:  # the state row each cycle creates first
        from worker.store import MailboxState
        s.add(MailboxState(mailbox="default", folder="INBOX", last_uid=0))
    barrier = threading.Barrier(2)
    results: list[list[str]] = [[], []]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            done = store_batch(workers[i], batch, _Named("default"), 7, OPEN_NOW)  # type: ignore[arg-type]
            results[i] = [o.outcome for _, o in done]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    for pair in zip(*results):
        assert sorted(pair) == ["duplicate", "new"]
    with workers[0].store.session() as s:
        assert len(s.exec(select(StoredMessage)).all()) == len(raws)
        tickets = s.exec(select(Ticket)).all()
        links = s.exec(select(TicketMessage)).all()
        outbox = s.exec(select(OutboxItem)).all()
    assert len({l.message_id for l in links}) == len(raws)
    assert len(outbox) == len({o.ticket_id for o in outbox}) <= len(tickets)


def test_only_one_worker_polls_a_mailbox_at_a_time_on_postgresql(tmp_path: Path,
                                                                   pg_url: str) -> None:
    from worker.pipeline import poll_once

    from tests.worker.worker_setup import deliver, folder_count

    settings = make_settings(tmp_path, pg_url)
    deliver(settings, (CORPUS / "001-add_address-foster-placement-clean.eml").read_bytes())
    first, second = make_ctx(settings), make_ctx(settings)
    with first.store.poll_lock(settings.mailbox.name) as mine:
        assert mine
        skipped = poll_once(second, OPEN_NOW)  # the other worker is mid-cycle
        assert skipped.ok and skipped.skipped and skipped.fetched == 0
        assert folder_count(settings) == 1
    done = poll_once(second, OPEN_NOW)  # released: the next cycle does the work
    assert not done.skipped and [o.outcome for o in done.outcomes] == ["new"]
