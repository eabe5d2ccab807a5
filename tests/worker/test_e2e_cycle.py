"""End to end on real servers: mail APPENDed to Dovecot -> poll_once -> store -> send_pending -> aiosmtpd."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.servers import DovecotServer, ImapAccount, write_worker_config
from worker import store
from worker.config import load_settings
from worker.edges import build_context, make_transport
from worker.migrations import upgrade_database
from worker.outbox import SentAppender, send_pending
from worker.pipeline import WorkerContext, poll_once

CORPUS = Path(__file__).resolve().parents[1] / "messages"  # the shared corpus, copied in the repo
PASSWORD_ENV = "HELPDESK_TEST_IMAP_PASSWORD"
# A Monday morning inside opening hours: the clock is passed in, never read.
NOW = datetime(2027, 1, 4, 10, 0, tzinfo=timezone.utc)


def corpus_file(prefix: str) -> bytes:
    (path,) = CORPUS.glob(f"{prefix}-*.eml")
    return path.read_bytes()


def parsed(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def plain_body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None, "a reply always has a text/plain part"
    return part.get_content()


def deliver(dovecot: DovecotServer, account: ImapAccount, *messages: bytes) -> None:
    with IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=10) as client:
        client.login(account.username, account.password)
        for data in messages:
            client.append("INBOX", data)


def folder_count(dovecot: DovecotServer, account: ImapAccount, folder: str) -> int:
    with IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=10) as client:
        client.login(account.username, account.password)
        if not client.folder_exists(folder):
            return 0
        return client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"]


@pytest.fixture
def worker_ctx(tmp_path, dovecot, imap_account, smtp_server, monkeypatch, request) -> WorkerContext:
    """A migrated store and settings pointing at this test's Dovecot account and the SMTP sink."""
    db_url = request.getfixturevalue(getattr(request, "param", "sqlite_url"))
    monkeypatch.setenv(PASSWORD_ENV, imap_account.password)
    monkeypatch.delenv("HELPDESK_DATABASE_URL", raising=False)
    config = write_worker_config(tmp_path / "config.toml", dovecot, imap_account, smtp_server, db_url,
                                 password_env=PASSWORD_ENV, batch_size=2, sent_folder="Sent")
    upgrade_database(db_url)
    ctx = build_context(load_settings(config))
    yield ctx
    ctx.store.close()


def cycle(ctx: WorkerContext, now: datetime = NOW):
    """One poll and one send, as `helpdesk run --once` does, with the clock passed in."""
    poll = poll_once(ctx, now)
    with SentAppender(ctx.open_mailbox) as appender:
        sent = send_pending(ctx.store, make_transport(ctx.settings), ctx.settings, now, appender)
    return poll, sent


def all_tickets(ctx: WorkerContext) -> list[store.Ticket]:
    with ctx.store.session() as session:
        return store.list_tickets(session)


@pytest.mark.parametrize("worker_ctx", ["sqlite_url", "pg_url"], indirect=True)
def test_one_cycle_files_tickets_replies_and_moves_the_mail(worker_ctx, dovecot, imap_account,
                                                           smtp_server):
    lock, no_workstep, out_of_office = corpus_file("029"), corpus_file("038"), corpus_file("058")
    deliver(dovecot, imap_account, lock, no_workstep, out_of_office)

    poll, sent = cycle(worker_ctx)

    assert poll.ok and poll.fetched == 3 and poll.count("new") == 3
    tickets = {t.type: t for t in all_tickets(worker_ctx)}
    assert set(tickets) == {"remove_lock", "person_record_change", "auto_reply"}
    assert (tickets["remove_lock"].action, tickets["remove_lock"].status) == ("ack", "ready")
    assert tickets["person_record_change"].action == "request_details"
    assert "workstep_id" in tickets["person_record_change"].missing
    assert tickets["auto_reply"].status == "ignored"

    # Exactly one reply per answered message, none to the out-of-office (loop prevention).
    assert sent.sent == 2 and sent.failed == 0
    replies = {m.message["In-Reply-To"]: m for m in smtp_server.received}
    originals = {parsed(raw)["Message-ID"]: parsed(raw) for raw in (lock, no_workstep, out_of_office)}
    assert set(replies) == {parsed(lock)["Message-ID"], parsed(no_workstep)["Message-ID"]}
    for in_reply_to, mail in replies.items():
        reply = parsed(mail.data)
        original = originals[in_reply_to]
        assert [r.lower() for r in mail.recipients] == [original["From"].addresses[0].addr_spec.lower()]
        assert reply["Auto-Submitted"] == "auto-replied"
        assert re.search(r"\bMDHD-\d+\b", reply["Subject"])
    details = parsed(replies[parsed(no_workstep)["Message-ID"]].data)
    assert tickets["person_record_change"].reference in details["Subject"]
    body = plain_body(details).lower()
    assert "workstep id" in body and "documents" in body  # where to find it, and the trap to avoid
    ack = parsed(replies[parsed(lock)["Message-ID"]].data)
    assert tickets["remove_lock"].reference in ack["Subject"]

    assert folder_count(dovecot, imap_account, "INBOX") == 0
    assert folder_count(dovecot, imap_account, "Processed") == 3
    assert folder_count(dovecot, imap_account, "Sent") == 2

    # A second cycle finds nothing new and sends nothing.
    poll2, sent2 = cycle(worker_ctx)
    assert poll2.ok and poll2.fetched == 0 and sent2.sent == 0
    assert len(smtp_server.received) == 2 and len(all_tickets(worker_ctx)) == 3


