"""The worker under faults, on real servers: IMAP going away or hanging, SMTP down or refusing,
the store unavailable, UIDVALIDITY changing, the parser crashing. Nothing lost, nothing twice."""
from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from imapclient import IMAPClient
from sqlalchemy import event

from tests.servers import (DOVECOT_BIN, DovecotServer, SilentServer, dies_with_us, free_port,
                           wait_for_greeting)
from tests.worker.fault_helpers import (PASSWORD_ENV, REPLY_SAMPLES, deliver, folder_counts,
                                        helpdesk, make_config, received_ids, sample, store_rows)
from worker.config import load_settings
from worker.edges import build_context, make_transport
from worker.mailbox import ImapMailbox
from worker.migrations import upgrade_database
from worker.outbox import send_pending
from worker.pipeline import WorkerContext, poll_once
from worker.scheduler import PollBackoff, build_scheduler, poll_job

NOW = datetime(2027, 1, 4, 10, 0, tzinfo=timezone.utc)  # a Monday morning, passed in


@pytest.fixture
def contexts() -> Iterator[list[WorkerContext]]:
    made: list[WorkerContext] = []
    yield made
    for ctx in made:
        ctx.store.close()


@pytest.fixture
def make_ctx(tmp_path, monkeypatch, contexts):
    def make(dovecot, account, smtp, db_url, **kw) -> WorkerContext:
        monkeypatch.setenv(PASSWORD_ENV, account.password)
        monkeypatch.delenv("HELPDESK_DATABASE_URL", raising=False)
        config = make_config(tmp_path, dovecot, account, smtp, db_url, **kw)
        if not db_url.startswith("postgresql+psycopg://postgres@127.0.0.1:1/"):
            upgrade_database(db_url)
        ctx = build_context(load_settings(config))
        contexts.append(ctx)
        return ctx
    return make


def send(ctx: WorkerContext, now: datetime = NOW):
    return send_pending(ctx.store, make_transport(ctx.settings), ctx.settings, now)


def assert_each_once(db_url, dovecot, account, smtp, count: int) -> None:
    """Every message stored once, one ticket each, moved once, one reply each."""
    keys = store_rows(db_url, "SELECT message_key FROM messages")
    assert len(keys) == len(set(keys)) == count
    assert store_rows(db_url, "SELECT count(*) FROM tickets") == [(count,)]
    folders = folder_counts(dovecot, account)
    assert folders.get("INBOX") == 0 and folders.get("Processed") == count
    ids = received_ids(smtp)
    assert len(ids) == count and set(ids.values()) == {1}


# -- IMAP -------------------------------------------------------------------------------------

@pytest.fixture
def private_dovecot() -> Iterator[DovecotServer]:
    """A Dovecot only this test uses: stopping it disturbs no other test."""
    server = DovecotServer.start()
    try:
        yield server
    finally:
        server.cleanup()


def restart(server: DovecotServer) -> None:
    """Start the stopped server again on the same ports, with the same mail."""
    with open(server.root / "stderr.log", "ab") as stderr:
        server.proc = subprocess.Popen(
            dies_with_us([DOVECOT_BIN, "-F", "-c", str(server.root / "dovecot.conf")]),
            stdout=subprocess.DEVNULL, stderr=stderr)
    wait_for_greeting(server.tls_port, b"* OK", server.proc, tls=True)


