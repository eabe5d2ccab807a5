"""A ticket named by mail from outside its conversation lists the tickets that mail opened
(web page and `helpdesk show`); the opened ticket links back."""
from __future__ import annotations

from datetime import datetime, timezone

from web_setup import WebEnv
from worker.cli import main
from worker.edges import build_context
from worker.maildir import MaildirMailbox
from worker.pipeline import poll_once

OUTSIDER = (b"From: Pat Outsider <pat.outsider@example-council.gov.uk>\r\n"
            b"To: mosaic.helpdesk@example-council.gov.uk\r\n"
            b"Subject: Re: URGENT - can't get into assessment [MDHD-000001]\r\n"
            b"Date: Fri, 05 Feb 2027 10:00:00 +0000\r\nMessage-ID: <outsider-1@example.org>\r\n"
            b"\r\nThe workstep is 4455667, please unlock it for me instead.\r\n")


def _poll_outsider(web_env: WebEnv) -> None:
    web_env.deliver_and_poll("030-remove_lock-urgent-no-workstep.eml")
    with MaildirMailbox(web_env.settings.mailbox.path) as mailbox:
        mailbox.deliver(OUTSIDER)
    report = poll_once(build_context(web_env.settings, web_env.store), datetime.now(timezone.utc))
    assert [o.references for o in report.outcomes] == [["MDHD-000002"]]


def test_the_named_ticket_lists_who_named_it(web_env, client, capsys):
    _poll_outsider(web_env)
    client.login("alice")

    named = client.get("/tickets/MDHD-000001").body
    opened = client.get("/tickets/MDHD-000002").body

    assert 'class="meta named-by"' in named and 'href="/tickets/MDHD-000002"' in named
    assert 'class="meta linked"' in opened and 'href="/tickets/MDHD-000001"' in opened
    assert main(["show", "MDHD-000001", "--config", str(web_env.config)]) == 0
    assert "named by: MDHD-000002" in capsys.readouterr().out
