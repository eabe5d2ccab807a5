"""poll_once end to end on the Maildir mailbox: tickets, queued replies, processed, idempotent."""
from __future__ import annotations

from email import message_from_bytes
from email.policy import default
from pathlib import Path

from sqlmodel import select

from worker.pipeline import poll_once
from worker.store import OutboxItem, StoredMessage, Ticket, TicketMessage

from tests.worker.worker_setup import (CORPUS, OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       folder_count, make_ctx, make_settings)

SAMPLES = ["001-add_address-foster-placement-clean", "038-person_record_change-documents-column-number",
           "049-account_locked-too-many-attempts", "058-auto_reply-out-of-office",
           "060-bulk-newsletter", "061-triage-call-me-about-family"]


def corpus(name: str) -> bytes:
    return (CORPUS / f"{name}.eml").read_bytes()


def test_cycle_stores_tickets_queues_replies_and_moves_mail(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url)
    deliver(settings, *(corpus(n) for n in SAMPLES))
    ctx = make_ctx(settings)

    report = poll_once(ctx, OPEN_NOW)

    assert report.ok and report.fetched == len(SAMPLES)
    assert [o.outcome for o in report.outcomes] == ["new"] * len(SAMPLES)
    assert folder_count(settings) == 0
    assert folder_count(settings, "Processed") == len(SAMPLES)
    with ctx.store.session() as s:
        assert len(s.exec(select(StoredMessage)).all()) == len(SAMPLES)
        tickets = s.exec(select(Ticket).order_by(Ticket.id)).all()
        outbox = s.exec(select(OutboxItem)).all()
        links = s.exec(select(TicketMessage)).all()
    assert [t.reference for t in tickets][:2] == ["MDHD-000001", "MDHD-000002"]
    assert len(links) == len(tickets) >= len(SAMPLES)
    ignored = [t for t in tickets if t.status == "ignored"]
    assert {t.type for t in ignored} >= {"auto_reply", "bulk"}
    answered = {o.ticket_id for o in outbox}
    assert not answered & {t.id for t in ignored}, "machine mail must never be answered"
    assert answered == {t.id for t in tickets if t.status != "ignored"}
    for row in outbox:
        reply = message_from_bytes(row.data, policy=default)
        assert row.status == "pending" and row.message_id == reply["Message-ID"]
        assert reply["Auto-Submitted"] == "auto-replied"
        ticket = next(t for t in tickets if t.id == row.ticket_id)
        assert f"[{ticket.reference}]" in reply["Subject"]
        assert row.recipients == [ticket.requester_email]

    again = poll_once(ctx, OPEN_NOW)
    assert again.ok and again.fetched == 0
    with ctx.store.session() as s:
        assert len(s.exec(select(Ticket)).all()) == len(tickets)
        assert len(s.exec(select(OutboxItem)).all()) == len(outbox)


