"""One message delivered twice is stored once; a different message reusing its Message-ID is not
a duplicate: it is stored and gets its own ticket."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from worker.pipeline import poll_once
from worker.store import StoredMessage, Ticket

from tests.worker.worker_setup import (DEMO, OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       folder_count, make_ctx, make_settings)

ORIGINAL = (DEMO / "02-record-change-no-workstep.eml").read_bytes()
MID = b"<DB9PE2MBDC2EDEFD07FB6D65@DB9PE2MBDC2E.eurprd03.prod.outlook.com>"
# the same message through another route: trace headers added, line ends changed
REDELIVERED = (b"Return-Path: <ellie.pritchard@example-council.gov.uk>\n"
               b"Delivered-To: mosaic.helpdesk@example-council.gov.uk\n"
               b"Received: from mx2.example-council.gov.uk by imap.example-council.gov.uk;\n"
               b"\tTue, 02 Feb 2027 12:01:10 +0000\n"
               b"X-Original-To: helpdesk@example-council.gov.uk\n"
               + ORIGINAL.replace(b"\r\n", b"\n"))
# someone else's message carrying the same Message-ID (a broken client, or on purpose)
REUSED = (b"From: Mallory Thistlewood <mallory.thistlewood@example-council.gov.uk>\r\n"
          b"To: mosaic.helpdesk@example-council.gov.uk\r\n"
          b"Date: Thu, 03 Dec 2026 10:00:00 +0000\r\nSubject: Remove lock\r\n"
          b"Message-ID: " + MID + b"\r\n\r\n"
          b"Please remove the lock on workstep 5555111, it is locked by Ian Bell.\r\n")


def _rows(ctx) -> tuple[list[StoredMessage], list[Ticket]]:
    with ctx.store.session() as s:
        return (list(s.exec(select(StoredMessage).order_by(StoredMessage.id))),
                list(s.exec(select(Ticket).order_by(Ticket.id))))


@pytest.mark.parametrize("together", [True, False], ids=["one_batch", "separate_polls"])
def test_redelivery_is_one_message_and_a_reused_id_is_another(tmp_path: Path, db_url: str,
                                                              together: bool) -> None:
    settings = make_settings(tmp_path, db_url)
    ctx = make_ctx(settings)
    outcomes = []
    if together:
        deliver(settings, ORIGINAL, REDELIVERED, REUSED)
        outcomes += poll_once(ctx, OPEN_NOW).outcomes
    else:
        for data in (ORIGINAL, REDELIVERED, REUSED):
            deliver(settings, data)
            outcomes += poll_once(ctx, OPEN_NOW).outcomes

    assert [o.outcome for o in outcomes] == ["new", "duplicate", "new"]
    messages, tickets = _rows(ctx)
    assert len(messages) == 2 and {m.message_id for m in messages} == {MID.decode()}
    assert [m.sender_email for m in messages] == ["ellie.pritchard@example-council.gov.uk",
                                                  "mallory.thistlewood@example-council.gov.uk"]
    assert [t.type for t in tickets] == ["person_record_change", "remove_lock"]
    assert tickets[1].requester_email == "mallory.thistlewood@example-council.gov.uk"
    assert folder_count(settings) == 0  # nothing left in the inbox

    deliver(settings, REUSED, ORIGINAL)  # both again (a UIDVALIDITY rescan): nothing new
    again = poll_once(ctx, OPEN_NOW)
    assert [o.outcome for o in again.outcomes] == ["duplicate", "duplicate"]
    assert len(_rows(ctx)[0]) == 2


def test_messages_without_message_id_are_keyed_by_content(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url)
    ctx = make_ctx(settings)
    bare = REUSED.replace(b"Message-ID: " + MID + b"\r\n", b"")
    other = bare.replace(b"5555111", b"5555112")
    deliver(settings, bare, b"Received: from relay by mx; Thu, 3 Dec 2026 10:00:01 +0000\r\n"
            + bare, other)
    assert [o.outcome for o in poll_once(ctx, OPEN_NOW).outcomes] == ["new", "duplicate", "new"]
    assert len(_rows(ctx)[1]) == 2