def test_imap_server_stopped_mid_batch_then_restarted_loses_and_repeats_nothing(
        private_dovecot, smtp_server, sqlite_url, make_ctx):
    account = private_dovecot.new_account()
    deliver(private_dovecot, account, *(sample(p) for p in REPLY_SAMPLES))
    ctx = make_ctx(private_dovecot, account, smtp_server, sqlite_url, batch_size=2)
    opened = ctx.open_mailbox

    class StoppedAfterFirstBatch(ImapMailbox):
        def mark_processed(self, msg):
            super().mark_processed(msg)
            if msg.uid == 2:  # the first batch is committed; the server goes away
                private_dovecot.kick(account.username)
                private_dovecot.stop()

    def open_stopping():
        box = opened()
        box.__class__ = StoppedAfterFirstBatch
        return box

    ctx.open_mailbox = open_stopping
    poll = poll_once(ctx, NOW)  # fails cleanly: a report, not an exception
    assert not poll.ok and "MailboxUnavailableError" in poll.error
    assert poll.count("new") == 2
    ctx.open_mailbox = opened
    down = poll_once(ctx, NOW)  # still down: fails fast, nothing happens
    assert not down.ok and down.fetched == 0

    restart(private_dovecot)
    again = poll_once(ctx, NOW)  # the stranded ones (stored, not moved) are moved, the rest filed
    assert again.ok and again.fetched == len(REPLY_SAMPLES)
    assert poll.count("new") + again.count("new") + again.count("duplicate") - 2 == len(
        REPLY_SAMPLES)
    assert send(ctx).sent == len(REPLY_SAMPLES)
    assert_each_once(sqlite_url, private_dovecot, account, smtp_server, len(REPLY_SAMPLES))


def test_failed_polls_back_off_and_the_next_success_resets(dovecot, imap_account, smtp_server,
                                                           sqlite_url, make_ctx, monkeypatch):
    ctx = make_ctx(dovecot, imap_account, smtp_server, sqlite_url)
    deliver(dovecot, imap_account, sample("001"))
    clock = [1000.0]
    backoff = PollBackoff(60, clock=lambda: clock[0])
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")  # the server refuses us
    assert not poll_job(ctx, backoff).ok
    assert poll_job(ctx, backoff) is None  # too soon: not even tried
    clock[0] += 60
    assert not poll_job(ctx, backoff).ok  # second failure: the wait doubles
    clock[0] += 60
    assert poll_job(ctx, backoff) is None
    clock[0] += 60
    monkeypatch.setenv(PASSWORD_ENV, imap_account.password)
    report = poll_job(ctx, backoff)
    assert report.ok and report.count("new") == 1 and backoff.failures == 0
    assert poll_job(ctx, backoff) is not None  # back to the normal interval


def test_a_hanging_imap_server_times_out_and_the_cycle_fails_cleanly(tmp_path, dovecot,
                                                                     imap_account, smtp_server,
                                                                     sqlite_url, make_ctx):
    with SilentServer() as silent:
        hanging = SimpleNamespace(host=silent.host, tls_port=silent.port,
                                  tls=dovecot.tls)
        ctx = make_ctx(hanging, imap_account, smtp_server, sqlite_url)
        ctx.settings = _with(ctx.settings, imap={"timeout": 1.0})
        ctx.open_mailbox = lambda: _mailbox(ctx)
        started = time.monotonic()
        poll = poll_once(ctx, NOW)
    assert not poll.ok and "MailboxUnavailableError" in poll.error
    assert time.monotonic() - started < 10


def _with(settings, **sections):
    import dataclasses

    changed = {name: dataclasses.replace(getattr(settings, name), **values)
               for name, values in sections.items()}
    return dataclasses.replace(settings, **changed)


# -- SMTP -------------------------------------------------------------------------------------

