"""Our replies keep every header line within RFC 5322's 998 characters and quote at most 200
characters of the sender's subject, however long theirs was."""
from __future__ import annotations

from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from sqlmodel import select

from worker.pipeline import poll_once
from worker.replies import ReplyTarget, reply_bytes
from worker.store import OutboxItem, Ticket

from tests.worker.worker_setup import (OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       make_ctx, make_settings)

BODY = "Please can you unlock workstep 1234567, it says Ian Bell has it open but he does not."


def _message(subject: str, extra: str = "") -> bytes:
    return ("From: Sam Reed <sam.reed@example-council.gov.uk>\r\n"
            "To: mosaic.helpdesk@example-council.gov.uk\r\n"
            f"Subject: {subject}\r\nDate: Tue, 16 Feb 2027 09:00:00 +0000\r\n"
            f"Message-ID: <long-subject@example-council.gov.uk>\r\n{extra}"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n" + BODY + "\r\n").encode()


def _header_lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


SUBJECTS = {
    "many_words": "unlock please " * 30_000,
    "one_word": "x" * 300_000,
    "non_ascii": "verrouillé " * 20_000,
}


@pytest.mark.parametrize("name", list(SUBJECTS))
def test_a_huge_subject_gives_a_short_well_formed_reply(tmp_path: Path, sqlite_url: str,
                                                        name: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    deliver(settings, _message(SUBJECTS[name]))

    report = poll_once(ctx, OPEN_NOW)

    assert report.replies_queued == 1
    with ctx.store.session() as s:
        data = s.exec(select(OutboxItem)).one().data
        reference = s.exec(select(Ticket)).one().reference
    assert max(len(line) for line in _header_lines(data)) <= 998
    subject = str(message_from_bytes(data, policy=default)["Subject"])
    assert subject.startswith("Re: ") and subject.endswith(f"\u2026 [{reference}]")
    assert len(subject) <= len("Re: ") + 200 + len(f"\u2026 [{reference}]")


def test_a_huge_message_id_is_not_put_on_a_header_line(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    giant = "<" + "a" * 1500 + "@example.org>"
    refs = " ".join(f"<ref{i}-{'b' * 80}@example.org>" for i in range(40))
    deliver(settings, _message("locked workstep", f"References: {refs} {giant}\r\n")
            .replace(b"<long-subject@example-council.gov.uk>", giant.encode()))
    poll_once(ctx, OPEN_NOW)
    with ctx.store.session() as s:
        data = s.exec(select(OutboxItem)).one().data
    assert max(len(line) for line in _header_lines(data)) <= 998
    assert b"a" * 1000 not in data


def test_reply_bytes_never_exceed_998_per_header_line(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    deliver(settings, _message("locked workstep"))
    poll_once(ctx, OPEN_NOW)
    with ctx.store.session() as s:
        ticket = s.exec(select(Ticket)).one()
    refs = tuple(f"<r{i}-{'c' * 300}@example.org>" for i in range(12))
    target = ReplyTarget(subject="y" * 5000, message_id="<m-" + "d" * 600 + "@example.org>",
                         references=refs, recipients=("sam.reed@example-council.gov.uk",))
    reply = ctx.renderer.render(ticket, target, OPEN_NOW)
    data = reply_bytes(reply)
    assert max(len(line) for line in _header_lines(data)) <= 998
    parsed = message_from_bytes(data, policy=default)
    assert parsed["In-Reply-To"] == target.message_id  # the message answered is kept
    assert target.message_id in str(parsed["References"])
