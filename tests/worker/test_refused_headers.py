"""Mail the parser refuses (nested too deep, too large) still shows staff who sent it, when and
about what: the stored message and its triage ticket carry its top-level headers."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlmodel import select

import parsers
from worker.pipeline import poll_once
from worker.store import StoredMessage, Ticket

from tests.worker.worker_setup import (OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       make_ctx, make_settings)

HEAD = ("From: Ada Nest <ada.nest@example-council.gov.uk>\r\n"
        "To: mosaic.helpdesk@example-council.gov.uk\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
        "Subject: =?utf-8?q?Lock_on_Tom=E2=80=99s_assessment?=\r\n"
        "Message-ID: <refused-1@example-council.gov.uk>\r\nMIME-Version: 1.0\r\n")


def _deep(levels: int = 80) -> bytes:
    body = "Content-Type: text/plain\r\n\r\nplease unlock workstep 1234567\r\n"
    for i in range(levels):
        body = (f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n{body}'
                f"\r\n--b{i}--\r\n")
    return (HEAD + body).encode()


def _big() -> bytes:
    return (HEAD + "Content-Type: text/plain\r\n\r\n" + "words " * 2000 + "\r\n").encode()


def test_the_parser_reads_the_headers_of_a_message_it_refuses() -> None:
    result = parsers.parse(_deep(), parsers.ParseOptions())
    assert result.error and result.error.startswith("rejected_too_deep")
    assert result.requests == () and result.message is not None
    assert result.message.sender.email == "ada.nest@example-council.gov.uk"
    assert result.message.subject == "Lock on Tom\u2019s assessment"
    assert result.message.text == ""  # nothing of the body is read


@pytest.mark.parametrize("data", [_deep(), _big()], ids=["too_deep", "too_large"])
def test_a_refused_message_shows_its_headers_to_staff(tmp_path: Path, db_url: str,
                                                      data: bytes) -> None:
    settings = make_settings(tmp_path, db_url, "[helpdesk]\nmax_message_bytes = 9000\n")
    ctx = make_ctx(settings)
    deliver(settings, data)

    report = poll_once(ctx, OPEN_NOW)

    assert [o.actions for o in report.outcomes] == [["triage"]]
    with ctx.store.session() as s:
        message = s.exec(select(StoredMessage)).one()
        ticket = s.exec(select(Ticket)).one()
    assert message.parse_error and message.masked_text in (None, "")
    assert (message.sender_email, message.subject, message.message_id) == (
        "ada.nest@example-council.gov.uk", "Lock on Tom\u2019s assessment",
        "<refused-1@example-council.gov.uk>")
    assert message.sent_date == datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)
    assert (ticket.status, ticket.requester_email, ticket.subject) == (
        "triage", "ada.nest@example-council.gov.uk", "Lock on Tom\u2019s assessment")
