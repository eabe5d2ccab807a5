"""Retention: closed tickets `retention_days` after their last change keep their reference, type,
dates and outcome, and nothing personal is left anywhere in the store."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from tests.worker.policy_setup import messages, reply_to, state, store_dump
from tests.worker.test_privacy import personal_details
from tests.worker.worker_setup import (CORPUS, OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       make_ctx, make_settings)
from worker.edges import make_transport
from worker.outbox import send_pending
from worker.pipeline import poll_once
from worker.retention import purge_expired
from worker.scheduler import build_scheduler
from worker.store import Ticket

CLOSED = CORPUS / "h263-add_address-nhs-in-body-sensitive.eml"  # resolved by staff, old
MACHINE = CORPUS / "058-auto_reply-out-of-office.eml"  # ignored: closed as it arrives
OPEN = CORPUS / "038-person_record_change-documents-column-number.eml"  # still awaiting details
RECENT = CORPUS / "001-add_address-foster-placement-clean.eml"  # resolved, but lately


def _close(ctx, reference: str, status: str, when) -> None:
    with ctx.store.session() as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == reference)).one()
        ticket.status, ticket.updated_at = status, when
        s.add(ticket)


def test_purge_leaves_reference_type_dates_outcome_and_nothing_personal(tmp_path: Path,
                                                                        db_url: str) -> None:
    assert MACHINE.exists() and OPEN.exists() and RECENT.exists()
    settings = make_settings(tmp_path, db_url, "[helpdesk]\nretention_days = 30\n")
    ctx = make_ctx(settings)
    deliver(settings, CLOSED.read_bytes(), MACHINE.read_bytes(), OPEN.read_bytes())
    poll_once(ctx, OPEN_NOW)
    tickets, outbox, _ = state(ctx)
    closed, machine, open_ = tickets
    # a follow-up on the closed ticket, so its conversation has two messages and two replies
    deliver(settings, reply_to(CLOSED.read_bytes(), outbox[0].data, "Also NHS 485 777 3456."))
    poll_once(ctx, OPEN_NOW + timedelta(days=2))
    send_pending(ctx.store, make_transport(settings), settings, OPEN_NOW + timedelta(days=2), None)
    _close(ctx, closed.reference, "resolved", OPEN_NOW + timedelta(days=3))
    deliver(settings, RECENT.read_bytes())
    poll_once(ctx, OPEN_NOW + timedelta(days=30))
    recent = state(ctx)[0][-1]
    _close(ctx, recent.reference, "resolved", OPEN_NOW + timedelta(days=31))
    before = {t.reference: t for t in state(ctx)[0]}

    report = purge_expired(ctx.store, settings.helpdesk.retention_days,
                           OPEN_NOW + timedelta(days=40))

    assert (report.tickets, report.messages) == (2, 3)  # the resolved one (2 mails), the ignored
    after = {t.reference: t for t in state(ctx)[0]}
    for ref in (closed.reference, machine.reference):
        kept, old = after[ref], before[ref]
        assert (kept.type, kept.action, kept.status, kept.created_at) == \
            (old.type, old.action, old.status, old.created_at)
        assert kept.purged_at is not None and kept.fields == {} and kept.requester_email is None
    for ref in (open_.reference, recent.reference):
        assert after[ref].purged_at is None and after[ref].fields == before[ref].fields
    raws = [m.raw for m in messages(ctx)]
    assert raws.count(b"") == 3 and OPEN.read_bytes() in raws and RECENT.read_bytes() in raws

    everything = store_dump(ctx)  # every column of every table, raw bytes and replies too
    for sample in (CLOSED, MACHINE):
        details = personal_details(sample)
        assert details and not [v for v in details if v.lower() in everything.lower()]
    for number in ("485 777 3456", "4857773456", "3456"):
        assert number not in everything
    for sample in (OPEN, RECENT):  # what is not due stays: the search above could find it
        assert [v for v in personal_details(sample) if v.lower() in everything.lower()]

    again = purge_expired(ctx.store, settings.helpdesk.retention_days,
                          OPEN_NOW + timedelta(days=41))
    assert (again.tickets, again.messages) == (0, 0)


def test_retention_zero_keeps_everything_and_the_job_is_scheduled(tmp_path: Path,
                                                                  sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url, "[helpdesk]\nretention_days = 0\n")
    ctx = make_ctx(settings)
    deliver(settings, MACHINE.read_bytes())
    poll_once(ctx, OPEN_NOW)
    report = purge_expired(ctx.store, 0, OPEN_NOW + timedelta(days=3650))
    assert report.tickets == 0 and messages(ctx)[0].raw == MACHINE.read_bytes()
    assert build_scheduler(ctx).get_job("retention") is not None