def test_smtp_down_then_refusing_replies_wait_with_back_off(dovecot, imap_account, smtp_server,
                                                            sqlite_url, make_ctx):
    down = SimpleNamespace(host="127.0.0.1", port=free_port(), security="plain")
    ctx = make_ctx(dovecot, imap_account, down, sqlite_url)
    deliver(dovecot, imap_account, sample("001"), sample("005"))
    assert poll_once(ctx, NOW).count("new") == 2
    report = send(ctx)  # nobody listens: replies wait, to be tried again after 60 s
    assert report.retrying == 2 and report.sent == 0
    assert store_rows(sqlite_url, "SELECT status, attempts FROM outbox") == [("pending", 1)] * 2
    assert send(ctx, NOW + timedelta(seconds=30)).retrying == 0  # not yet due

    ctx.settings = _with(ctx.settings, smtp={"port": smtp_server.port})  # up, but refusing
    smtp_server.handler.mail_reply = "451 4.3.2 System not accepting messages"
    assert send(ctx, NOW + timedelta(seconds=61)).retrying == 2  # second try ...
    assert send(ctx, NOW + timedelta(seconds=61 + 100)).retrying == 0  # ... then wait 120 s
    assert send(ctx, NOW + timedelta(seconds=61 + 121)).retrying == 2  # third try, then 240 s
    assert send(ctx, NOW + timedelta(seconds=61 + 121 + 200)).retrying == 0
    assert store_rows(sqlite_url, "SELECT attempts FROM outbox") == [(3,)] * 2
    assert smtp_server.received == []

    smtp_server.handler.mail_reply = None
    smtp_server.handler.data_reply = "554 5.7.1 Message rejected"  # now refused for good
    report = send(ctx, NOW + timedelta(hours=1))
    assert report.failed == 2
    errors = store_rows(sqlite_url, "SELECT last_reply_error FROM tickets")
    assert len(errors) == 2 and all("554" in e for (e,) in errors)  # on the ticket for staff
    smtp_server.handler.data_reply = None
    assert send(ctx, NOW + timedelta(days=1)).sent == 0  # a permanent refusal is never retried


def test_polling_is_never_held_up_by_a_hanging_smtp_server(tmp_path, dovecot, imap_account,
                                                           sqlite_url, make_ctx):
    with SilentServer() as silent:
        hanging = SimpleNamespace(host=silent.host, port=silent.port, security="plain")
        ctx = make_ctx(dovecot, imap_account, hanging, sqlite_url,
                       extra="[schedule]\npoll_seconds = 1\nsend_seconds = 1\n")
        ctx.settings = _with(ctx.settings, smtp={"timeout": 20.0})  # every send hangs 20 s
        scheduler = build_scheduler(ctx)
        deliver(dovecot, imap_account, sample("001"))
        runner = threading.Thread(target=scheduler.start, daemon=True)
        runner.start()
        try:
            filed = _wait_for(lambda: _tickets(sqlite_url) == 1, 10)
            assert filed, "the first message was not filed"
            deliver(dovecot, imap_account, sample("005"))  # the send job now hangs on SMTP
            started = time.monotonic()
            assert _wait_for(lambda: _tickets(sqlite_url) == 2, 8), "polling was held up"
            assert time.monotonic() - started < 8
        finally:
            silent.sock.close()  # the hanging send fails now; let the scheduler stop
            scheduler.shutdown(wait=True)
            runner.join(30)
    assert store_rows(sqlite_url, "SELECT count(*) FROM outbox WHERE status = 'sent'") == [(0,)]


def _tickets(db_url: str) -> int:
    return store_rows(db_url, "SELECT count(*) FROM tickets")[0][0]


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)  # polling for the worker's result, not synchronising with it
    return False


# -- the store --------------------------------------------------------------------------------

def test_postgresql_unreachable_aborts_the_cycle_and_leaves_the_mailbox_alone(
        dovecot, imap_account, smtp_server, pg_url, make_ctx):
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=3"
    deliver(dovecot, imap_account, sample("001"), sample("005"))
    ctx = make_ctx(dovecot, imap_account, smtp_server, pg_url)
    good_store = ctx.store
    from worker.store import Store

    ctx.store = Store(dead)
    try:
        poll = poll_once(ctx, NOW)
        assert not poll.ok and poll.fetched == 0 and "OperationalError" in poll.error
        sent = send(ctx)
        assert not sent.ok and sent.sent == 0 and "OperationalError" in sent.error
    finally:
        ctx.store.close()
        ctx.store = good_store
    assert folder_counts(dovecot, imap_account) == {"INBOX": 2}  # untouched: nothing moved
    assert poll_once(ctx, NOW).count("new") == 2 and send(ctx).sent == 2
    assert_each_once(pg_url, dovecot, imap_account, smtp_server, 2)