def test_the_senders_follow_up_completes_the_ticket(worker_ctx, dovecot, imap_account, smtp_server):
    thread = next(CORPUS.glob("threads/02-*"))
    deliver(dovecot, imap_account, (thread / "1.eml").read_bytes())
    poll, sent = cycle(worker_ctx)
    (ticket,) = all_tickets(worker_ctx)
    assert (ticket.status, ticket.missing) == ("awaiting_details", ["workstep_id"])
    assert sent.sent == 1

    deliver(dovecot, imap_account, (thread / "2.eml").read_bytes())
    poll, sent = cycle(worker_ctx)
    assert poll.count("follow_up") == 1
    (ticket,) = all_tickets(worker_ctx)  # still one ticket: the reply joined it
    assert ticket.status == "ready" and ticket.action == "ack"
    assert ticket.fields["workstep_id"] == "58812340"
    assert sent.sent == 1
    first, ack = (parsed(m.data) for m in smtp_server.received)
    assert ticket.reference in first["Subject"] and ticket.reference in ack["Subject"]
    assert ack["In-Reply-To"] == parsed((thread / "2.eml").read_bytes())["Message-ID"]
    assert folder_count(dovecot, imap_account, "Processed") == 2


@pytest.mark.parametrize("thread", sorted(p.name for p in CORPUS.glob("threads/*")))
def test_every_labelled_thread_ends_as_one_ticket(worker_ctx, dovecot, imap_account, smtp_server, thread):
    import json

    folder = CORPUS / "threads" / thread
    expect = json.loads((folder / "expect.json").read_text())
    for name in ("1.eml", "2.eml"):
        deliver(dovecot, imap_account, (folder / name).read_bytes())
        cycle(worker_ctx)
    tickets = all_tickets(worker_ctx)
    assert len(tickets) == expect["tickets"]
    final = expect["final"]
    assert (tickets[0].type, tickets[0].action, tickets[0].missing) == (final["type"], final["action"],
                                                                       final["missing"])
    assert len(smtp_server.received) == 2  # what is missing, then the acknowledgement


def test_unreachable_imap_is_reported_and_nothing_is_lost(worker_ctx, dovecot, imap_account, smtp_server,
                                                          monkeypatch):
    deliver(dovecot, imap_account, corpus_file("029"))
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    poll, sent = cycle(worker_ctx)
    assert not poll.ok and poll.fetched == 0
    assert all_tickets(worker_ctx) == [] and smtp_server.received == []
    monkeypatch.setenv(PASSWORD_ENV, imap_account.password)
    poll, sent = cycle(worker_ctx)
    assert poll.ok and poll.fetched == 1 and sent.sent == 1


