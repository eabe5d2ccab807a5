"""No reply storms (RFC 3834): machine mail is never answered, one ticket gets one automatic reply
per window, the per-sender cap holds replies for staff, and two auto-responders stop at one."""
from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.servers import (START_TIMEOUT, DovecotServer, ImapAccount, RecordingHandler,
                           SmtpServer, TrackingController, free_port)
from tests.worker.policy_setup import (DESK, events, imap_count, imap_deliver, mail, parsed,
                                       plain_text, real_cycle, real_worker, reply_to, state)
from tests.worker.worker_setup import (OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       make_ctx, make_settings)
from worker.outbox import send_pending
from worker.edges import make_transport
from worker.pipeline import poll_once

OURS = "helpdesk.example-council.gov.uk"  # our Message-ID domain (config default)
MACHINE = {
    "auto_submitted_auto_replied": {"headers": {"Auto-Submitted": "auto-replied"}},
    "auto_submitted_auto_generated": {"headers": {"Auto-Submitted": "auto-generated"}},
    "auto_submitted_with_params": {"headers": {"Auto-Submitted": "auto-notified; owner-email=x"}},
    "precedence_bulk": {"headers": {"Precedence": "bulk"}},
    "precedence_list": {"headers": {"Precedence": "list"}},
    "precedence_junk": {"headers": {"Precedence": "junk"}},
    "list_id": {"headers": {"List-Id": "Social care news <news.lists.example.org>"}},
    "list_unsubscribe": {"headers": {"List-Unsubscribe": "<mailto:leave@lists.example.org>"}},
    "mailer_daemon": {"sender": "Mail Delivery System <MAILER-DAEMON@mx.example.org>",
                      "subject": "Undelivered Mail Returned to Sender"},
    "postmaster": {"sender": "postmaster@example.org", "subject": "Delivery failure"},
    "null_return_path": {"headers": {"Return-Path": "<>"}},
    "our_own_address": {"sender": f"Help Desk <{DESK}>"},
    "our_x_loop": {"headers": {"X-Loop": DESK}},
    "our_message_id_domain": {"message_id": f"<MDHD-000009.0123456789abcdef@{OURS}>"},
    "noreply": {"sender": "Mosaic <noreply@mosaic-system.example.com>"},
    "do_not_reply": {"sender": "do-not-reply@portal.example.org"},
    "no_reply_suffix": {"sender": "alerts-no-reply@portal.example.org"},
    "dsn_report": {},  # built by _dsn()
}


def _dsn() -> bytes:
    return ("From: Mail System <bounces@mx.example.org>\r\nTo: " + DESK + "\r\n"
            "Subject: Delivery report\r\nMessage-ID: <dsn-42@mx.example.org>\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
            "--b\r\nContent-Type: text/plain\r\n\r\nNot delivered. Please add ID 2049113.\r\n"
            "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
            "Final-Recipient: rfc822; someone@example.org\r\nAction: failed\r\n"
            "Status: 5.1.1\r\n--b--\r\n").encode()