def test_sqlite_locked_mid_cycle_aborts_before_any_move(dovecot, imap_account, smtp_server,
                                                        sqlite_url, make_ctx):
    import sqlite3

    import parsers

    deliver(dovecot, imap_account, *(sample(p) for p in REPLY_SAMPLES[:3]))
    ctx = make_ctx(dovecot, imap_account, smtp_server, sqlite_url, batch_size=10)
    event.listen(ctx.store.engine, "connect",  # wait 0.3 s, not 10 s, for the lock
                 lambda conn, _rec: conn.execute("PRAGMA busy_timeout=300"))
    path = sqlite_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)

    def parse_then_lock(data, options):  # another program takes the write lock mid-cycle
        if not holder.in_transaction:
            holder.execute("BEGIN IMMEDIATE")
        return parsers.parse(data, options)

    ctx.parse = parse_then_lock
    try:
        poll = poll_once(ctx, NOW)
    finally:
        holder.rollback()
        holder.close()
    assert not poll.ok and poll.fetched == 3 and poll.outcomes == []
    assert folder_counts(dovecot, imap_account) == {"INBOX": 3}  # nothing moved
    ctx.parse = None
    assert poll_once(ctx, NOW).count("new") == 3 and send(ctx).sent == 3
    assert_each_once(sqlite_url, dovecot, imap_account, smtp_server, 3)


# -- the mailbox folder recreated, the parser crashing ----------------------------------------

def test_uidvalidity_change_processes_nothing_twice(dovecot, imap_account, smtp_server,
                                                    sqlite_url, make_ctx):
    first, second = sample("001"), sample("005")
    with IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=10) as client:
        client.login(imap_account.username, imap_account.password)
        client.create_folder("Desk")
    deliver(dovecot, imap_account, first, folder="Desk")
    ctx = make_ctx(dovecot, imap_account, smtp_server, sqlite_url)
    ctx.settings = _with(ctx.settings, imap={"inbox": "Desk"})
    ctx.open_mailbox = lambda: _mailbox(ctx)
    assert poll_once(ctx, NOW).count("new") == 1 and send(ctx).sent == 1
    (before,) = store_rows(sqlite_url, "SELECT uidvalidity FROM mailbox_state")

    time.sleep(1.1)  # Dovecot derives UIDVALIDITY from the clock
    with IMAPClient(dovecot.host, dovecot.plain_port, ssl=False, timeout=10) as client:
        client.login(imap_account.username, imap_account.password)
        client.delete_folder("Desk")  # recreated, and the old message restored into it
        client.create_folder("Desk")
        client.append("Desk", first)
        client.append("Desk", second)
    poll = poll_once(ctx, NOW)
    assert poll.ok and sorted(o.outcome for o in poll.outcomes) == ["duplicate", "new"]
    assert send(ctx).sent == 1
    (after,) = store_rows(sqlite_url, "SELECT uidvalidity FROM mailbox_state")
    assert after != before
    assert store_rows(sqlite_url, "SELECT count(*) FROM tickets") == [(2,)]
    assert len(received_ids(smtp_server)) == 2 and set(received_ids(smtp_server).values()) == {1}


def _mailbox(ctx: WorkerContext) -> ImapMailbox:
    from worker.edges import make_mailbox

    return make_mailbox(ctx.settings)  # type: ignore[return-value]


