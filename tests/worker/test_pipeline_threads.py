"""Threading: a sender's follow-up joins its ticket, which is re-parsed and acknowledged."""
from __future__ import annotations

import json
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from sqlmodel import select

from worker.pipeline import poll_once
from worker.store import OutboxItem, Ticket, TicketMessage

from tests.worker.worker_setup import (CORPUS, OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       make_ctx, make_settings)

THREADS = sorted(p for p in (CORPUS / "threads").iterdir() if p.is_dir())
FREE_TEXT = {"address", "details", "question", "description", "explanation", "reason",
             "error_message"}


def state(ctx) -> tuple[list[Ticket], list[OutboxItem], list[TicketMessage]]:
    with ctx.store.session() as s:
        return (s.exec(select(Ticket).order_by(Ticket.id)).all(),
                s.exec(select(OutboxItem).order_by(OutboxItem.id)).all(),
                s.exec(select(TicketMessage)).all())


@pytest.mark.parametrize("thread", THREADS, ids=[p.name for p in THREADS])
def test_follow_up_completes_the_ticket_and_gets_the_ack(tmp_path: Path, db_url: str,
                                                          thread: Path) -> None:
    expect = json.loads((thread / "expect.json").read_text())["final"]
    settings = make_settings(tmp_path, db_url)
    ctx = make_ctx(settings)
    deliver(settings, (thread / "1.eml").read_bytes())
    first = poll_once(ctx, OPEN_NOW)
    assert first.outcomes[0].actions == ["request_details"]
    deliver(settings, (thread / "2.eml").read_bytes())

    second = poll_once(ctx, OPEN_NOW)

    assert [o.outcome for o in second.outcomes] == ["follow_up"]
    tickets, outbox, links = state(ctx)
    assert len(tickets) == 1 and len(links) == 2
    ticket = tickets[0]
    assert (ticket.type, ticket.action, ticket.status) == (expect["type"], "ack", "ready")
    assert ticket.missing == []
    for name, value in expect["fields"].items():
        if name not in FREE_TEXT:
            assert ticket.fields.get(name) == value, name
    assert [o.kind for o in outbox] == ["request_details", "ack"]
    ack = message_from_bytes(outbox[1].data, policy=default)
    follow_up = message_from_bytes((thread / "2.eml").read_bytes(), policy=default)
    assert ack["In-Reply-To"] == follow_up["Message-ID"]
    assert f"[{ticket.reference}]" in ack["Subject"]