@pytest.mark.parametrize("kind", sorted(MACHINE))
def test_machine_mail_is_stored_and_never_answered(tmp_path: Path, sqlite_url: str,
                                                   kind: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    spec = dict(MACHINE[kind])
    data = _dsn() if kind == "dsn_report" else mail(**spec)
    deliver(settings, data)

    report = poll_once(ctx, OPEN_NOW)

    assert report.ok and [o.outcome for o in report.outcomes] == ["new"]
    assert report.outcomes[0].actions == ["ignore"] and report.replies_queued == 0
    tickets, outbox, _ = state(ctx)
    assert [t.status for t in tickets] == ["ignored"] and outbox == []


def test_auto_submitted_no_is_a_person_and_is_answered(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    deliver(settings, mail(headers={"Auto-Submitted": "no", "X-Auto-Response-Suppress": "All"}))
    report = poll_once(ctx, OPEN_NOW)
    assert report.replies_queued == 1


def test_reply_to_a_noreply_address_is_never_sent(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    deliver(settings, mail(headers={"Reply-To": "no-reply@bulk.example.org"}))
    report = poll_once(ctx, OPEN_NOW)
    assert report.ok and report.replies_queued == 0 and len(state(ctx)[0]) == 1


def test_our_replies_carry_the_loop_headers_and_a_staff_reply_is_not_automatic(
        tmp_path: Path, sqlite_url: str) -> None:
    from worker.web.outgoing import queue_staff_reply

    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    deliver(settings, mail())
    poll_once(ctx, OPEN_NOW)
    tickets, outbox, _ = state(ctx)
    auto = parsed(outbox[0].data)
    assert auto["Auto-Submitted"] == "auto-replied"
    assert auto["X-Auto-Response-Suppress"] == "All" and auto["X-Loop"] == DESK
    with ctx.store.session() as s:
        item = queue_staff_reply(s, tickets[0], "staff_reply", settings, OPEN_NOW,
                                 "I have added it now; thanks.")
        human = parsed(item.data)
    assert human["Auto-Submitted"] is None  # RFC 3834: a person's reply is not automatic
    assert human["X-Loop"] == DESK and human["X-Auto-Response-Suppress"] == "All"
    assert "I have added it now" in plain_text(item.data)


def test_per_sender_cap_makes_every_ticket_and_holds_the_extra_replies(
        tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url,
                             "[helpdesk]\nreplies_per_sender_per_hour = 3\n")
    ctx = make_ctx(settings)
    deliver(settings, *[mail(f"Please remove the lock on workstep {4455660 + i}; it is stuck.",
                             subject=f"Lock {i}") for i in range(5)])

    report = poll_once(ctx, OPEN_NOW)
    sent = send_pending(ctx.store, make_transport(settings), settings, OPEN_NOW, None)

    assert report.count("new") == 5 and len(state(ctx)[0]) == 5
    assert (sent.sent, sent.held) == (3, 2)
    statuses = sorted(o.status for o in state(ctx)[1])
    assert statuses == ["held", "held", "sent", "sent", "sent"]
    assert len(events(ctx, "reply_held")) == 2  # staff see which replies wait for them


def _first_reply(ctx, original: bytes) -> bytes:
    deliver(ctx.settings, original)
    poll_once(ctx, OPEN_NOW)
    return state(ctx)[1][0].data


def test_follow_up_on_a_ready_ticket_gets_one_added_note_after_the_quiet_window(
        tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    original = mail("Please remove the lock on workstep 4455667, it is locked by Sam Jones.",
                    subject="Workstep locked")
    ack = _first_reply(ctx, original)
    assert state(ctx)[0][0].status == "ready"

    deliver(settings, reply_to(original, ack, "Thank you!"))
    soon = poll_once(ctx, OPEN_NOW + timedelta(minutes=5))
    deliver(settings, reply_to(original, ack, "Is there any news on this one?"))
    later = poll_once(ctx, OPEN_NOW + timedelta(days=2))

    assert [o.outcome for o in soon.outcomes + later.outcomes] == ["follow_up", "follow_up"]
    assert (soon.replies_queued, later.replies_queued) == (0, 1)
    note = state(ctx)[1][-1]
    assert note.kind == "added"
    assert "added your email to" in plain_text(note.data)
    assert state(ctx)[0][0].reference in parsed(note.data)["Subject"]


def test_follow_up_that_fills_nothing_is_not_asked_again_at_once(tmp_path: Path,
                                                                 sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    original = mail("Please can you remove the lock on this step? Thanks.",
                    subject="Step locked")
    first = _first_reply(ctx, original)
    assert state(ctx)[0][0].status == "awaiting_details"

    deliver(settings, reply_to(original, first, "Thanks for getting back to me."))
    report = poll_once(ctx, OPEN_NOW + timedelta(minutes=1))

    assert report.replies_queued == 0 and len(state(ctx)[1]) == 1
    assert len(events(ctx, "reply_suppressed")) == 1


# -- two auto-responders answering each other through the real servers -------------------------

class AutoResponder(RecordingHandler):
    """An SMTP server in front of someone's mailbox whose auto-responder answers every mail it
    receives, straight back into the help desk's IMAP INBOX."""

    def __init__(self, dovecot: DovecotServer, account: ImapAccount, style: str) -> None:
        super().__init__()
        self.dovecot, self.account, self.style = dovecot, account, style
        self.answered = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        incoming = parsed(self.received[-1].data)
        rcpt = envelope.rcpt_tos[0]
        headers = {"In-Reply-To": str(incoming["Message-ID"]),
                   "References": str(incoming["Message-ID"])}
        subject, body = f"Re: {incoming['Subject']}", (
            "Thank you for your email. This mailbox is checked during office hours and we "
            "will respond as soon as we can.")
        if self.style == "rfc3834":
            headers["Auto-Submitted"] = "auto-replied"
            subject = f"Automatic reply: {incoming['Subject']}"
        elif self.style == "outlook_subject_only":
            subject = f"Automatic reply: {incoming['Subject']}"
            body = "I am out of the office until Monday 22 February with no access to email."
        imap_deliver(self.dovecot, self.account, mail(body, sender=rcpt, subject=subject,
                                                      headers=headers))
        self.answered += 1
        return reply


@pytest.mark.parametrize("style", ["rfc3834", "outlook_subject_only", "naive_no_headers"])
def test_two_auto_responders_stop_after_one_reply_from_us(tmp_path: Path, dovecot,
                                                           imap_account, sqlite_url, monkeypatch,
                                                           style: str) -> None:
    handler = AutoResponder(dovecot, imap_account, style)
    controller = TrackingController(handler, hostname="127.0.0.1", port=free_port(),
                                    ready_timeout=START_TIMEOUT)
    controller.start()
    smtp = SmtpServer(controller=controller, handler=handler, security="plain")
    try:
        with real_worker(tmp_path, dovecot, imap_account, smtp, sqlite_url, monkeypatch) as ctx:
            lock = mail("Please remove the lock on workstep 4455667, locked by Sam Jones.",
                        sender="Ana Ruiz <ana.ruiz@example-council.gov.uk>",
                        subject="Locked step")
            vague = mail("Please can you remove the lock on this step? Thanks.",
                         sender="Ben Cole <ben.cole@example-council.gov.uk>", subject="Lock")
            imap_deliver(dovecot, imap_account, lock, vague)
            for round_ in range(4):  # each round: poll, send; the responder answers at once
                real_cycle(ctx, OPEN_NOW + timedelta(minutes=round_))
            tickets, outbox, links = state(ctx)
            assert imap_count(dovecot, imap_account, "INBOX") == 0  # everything was read
    finally:
        controller.stop()

    # exactly one reply from us to each of the two people; their responder answered each once
    assert sorted(m.recipients[0] for m in smtp.received) == [
        "ana.ruiz@example-council.gov.uk", "ben.cole@example-council.gov.uk"]
    assert handler.answered == 2 and len(outbox) == 2
    assert len(links) == 4  # both auto-answers were kept (on the tickets or as their own)
    assert all(t.status in ("ready", "awaiting_details", "ignored") for t in tickets)


def test_bounce_of_our_reply_records_which_recipient_failed(tmp_path: Path, sqlite_url: str,
                                                           capsys) -> None:
    from worker.cli import main

    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    ours = parsed(_first_reply(ctx, mail(sender="Ann Lee <ann.lee@example-council.gov.uk>")))
    dsn = ("From: Microsoft Outlook <postmaster@example-council.gov.uk>\r\nTo: " + DESK + "\r\n"
           "Subject: Undeliverable: " + str(ours["Subject"]) + "\r\n"
           "Message-ID: <ndr-1@example-council.gov.uk>\r\nMIME-Version: 1.0\r\n"
           'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
           "--r\r\nContent-Type: text/plain\r\n\r\nDelivery has failed.\r\n"
           "--r\r\nContent-Type: message/delivery-status\r\n\r\n"
           "Reporting-MTA: dns;mx.example-council.gov.uk\r\n\r\n"
           "Final-Recipient: rfc822;ann.lee@example-council.gov.uk\r\nAction: failed\r\n"
           "Status: 5.1.10\r\n\r\n--r\r\nContent-Type: text/rfc822-headers\r\n\r\n"
           f"Message-ID: {ours['Message-ID']}\r\nSubject: {ours['Subject']}\r\n--r--\r\n")
    deliver(settings, dsn.encode())

    report = poll_once(ctx, OPEN_NOW)

    assert [(o.outcome, o.replies) for o in report.outcomes] == [("note", 0)]
    (ticket,), outbox, _ = state(ctx)
    assert ticket.last_reply_error == ("bounced: the reply could not be delivered to "
                                       "ann.lee@example-council.gov.uk")
    assert [e.detail for e in events(ctx, "reply_bounced")] == [
        {"recipients": ["ann.lee@example-council.gov.uk"]}]
    assert main(["show", ticket.reference or "", "--config", str(settings.path)]) == 0
    assert "could not be delivered to ann.lee@example-council.gov.uk" in capsys.readouterr().out
