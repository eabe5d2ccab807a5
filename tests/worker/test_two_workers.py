"""Two worker processes on one Dovecot mailbox and one PostgreSQL store: each message processed
once, one ticket and one reply each; the database's locks die with a SIGKILLed worker."""
from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.worker.fault_helpers import (CORPUS, deliver, folder_counts, helpdesk, make_config,
                                        received_ids, store_rows)

ADVISORY = ("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND d.datname = '{}'")


def test_two_scheduled_workers_share_the_mailbox_and_do_everything_once(
        tmp_path, dovecot, imap_account, smtp_server, pg_url):
    samples = [p.read_bytes() for p in sorted(CORPUS.glob("0[0-4]*.eml"))][:24]
    config = make_config(tmp_path, dovecot, imap_account, smtp_server, pg_url, batch_size=3,
                         extra="[schedule]\npoll_seconds = 1\nsend_seconds = 1\n")
    assert helpdesk(config, imap_account, "db", "upgrade").returncode == 0
    deliver(dovecot, imap_account, *samples[:12])
    workers = [helpdesk(config, imap_account, "run", wait=False) for _ in range(2)]
    try:
        time.sleep(1.5)  # both running; more mail arrives while they work
        deliver(dovecot, imap_account, *samples[12:])
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and len(smtp_server.received) < len(samples):
            time.sleep(0.2)  # polling for the workers' result
        time.sleep(2)  # a few more cycles: anything done twice would show now
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=30) for proc in workers]
    assert all(proc.returncode == 0 for proc in workers), [o[1][-1500:] for o in outputs]
    keys = store_rows(pg_url, "SELECT message_key FROM messages")
    assert len(keys) == len(set(keys)) == len(samples)  # each message processed once
    assert store_rows(pg_url, "SELECT count(*) FROM tickets")[0][0] == len(samples)
    folders = folder_counts(dovecot, imap_account)
    assert folders.get("INBOX") == 0 and folders.get("Processed") == len(samples)
    ids = received_ids(smtp_server)
    assert len(ids) == len(samples) and set(ids.values()) == {1}  # one reply each
    logs = [o[1].decode() for o in outputs]
    assert all("worker started" in log for log in logs)


@pytest.mark.parametrize("point,after", [("after_commit", 0), ("during_send", 1)])
def test_a_sigkilled_worker_leaves_no_lock_behind(tmp_path, dovecot, imap_account, smtp_server,
                                                  pg_url, point, after):
    samples = [p.read_bytes() for p in sorted(CORPUS.glob("00[1-6]*.eml"))]
    config = make_config(tmp_path, dovecot, imap_account, smtp_server, pg_url, batch_size=2)
    deliver(dovecot, imap_account, *samples)
    admin, name = pg_url.rsplit("/", 1)[0] + "/postgres", pg_url.rsplit("/", 1)[1]
    locks = ADVISORY.format(name)
    killed = helpdesk(config, imap_account, "run", "--once", crash_at=point, crash_after=after)
    assert killed.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10  # the server ends the dead session within moments
    while time.monotonic() < deadline and store_rows(admin, locks)[0][0]:
        time.sleep(0.05)
    assert store_rows(admin, locks) == [(0,)]
    again = helpdesk(config, imap_account, "run", "--once")
    assert again.returncode == 0 and b"skipped" not in again.stdout  # polled, not locked out
    assert store_rows(pg_url, "SELECT count(*) FROM messages") == [(len(samples),)]
    assert store_rows(pg_url, "SELECT DISTINCT status FROM outbox") == [("sent",)]
    assert set(received_ids(smtp_server).values()) == {1}