def test_a_message_the_parser_chokes_on_is_kept_triaged_failed_and_replayable(
        dovecot, imap_account, smtp_server, sqlite_url, make_ctx, tmp_path):
    import parsers

    messages = [sample(p) for p in REPLY_SAMPLES[:3]]
    deliver(dovecot, imap_account, *messages)
    ctx = make_ctx(dovecot, imap_account, smtp_server, sqlite_url, batch_size=10)

    def choking(data, options):  # a parser bug triggered by one message
        if data == messages[1]:
            raise RecursionError("maximum recursion depth exceeded")
        return parsers.parse(data, options)

    ctx.parse = choking
    poll = poll_once(ctx, NOW)
    assert poll.ok and [o.outcome for o in poll.outcomes] == ["new", "new", "new"]
    assert [o.actions for o in poll.outcomes][1] == ["triage"]  # the cycle went on past it
    raw, error = store_rows(sqlite_url, "SELECT raw, parse_error FROM messages WHERE uid = 2")[0]
    assert bytes(raw) == messages[1] and "RecursionError" in error  # kept, error recorded
    assert store_rows(sqlite_url, "SELECT status FROM tickets WHERE action = 'triage'") == [
        ("triage",)]  # a triage ticket records it for staff
    assert folder_counts(dovecot, imap_account) == {"INBOX": 0, "Processed": 2, "Failed": 1}

    replay = helpdesk(tmp_path / "config.toml", imap_account, "replay")  # the CLI, for real
    assert replay.returncode == 0 and b"1 message(s) moved" in replay.stdout
    ctx.parse = None  # the fix is deployed
    again = poll_once(ctx, NOW)
    assert [o.outcome for o in again.outcomes] == ["new"]
    assert again.outcomes[0].actions != ["triage"]
    assert folder_counts(dovecot, imap_account) == {"INBOX": 0, "Processed": 3, "Failed": 0}
    assert ("superseded",) in store_rows(sqlite_url, "SELECT status FROM tickets")


def test_a_hanging_postgresql_server_times_out_and_the_mailbox_is_left_alone(
        dovecot, imap_account, smtp_server, pg_url, make_ctx):
    from worker.store import Store

    deliver(dovecot, imap_account, sample("001"))
    ctx = make_ctx(dovecot, imap_account, smtp_server, pg_url)
    good = ctx.store
    with SilentServer() as silent:  # accepts the connection, never answers
        ctx.store = Store(  # 2 s instead of the default 10 s, to keep the suite fast
            f"postgresql+psycopg://postgres@127.0.0.1:{silent.port}/x?connect_timeout=2")
        started = time.monotonic()
        try:
            poll = poll_once(ctx, NOW)
        finally:
            ctx.store.close()
            ctx.store = good
    assert not poll.ok and "OperationalError" in poll.error
    assert time.monotonic() - started < 15  # the connect timeout, not forever
    assert folder_counts(dovecot, imap_account) == {"INBOX": 1}


def _process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return out


def test_an_imap_server_that_freezes_mid_cycle_times_out_then_the_next_cycle_finishes(
        private_dovecot, smtp_server, sqlite_url, make_ctx):
    import os
    import signal

    account = private_dovecot.new_account()
    deliver(private_dovecot, account, *(sample(p) for p in REPLY_SAMPLES[:4]))
    ctx = make_ctx(private_dovecot, account, smtp_server, sqlite_url, batch_size=2)
    ctx.settings = _with(ctx.settings, imap={"timeout": 2.0})
    ctx.open_mailbox = lambda: _mailbox(ctx)
    frozen: list[int] = []

    class FreezesAfterFirstBatch(ImapMailbox):
        def mark_processed(self, msg):
            super().mark_processed(msg)
            if msg.uid == 2 and not frozen:  # the server stops answering, connection open
                frozen.extend(_process_tree(private_dovecot.proc.pid))
                for pid in frozen:
                    os.kill(pid, signal.SIGSTOP)

    opened = ctx.open_mailbox

    def open_freezing():
        box = opened()
        box.__class__ = FreezesAfterFirstBatch
        return box

    ctx.open_mailbox = open_freezing
    started = time.monotonic()
    try:
        poll = poll_once(ctx, NOW)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    assert frozen and not poll.ok and "MailboxUnavailableError" in poll.error
    assert time.monotonic() - started < 20  # timed out, did not hang
    ctx.open_mailbox = opened
    assert poll_once(ctx, NOW).ok and send(ctx).sent == 4
    assert_each_once(sqlite_url, private_dovecot, account, smtp_server, 4)
