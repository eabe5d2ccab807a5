"""Mail with nobody to answer (empty, garbage, no From) is a triage ticket staff see, never a
reply; machine mail without a From stays ignored."""
from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from worker.pipeline import poll_once
from worker.store import OutboxItem, Ticket, TicketEvent

from tests.worker.worker_setup import (OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       make_ctx, make_settings)

BUGCASE_33 = (Path(__file__).resolve().parents[1] / "bugcases"
              / "33-empty-from-no-to-no-body.eml").read_bytes()
NO_FROM = (b"To: mosaic.helpdesk@example-council.gov.uk\r\nSubject: remove lock workstep 1231231\r\n"
           b"Message-ID: <no-from-1@relay.example.org>\r\n\r\n"
           b"Please can someone unlock workstep 1231231, it says I have it open.\r\n")
GARBAGE = bytes((i * 37 + 11) % 256 for i in range(3000))
MACHINE_NO_FROM = (b"To: mosaic.helpdesk@example-council.gov.uk\r\nSubject: Automatic reply\r\n"
                   b"Auto-Submitted: auto-replied\r\nMessage-ID: <ooo-no-from@relay.example.org>"
                   b"\r\n\r\nI am out of the office.\r\n")


def test_mail_with_nobody_to_answer_is_triaged_for_staff(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url)
    ctx = make_ctx(settings)
    deliver(settings, b"", GARBAGE, NO_FROM, BUGCASE_33, MACHINE_NO_FROM)

    report = poll_once(ctx, OPEN_NOW)

    assert report.ok and [o.outcome for o in report.outcomes] == ["new"] * 5
    with ctx.store.session() as s:
        tickets = list(s.exec(select(Ticket).order_by(Ticket.id)))
        outbox = list(s.exec(select(OutboxItem)))
        why = list(s.exec(select(TicketEvent).where(TicketEvent.kind == "not_answered")))
    assert [(t.status, t.action) for t in tickets] == [("triage", "triage")] * 4 + \
        [("ignored", "ignore")]
    assert all("no_sender_address" in t.notes for t in tickets[:4])
    assert len(why) == 4 and outbox == []  # nobody to send a reply to
    assert tickets[2].subject == "remove lock workstep 1231231"  # staff see what it was about
