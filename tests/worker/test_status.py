"""`helpdesk status` (text and --json, exit codes) and the once-only staff alert on failing polls."""
from __future__ import annotations

import json

from tests.worker.fault_helpers import (PASSWORD_ENV, deliver, helpdesk, make_config, sample,
                                        store_rows)

STAFF = "desk-supervisor@example-council.gov.uk"


def alerts(smtp_server) -> list[str]:
    return [str(m.message["Subject"]) for m in smtp_server.received if m.recipients == [STAFF]]


def status(config, account, *extra: str, env: dict | None = None):
    done = helpdesk(config, account, "status", "--json", *extra, env=env)
    return done.returncode, json.loads(done.stdout)


def test_status_shows_waiting_mail_backlog_and_failures(tmp_path, dovecot, imap_account,
                                                        smtp_server, sqlite_url):
    config = make_config(tmp_path, dovecot, imap_account, smtp_server, sqlite_url)
    first, second = sample("001"), sample("005")
    refused = "451 4.3.0 try later"
    deliver(dovecot, imap_account, first, second)
    assert helpdesk(config, imap_account, "db", "upgrade").returncode == 0
    code, before = status(config, imap_account)
    assert code == 0 and before["mailboxes"][0]["messages_waiting"] == 2
    assert before["mailboxes"][0]["last_successful_poll"] is None

    smtp_server.handler.mail_reply = refused  # replies wait in the outbox
    assert helpdesk(config, imap_account, "run", "--once").returncode == 0
    code, after = status(config, imap_account)
    box = after["mailboxes"][0]
    assert code == 0 and after["healthy"]
    assert box["messages_waiting"] == 0 and box["messages_in_failed_folder"] == 0
    assert box["last_successful_poll"] is not None and box["failing_since"] is None
    assert after["outbox"]["backlog"] == 2 and after["outbox"]["failed"] == 0

    text = helpdesk(config, imap_account, "status")
    assert text.returncode == 0 and b"outbox: 2 waiting to send" in text.stdout


def test_failing_polls_make_status_fail_and_email_staff_once_then_on_recovery(
        tmp_path, dovecot, imap_account, smtp_server, sqlite_url):
    extra = f'[alerts]\nstaff_address = "{STAFF}"\npoll_failing_minutes = 0\n'
    config = make_config(tmp_path, dovecot, imap_account, smtp_server, sqlite_url, extra=extra)
    deliver(dovecot, imap_account, sample("001"))
    wrong = {PASSWORD_ENV: "not-the-password"}  # the mailbox refuses us: polling fails

    for _ in range(3):  # three failed cycles ...
        run = helpdesk(config, imap_account, "run", "--once", env=wrong)
        assert run.returncode == 1 and b"poll failed" in run.stderr
    assert alerts(smtp_server) == ["Help desk worker: polling mailbox e2e is failing"]  # ... one email
    code, failing = status(config, imap_account, "--no-mailbox")
    assert code == 1 and not failing["healthy"]
    assert failing["mailboxes"][0]["failing_since"] and failing["mailboxes"][0]["alerted"]
    assert "LoginError" in failing["mailboxes"][0]["last_error"]
    assert helpdesk(config, imap_account, "status", env=wrong).returncode == 1

    for _ in range(2):  # the mailbox is back: one recovery email, the mail is filed
        assert helpdesk(config, imap_account, "run", "--once").returncode == 0
    assert alerts(smtp_server) == ["Help desk worker: polling mailbox e2e is failing",
                                   "Help desk worker: polling mailbox e2e has recovered"]
    code, healthy = status(config, imap_account)
    assert code == 0 and healthy["healthy"] and not healthy["mailboxes"][0]["alerted"]
    assert store_rows(sqlite_url, "SELECT count(*) FROM tickets") == [(1,)]


def test_status_waits_for_the_configured_time_before_failing(tmp_path, dovecot, imap_account,
                                                             smtp_server, sqlite_url):
    extra = f'[alerts]\nstaff_address = "{STAFF}"\npoll_failing_minutes = 60\n'
    config = make_config(tmp_path, dovecot, imap_account, smtp_server, sqlite_url, extra=extra)
    wrong = {PASSWORD_ENV: "not-the-password"}
    assert helpdesk(config, imap_account, "run", "--once", env=wrong).returncode == 1
    code, st = status(config, imap_account, "--no-mailbox")
    assert code == 0 and st["mailboxes"][0]["failing_since"]  # failing, not for long yet
    assert alerts(smtp_server) == []


def test_status_with_the_store_unreachable_exits_2(tmp_path, dovecot, imap_account, smtp_server):
    from tests.servers import free_port

    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=3"
    config = make_config(tmp_path, dovecot, imap_account, smtp_server, url)
    done = helpdesk(config, imap_account, "status")
    assert done.returncode == 2 and b"store is unreachable" in done.stderr
    assert b"Traceback" not in done.stderr


def test_replay_with_the_mailbox_unreachable_is_a_clean_error(tmp_path, dovecot, imap_account,
                                                              smtp_server, sqlite_url):
    config = make_config(tmp_path, dovecot, imap_account, smtp_server, sqlite_url)
    done = helpdesk(config, imap_account, "replay", env={PASSWORD_ENV: "not-the-password"})
    assert done.returncode == 1 and b"replay failed: the mailbox is unreachable" in done.stderr
    assert b"Traceback" not in done.stderr