def _reply_to_ours(original: bytes, our_reply: bytes, body: str, subject: str | None = None,
                   headers: bool = True) -> bytes:
    src = message_from_bytes(original, policy=default)
    ours = message_from_bytes(our_reply, policy=default)
    lines = [f"From: {src['From']}", "To: mosaic.helpdesk@example-council.gov.uk",
             f"Subject: {subject if subject is not None else 'Re: ' + str(ours['Subject'])}",
             "Date: Tue, 16 Feb 2027 10:30:00 +0000",
             "Message-ID: <follow-up-1@example-council.gov.uk>"]
    if headers:
        lines += [f"In-Reply-To: {ours['Message-ID']}", f"References: {ours['Message-ID']}"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


@pytest.mark.parametrize("how", ["in_reply_to_our_reply", "reference_in_subject"])
def test_reply_to_our_reply_joins_the_ticket(tmp_path: Path, sqlite_url: str, how: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    original = (CORPUS / "061-triage-call-me-about-family.eml").read_bytes()
    deliver(settings, original)
    poll_once(ctx, OPEN_NOW)
    _, outbox, _ = state(ctx)
    follow = _reply_to_ours(original, outbox[0].data, "It is about the family's address history.",
                            headers=how == "in_reply_to_our_reply")
    deliver(settings, follow)

    report = poll_once(ctx, OPEN_NOW)

    assert [o.outcome for o in report.outcomes] == ["follow_up"]
    tickets, outbox_after, links = state(ctx)
    assert len(tickets) == 1 and len(links) == 2
    # a follow-up on a ticket that is not awaiting details is stored, not answered again
    assert len(outbox_after) == len(outbox)


def test_unrelated_mail_from_same_sender_is_a_new_ticket(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    thread = THREADS[0]
    deliver(settings, (thread / "1.eml").read_bytes())
    poll_once(ctx, OPEN_NOW)
    src = message_from_bytes((thread / "1.eml").read_bytes(), policy=default)
    other = (f"From: {src['From']}\r\nSubject: Re: something else entirely\r\n"
             "Message-ID: <other-1@example-council.gov.uk>\r\n\r\n"
             "How do I add a case note to several people at once?\r\n").encode()
    deliver(settings, other)
    report = poll_once(ctx, OPEN_NOW)
    assert [o.outcome for o in report.outcomes] == ["new"]
    assert len(state(ctx)[0]) == 2


def test_out_of_office_answering_our_reply_is_a_note_never_answered(tmp_path: Path,
                                                                     sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    thread = THREADS[0]
    original = (thread / "1.eml").read_bytes()
    deliver(settings, original)
    poll_once(ctx, OPEN_NOW)
    _, outbox, _ = state(ctx)
    ooo = _reply_to_ours(original, outbox[0].data, "I am out of the office until Monday.",
                         subject="Automatic reply: away")
    ooo = b"Auto-Submitted: auto-replied\r\n" + ooo
    deliver(settings, ooo)
    report = poll_once(ctx, OPEN_NOW)
    assert [(o.outcome, o.actions) for o in report.outcomes] == [("note", ["ignore"])]
    tickets, outbox_after, links = state(ctx)
    assert len(tickets) == 1 and len(links) == 2
    assert tickets[0].status == "awaiting_details"
    assert len(outbox_after) == 1


def test_bounce_of_our_reply_is_recorded_on_its_ticket(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    deliver(settings, (THREADS[0] / "1.eml").read_bytes())
    poll_once(ctx, OPEN_NOW)
    _, outbox, _ = state(ctx)
    ours = message_from_bytes(outbox[0].data, policy=default)
    dsn = ("From: MAILER-DAEMON@mx.example-council.gov.uk\r\n"
           "To: mosaic.helpdesk@example-council.gov.uk\r\n"
           "Subject: Undelivered Mail Returned to Sender\r\n"
           "Message-ID: <dsn-1@mx.example-council.gov.uk>\r\nMIME-Version: 1.0\r\n"
           'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
           "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
           "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
           "Reporting-MTA: dns; mx.example-council.gov.uk\r\n\r\n"
           "Final-Recipient: rfc822; carys.bellingham@example-council.gov.uk\r\n"
           "Action: failed\r\nStatus: 5.1.1\r\n"
           "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
           f"From: {ours['From']}\r\nSubject: {ours['Subject']}\r\n"
           f"Message-ID: {ours['Message-ID']}\r\n--b--\r\n").encode()
    deliver(settings, dsn)
    report = poll_once(ctx, OPEN_NOW)
    assert [(o.outcome, o.types) for o in report.outcomes] == [("note", ["bounce"])]
    tickets, outbox_after, links = state(ctx)
    assert len(tickets) == 1 and len(links) == 2 and len(outbox_after) == 1
    assert "bounced" in (tickets[0].last_reply_error or "")


def test_our_own_reply_coming_back_is_never_answered(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    deliver(settings, (CORPUS / "061-triage-call-me-about-family.eml").read_bytes())
    poll_once(ctx, OPEN_NOW)
    _, outbox, _ = state(ctx)
    deliver(settings, outbox[0].data)  # e.g. the help desk's own address was copied in
    report = poll_once(ctx, OPEN_NOW)
    assert report.outcomes[0].actions == ["ignore"] and report.outcomes[0].replies == 0
    assert len(state(ctx)[1]) == 1