def test_same_message_delivered_twice_is_stored_once(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    data = corpus(SAMPLES[0])
    deliver(settings, data, data)
    ctx = make_ctx(settings)
    report = poll_once(ctx, OPEN_NOW)
    assert [o.outcome for o in report.outcomes] == ["new", "duplicate"]
    assert folder_count(settings) == 0 and folder_count(settings, "Processed") == 2
    deliver(settings, data)  # a third copy, a cycle later
    assert [o.outcome for o in poll_once(ctx, OPEN_NOW).outcomes] == ["duplicate"]
    with ctx.store.session() as s:
        assert len(s.exec(select(Ticket)).all()) == 1


def test_message_without_message_id_is_keyed_by_its_bytes(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    data = b"From: x@example.org\r\nSubject: hello\r\n\r\nMosaic is not working for me today.\r\n"
    deliver(settings, data, data, data.replace(b"today", b"again"))
    report = poll_once(make_ctx(settings), OPEN_NOW)
    assert [o.outcome for o in report.outcomes] == ["new", "duplicate", "new"]


def test_oversized_message_is_kept_and_triaged_unparsed(tmp_path: Path,
                                                        sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url, "[helpdesk]\nmax_message_bytes = 500\n")
    deliver(settings, corpus(SAMPLES[1]))
    ctx = make_ctx(settings)
    report = poll_once(ctx, OPEN_NOW)
    assert report.ok and [o.actions for o in report.outcomes] == [["triage"]]
    with ctx.store.session() as s:
        msg = s.exec(select(StoredMessage)).one()
        assert msg.parse_error == "too_large" and msg.raw == corpus(SAMPLES[1])
        # one triage reply, read from the headers alone (tests/worker/test_hostile_cycle.py)
        assert [o.kind for o in s.exec(select(OutboxItem)).all()] == ["triage"]
    assert folder_count(settings, "Processed") == 1


def test_message_stays_in_inbox_when_the_store_commit_fails(tmp_path: Path, db_url: str) -> None:
    """A real database failure during the batch transaction: nothing stored, nothing moved."""
    settings = make_settings(tmp_path, db_url)
    deliver(settings, corpus(SAMPLES[0]), corpus(SAMPLES[2]))
    ctx = make_ctx(settings)
    with ctx.store.engine.begin() as conn:  # the state row the batch updates will refuse
        if ctx.store.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE UPDATE ON mailbox_state "
                                 "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        else:
            conn.exec_driver_sql("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                                 "RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql")
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE UPDATE ON mailbox_state "
                                 "FOR EACH ROW EXECUTE FUNCTION refuse()")

    failed = poll_once(ctx, OPEN_NOW)

    assert not failed.ok
    assert folder_count(settings) == 2 and folder_count(settings, "Processed") == 0
    with ctx.store.session() as s:
        assert s.exec(select(StoredMessage)).all() == []
        assert s.exec(select(OutboxItem)).all() == []
    with ctx.store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse" if ctx.store.engine.dialect.name == "sqlite"
                             else "DROP TRIGGER refuse ON mailbox_state")
    retried = poll_once(ctx, OPEN_NOW)
    assert retried.ok and [o.outcome for o in retried.outcomes] == ["new", "new"]
    assert folder_count(settings) == 0 and folder_count(settings, "Processed") == 2


def test_a_message_that_cannot_be_stored_goes_to_failed_and_logs_no_mail_data(
        tmp_path: Path, sqlite_url: str, caplog) -> None:
    """A real database refusal for one message: it moves to Failed, the others are stored."""
    settings = make_settings(tmp_path, sqlite_url)
    deliver(settings, corpus(SAMPLES[0]), corpus(SAMPLES[2]))
    ctx = make_ctx(settings)
    with ctx.store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON tickets WHEN "
                             "NEW.type = 'account_locked' BEGIN SELECT RAISE(ABORT, 'no'); END")
    report = poll_once(ctx, OPEN_NOW)
    assert [o.outcome for o in report.outcomes] == ["new", "failed"]
    assert folder_count(settings, "Processed") == 1 and folder_count(settings, "Failed") == 1
    with ctx.store.session() as s:
        assert len(s.exec(select(StoredMessage)).all()) == 1
    logged = caplog.text
    assert "could not store the message" in logged
    for private in (b"priyanka", b"Priyanka", b"example-council"):
        assert private.decode() not in logged


