"""send_pending: one connection, each reply sent once, retries with back-off, caps, Sent copies."""
from __future__ import annotations

import socket
import subprocess
import sys

from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from sqlalchemy import update
from sqlmodel import select

from worker.maildir import MaildirMailbox, MaildirTransport
from worker.outbox import send_pending
from worker.pipeline import poll_once
from worker.smtp import SmtpTransport
from worker.store import OutboxItem, Ticket, TicketEvent

from tests.worker.worker_setup import (CORPUS, OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       folder_count, make_ctx, make_settings, outbox_files)

SAMPLES = ["001-add_address-foster-placement-clean", "049-account_locked-too-many-attempts",
           "061-triage-call-me-about-family"]


def queued(tmp_path: Path, db_url: str, extra: str = "", samples: list[str] = SAMPLES):
    settings = make_settings(tmp_path, db_url, extra)
    deliver(settings, *((CORPUS / f"{n}.eml").read_bytes() for n in samples))
    ctx = make_ctx(settings)
    assert poll_once(ctx, OPEN_NOW).replies_queued == len(samples)
    return settings, ctx


def rows(ctx) -> list[OutboxItem]:
    with ctx.store.session() as s:
        return s.exec(select(OutboxItem).order_by(OutboxItem.id)).all()


def test_each_reply_is_sent_once_and_copied_to_sent(tmp_path: Path, db_url: str) -> None:
    settings, ctx = queued(tmp_path, db_url)
    with MaildirMailbox(settings.mailbox.path, sent_folder="Sent") as mailbox:
        report = send_pending(ctx.store, MaildirTransport(settings.outbox.path), settings,
                              OPEN_NOW, mailbox)
    assert (report.sent, report.failed, report.retrying) == (3, 0, 0)
    sent = outbox_files(settings)
    assert len(sent) == 3
    assert sorted(message_from_bytes(d, policy=default)["Message-ID"] for d in sent) == \
        sorted(r.message_id for r in rows(ctx))
    assert all(r.status == "sent" and r.sent_at == OPEN_NOW and r.appended_sent
               for r in rows(ctx))
    assert folder_count(settings, "Sent") == 3

    later = send_pending(ctx.store, MaildirTransport(settings.outbox.path), settings,
                         OPEN_NOW + timedelta(days=1))
    assert later.sent == 0 and len(outbox_files(settings)) == 3


def test_smtp_temporary_failure_retries_with_backoff_then_sends(tmp_path: Path, db_url: str,
                                                                 smtp_server) -> None:
    settings, ctx = queued(tmp_path, db_url, samples=SAMPLES[:1])
    recipient = rows(ctx)[0].recipient
    smtp_server.handler.rcpt_replies[recipient] = "451 4.3.0 try again later"
    transport = SmtpTransport(smtp_server.host, smtp_server.port, security="plain", timeout=10)

    first = send_pending(ctx.store, transport, settings, OPEN_NOW)
    assert (first.sent, first.retrying) == (0, 1)
    row = rows(ctx)[0]
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at == OPEN_NOW + timedelta(seconds=settings.outbox.retry_base_seconds)
    # not due yet: nothing is tried
    assert send_pending(ctx.store, transport, settings, OPEN_NOW + timedelta(seconds=1)).retrying == 0

    smtp_server.handler.rcpt_replies.clear()
    later = OPEN_NOW + timedelta(minutes=5)
    second = send_pending(ctx.store, transport, settings, later)
    assert second.sent == 1
    assert len(smtp_server.received) == 1
    got = smtp_server.received[0]
    assert got.recipients == [recipient]
    assert got.message["Message-ID"] == row.message_id
    assert rows(ctx)[0].attempts == 2


def test_smtp_permanent_failure_is_recorded_on_the_ticket(tmp_path: Path, db_url: str,
                                                          smtp_server) -> None:
    settings, ctx = queued(tmp_path, db_url, samples=SAMPLES[:1])
    smtp_server.handler.rcpt_replies[rows(ctx)[0].recipient] = "550 5.1.1 no such user"
    transport = SmtpTransport(smtp_server.host, smtp_server.port, security="plain", timeout=10)
    report = send_pending(ctx.store, transport, settings, OPEN_NOW)
    assert report.failed == 1
    assert rows(ctx)[0].status == "failed"
    with ctx.store.session() as s:
        ticket = s.exec(select(Ticket)).one()
        assert ticket.last_reply_error and "550" in ticket.last_reply_error
        assert "reply_failed" in [e.kind for e in s.exec(select(TicketEvent)).all()]
    later = send_pending(ctx.store, transport, settings, OPEN_NOW + timedelta(days=1))
    assert later.sent == 0 and smtp_server.received == []


def test_reply_left_sending_by_a_crash_is_resent_with_the_same_bytes(tmp_path: Path,
                                                                     db_url: str) -> None:
    settings, ctx = queued(tmp_path, db_url, samples=SAMPLES[:1])
    original = rows(ctx)[0]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid on this host that no longer runs: the worker killed mid-send
    with ctx.store.session() as s:  # the state a worker killed mid-send leaves behind
        s.execute(update(OutboxItem).values(status="sending", claimed_at=OPEN_NOW,
                                            claimed_by=f"{socket.gethostname()}:{dead.pid}"))
    report = send_pending(ctx.store, MaildirTransport(settings.outbox.path), settings,
                          OPEN_NOW + timedelta(minutes=1))
    assert report.sent == 1
    assert outbox_files(settings) == [original.data]


def test_sqlite_reply_claimed_by_a_live_worker_waits_for_the_claim_timeout(
        tmp_path: Path, sqlite_url: str) -> None:
    settings, ctx = queued(tmp_path, sqlite_url, samples=SAMPLES[:1])
    with ctx.store.session() as s:  # pid 1 is alive: maybe still sending
        s.execute(update(OutboxItem).values(status="sending", claimed_at=OPEN_NOW,
                                            claimed_by=f"{socket.gethostname()}:1"))
    transport = MaildirTransport(settings.outbox.path)
    assert send_pending(ctx.store, transport, settings, OPEN_NOW + timedelta(minutes=1)).sent == 0
    assert send_pending(ctx.store, transport, settings, OPEN_NOW + timedelta(hours=1)).sent == 1


def test_per_sender_cap_holds_replies_for_staff(tmp_path: Path, db_url: str) -> None:
    settings, ctx = queued(tmp_path, db_url, "[helpdesk]\nreplies_per_sender_per_hour = 1\n",
                           samples=SAMPLES[:1])
    transport = MaildirTransport(settings.outbox.path)
    assert send_pending(ctx.store, transport, settings, OPEN_NOW).sent == 1
    # the same sender writes again (a new message with the same sender)
    data = (CORPUS / f"{SAMPLES[0]}.eml").read_bytes().replace(b"Message-ID: <", b"Message-ID: <x")
    deliver(settings, data)
    poll_once(ctx, OPEN_NOW)
    report = send_pending(ctx.store, transport, settings, OPEN_NOW + timedelta(minutes=5))
    assert (report.sent, report.held) == (0, 1)
    assert [r.status for r in rows(ctx)] == ["sent", "held"]
    assert len(outbox_files(settings)) == 1
