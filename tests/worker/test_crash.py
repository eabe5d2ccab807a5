"""Crash anywhere: `helpdesk run --once` SIGKILLed at each stage, then restarted, loses nothing.

Real processes, real Dovecot, real SMTP sink, SQLite and PostgreSQL stores. After the restart
every message has exactly one outcome (stored once, one ticket, moved once), every reply is
delivered, and none twice - except the one window no design can close: the SMTP server accepted
a reply and the worker died before recording it. That reply is resent with the SAME Message-ID
(and the same bytes), so the recipient's mail client can tell it is one message.
"""
from __future__ import annotations

import signal

import pytest

from tests.worker.fault_helpers import (REPLY_SAMPLES, deliver, folder_counts, helpdesk,
                                        make_config, received_ids, sample, store_rows)

# (crash point, passes let through first, the restart may resend one reply with the same id)
POINTS = [
    ("after_fetch", 1, False),  # second batch fetched and parsed, not stored
    ("after_commit", 1, False),  # second batch committed, not moved
    ("before_move", 0, False),  # everything committed, last batch's moves still queued
    ("during_send", 2, False),  # third reply claimed, not handed to the server
    ("after_send", 2, True),  # third reply accepted by the server, not recorded
    ("during_outbox_update", 2, True),  # third reply's 'sent' written, not committed
]


@pytest.mark.parametrize("point,after,may_resend", POINTS, ids=[p[0] for p in POINTS])
def test_killed_at_each_stage_then_restarted_loses_and_repeats_nothing(
        tmp_path, dovecot, imap_account, smtp_server, sqlite_url, point, after, may_resend):
    check_crash_and_restart(tmp_path, dovecot, imap_account, smtp_server, sqlite_url, point,
                            after, may_resend)


@pytest.mark.parametrize("point,after,may_resend", [POINTS[1], POINTS[4], POINTS[5]],
                         ids=["after_commit", "after_send", "during_outbox_update"])
def test_killed_on_postgresql_then_restarted(tmp_path, dovecot, imap_account, smtp_server,
                                             pg_url, point, after, may_resend):
    check_crash_and_restart(tmp_path, dovecot, imap_account, smtp_server, pg_url, point,
                            after, may_resend)


def check_crash_and_restart(tmp_path, dovecot, imap_account, smtp_server, db_url, point, after,
                            may_resend) -> None:
    messages = [sample(p) for p in REPLY_SAMPLES]
    deliver(dovecot, imap_account, *messages)
    config = make_config(tmp_path, dovecot, imap_account, smtp_server, db_url, batch_size=2)

    killed = helpdesk(config, imap_account, "run", "--once", crash_at=point, crash_after=after)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]

    for _ in range(2):  # the restart; a second run must find nothing left to do
        done = helpdesk(config, imap_account, "run", "--once")
        assert done.returncode == 0, done.stderr.decode()[-2000:]

    stored = store_rows(db_url, "SELECT message_key FROM messages")
    assert len(stored) == len(set(stored)) == len(messages)  # each message stored once
    tickets = store_rows(db_url, "SELECT t.id FROM tickets t")
    assert len(tickets) == len(messages)  # one ticket each, none duplicated
    folders = folder_counts(dovecot, imap_account)
    assert folders.get("INBOX") == 0 and folders.get("Processed") == len(messages)
    assert not folders.get("Failed")

    outbox = dict(store_rows(db_url, "SELECT message_id, status FROM outbox"))
    assert len(outbox) == len(messages) and set(outbox.values()) == {"sent"}
    ids = received_ids(smtp_server)
    assert set(ids) == set(outbox)  # every reply due was delivered ...
    twice = [mid for mid, n in ids.items() if n > 1]
    if may_resend:  # ... once, but for the one accepted-then-killed reply: same Message-ID
        assert len(twice) == 1 and ids[twice[0]] == 2
        copies = {bytes(m.data) for m in smtp_server.received if m.message["Message-ID"] in twice}
        assert len(copies) == 1  # the very same bytes
    else:
        assert twice == []