def test_worker_log_names_no_person_address_subject_or_message_id(tmp_path: Path,
                                                                   sqlite_url: str,
                                                                   caplog) -> None:
    import logging
    from email import message_from_bytes as parse_bytes
    from email.utils import getaddresses

    from worker.outbox import send_pending
    from worker.maildir import MaildirTransport

    settings = make_settings(tmp_path, sqlite_url)
    raws = [corpus(n) for n in SAMPLES]
    deliver(settings, *raws)
    ctx = make_ctx(settings)
    with caplog.at_level(logging.DEBUG, logger="worker"):
        poll_once(ctx, OPEN_NOW)
        send_pending(ctx.store, MaildirTransport(settings.outbox.path), settings, OPEN_NOW)
    logged = caplog.text.lower()
    assert "uid=1 " in logged  # one line per message, by UID
    for raw in raws:
        msg = parse_bytes(raw)
        for name, addr in getaddresses([msg.get("From", "")]):
            assert addr.lower() not in logged
            for part in name.replace(",", " ").split():
                if len(part) > 3:
                    assert part.lower() not in logged, part
        assert str(msg.get("Message-ID", "")).strip("<> ").lower() not in logged
        assert str(msg.get("Subject", "")).lower() not in logged


def test_parser_crash_keeps_the_mail_and_replay_files_it_after_the_fix(
        tmp_path: Path, sqlite_url: str, monkeypatch) -> None:
    """A parser bug (simulated: the parser is pure code, not a server) on one message."""
    import parsers

    from worker.maildir import MaildirMailbox

    settings = make_settings(tmp_path, sqlite_url)
    deliver(settings, corpus(SAMPLES[0]), corpus(SAMPLES[2]))
    ctx = make_ctx(settings)
    real_parse = parsers.parse

    def buggy(data: bytes, options=None):
        if b"Priyanka" in data:
            raise ValueError("bug")
        return real_parse(data, options)

    monkeypatch.setattr(parsers, "parse", buggy)
    first = poll_once(ctx, OPEN_NOW)
    assert [(o.outcome, o.actions, o.replies) for o in first.outcomes] == [
        ("new", ["ack"], 1), ("new", ["triage"], 0)]
    assert folder_count(settings, "Failed") == 1 and folder_count(settings, "Processed") == 1
    with ctx.store.session() as s:
        crashed = s.exec(select(StoredMessage).where(StoredMessage.uid == 2)).one()
        assert crashed.parse_error.startswith("parser crashed") and crashed.raw == corpus(SAMPLES[2])

    monkeypatch.setattr(parsers, "parse", real_parse)  # the fix is deployed
    with MaildirMailbox(settings.mailbox.path) as mailbox:
        assert mailbox.replay_failed() == 1
    second = poll_once(ctx, OPEN_NOW)
    assert [(o.outcome, o.actions, o.replies) for o in second.outcomes] == [
        ("new", ["redirect"], 1)]
    assert folder_count(settings, "Failed") == 0 and folder_count(settings, "Processed") == 2
    with ctx.store.session() as s:
        statuses = sorted(t.status for t in s.exec(select(Ticket)).all())
        assert statuses == ["ready", "redirected", "superseded"]
        assert len(s.exec(select(StoredMessage)).all()) == 2
    assert [o.outcome for o in poll_once(ctx, OPEN_NOW).outcomes] == []


def test_maildir_uids_survive_a_crash_mid_cycle(tmp_path: Path, sqlite_url: str) -> None:
    """UIDs handed out are on disk before the cycle stores anything: after a crash (no clean
    exit) a new message gets a new UID, above the stored last_uid, and is not skipped."""
    from worker.mailbox import FolderState
    from worker.maildir import MaildirMailbox

    import mailbox as stdlib_mailbox

    settings = make_settings(tmp_path, sqlite_url)
    mta = stdlib_mailbox.Maildir(settings.mailbox.path, create=True)  # delivery by an MTA
    mta.add(corpus(SAMPLES[0]))
    crashed = MaildirMailbox(settings.mailbox.path).__enter__()  # never exited: the crash
    first = list(crashed.fetch_new(FolderState(None, 0)))
    crashed.mark_processed(first[0])
    mta.add(corpus(SAMPLES[1]))
    with MaildirMailbox(settings.mailbox.path) as mailbox:
        again = list(mailbox.fetch_new(FolderState(mailbox.uidvalidity(), first[0].uid)))
    assert [m.data for m in again] == [corpus(SAMPLES[1])]