def test_refused_replies_are_retried_on_4xx_and_given_up_on_5xx(worker_ctx, dovecot, imap_account,
                                                                smtp_server):
    lock, address = corpus_file("029"), corpus_file("001")
    deliver(dovecot, imap_account, lock, address)
    busy = parsed(lock)["From"].addresses[0].addr_spec.lower()
    gone = parsed(address)["From"].addresses[0].addr_spec.lower()
    smtp_server.handler.rcpt_replies.update({busy: "451 4.3.0 Mailbox busy", gone: "550 5.1.1 No such user"})

    poll, sent = cycle(worker_ctx)
    assert poll.fetched == 2 and (sent.sent, sent.retrying, sent.failed) == (0, 1, 1)
    assert smtp_server.received == []

    smtp_server.handler.rcpt_replies.clear()  # the busy mailbox recovers; the other stays gone
    later = NOW.replace(hour=12)
    _, sent = cycle(worker_ctx, later)
    assert (sent.sent, sent.failed) == (1, 0)  # the 4xx reply goes out; the 5xx one is never resent
    assert [m.recipients for m in smtp_server.received] == [[busy]]
    failed = [t for t in all_tickets(worker_ctx) if t.last_reply_error]
    assert len(failed) == 1 and "550" in failed[0].last_reply_error


def test_two_workers_racing_on_one_mailbox_and_postgresql(tmp_path, dovecot, imap_account, smtp_server,
                                                          pg_url, monkeypatch):
    """Several workers share a PostgreSQL store: each message is stored and answered exactly once."""
    from concurrent.futures import ThreadPoolExecutor

    samples = sorted(CORPUS.glob("0[0-4]*.eml"))  # 001-049: request types, no ignore cases
    deliver(dovecot, imap_account, *(p.read_bytes() for p in samples))
    monkeypatch.setenv(PASSWORD_ENV, imap_account.password)
    monkeypatch.delenv("HELPDESK_DATABASE_URL", raising=False)
    config = write_worker_config(tmp_path / "config.toml", dovecot, imap_account, smtp_server, pg_url,
                                 password_env=PASSWORD_ENV, batch_size=5,
                                 extra="[helpdesk]\nreplies_per_sender_per_hour = 1000\n")
    upgrade_database(pg_url)
    workers = [build_context(load_settings(config)) for _ in range(2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            polls = list(pool.map(lambda ctx: poll_once(ctx, NOW), workers))
            sends = list(pool.map(lambda ctx: send_pending(ctx.store, make_transport(ctx.settings),
                                                           ctx.settings, NOW), workers))
        assert all(p.ok for p in polls) and all(s.ok for s in sends), [p.error for p in polls]
        new = sum(p.count("new") for p in polls)
        assert new == len(samples)
        with workers[0].store.session() as session:
            stored = session.exec(store.select(store.StoredMessage)).all()
        assert len(stored) == len(samples)
    finally:
        for ctx in workers:
            ctx.store.close()
    answered = [m.message["In-Reply-To"] for m in smtp_server.received]
    assert len(answered) == sum(s.sent for s in sends)
    assert len(answered) == len(set(answered)) == len(samples)  # every message answered once ...
    assert folder_count(dovecot, imap_account, "INBOX") == 0
    assert folder_count(dovecot, imap_account, "Processed") == len(samples)  # ... and moved once


def test_a_connection_dropped_mid_cycle_loses_and_repeats_nothing(worker_ctx, dovecot, imap_account,
                                                                  smtp_server):
    """The server drops us after the first batch is stored: the next cycle finishes the job."""
    from worker.mailbox import ImapMailbox

    samples = [corpus_file(n) for n in ("001", "005", "013", "021", "029", "033")]
    deliver(dovecot, imap_account, *samples)
    open_mailbox = worker_ctx.open_mailbox

    class DroppedAfterFirstBatch(ImapMailbox):
        def mark_processed(self, msg):
            super().mark_processed(msg)
            if msg.uid == 2:  # end of the first batch (batch_size 2): stored and committed
                dovecot.kick(imap_account.username)

    def open_dropping():
        box = open_mailbox()
        box.__class__ = DroppedAfterFirstBatch
        return box

    worker_ctx.open_mailbox = open_dropping
    poll, _ = cycle(worker_ctx)
    assert not poll.ok and poll.count("new") == 2
    worker_ctx.open_mailbox = open_mailbox
    poll, _ = cycle(worker_ctx)
    assert poll.ok
    assert len(all_tickets(worker_ctx)) == len(samples)
    answered = [m.message["In-Reply-To"] for m in smtp_server.received]
    assert len(answered) == len(set(answered)) == len(samples)
    # The first batch's moves were queued when the connection died: done on a new connection.
    assert folder_count(dovecot, imap_account, "Processed") == len(samples)
    assert folder_count(dovecot, imap_account, "INBOX") == 0
