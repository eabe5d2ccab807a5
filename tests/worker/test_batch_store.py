"""A batch's rows go out together (worker/rowbuffer.py): a later message of the batch still sees
the ticket an earlier one opened, and references run on without gaps, on both databases."""
from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from worker.mailbox import RawMessage
from worker.pipeline import Fetched, parse_fetched, store_batch
from worker.store import OutboxItem, Ticket, TicketMessage, ticket_by_reference

from tests.worker.worker_setup import (CORPUS, DEMO, OPEN_NOW, close_stores,  # noqa: F401
                                       make_ctx, make_settings)

REQUEST = (DEMO / "02-record-change-no-workstep.eml").read_bytes()  # missing: workstep_id


class _Named:
    """Only the mailbox's name is used by store_batch."""

    def __init__(self, name: str) -> None:
        self.name = name


def _fetched(settings, first_uid: int, *raws: bytes) -> list[Fetched]:
    options = settings.parse_options()
    return [parse_fetched(RawMessage("INBOX", 7, first_uid + i, data), options, 10**8)
            for i, data in enumerate(raws)]


def _answer(subject: str, body: str) -> bytes:
    return (f'From: "Pritchard, Ellie" <ellie.pritchard@example-council.gov.uk>\r\n'
            f"To: mosaic.helpdesk@example-council.gov.uk\r\nSubject: {subject}\r\n"
            "Date: Tue, 16 Feb 2027 10:30:00 +0000\r\n"
            "Message-ID: <answer-1@example-council.gov.uk>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n").encode()


def test_an_answer_in_the_same_batch_joins_the_ticket_it_names(tmp_path: Path,
                                                                db_url: str) -> None:
    settings = make_settings(tmp_path, db_url)
    ctx = make_ctx(settings)
    answer = _answer("Re: Step sent to wrong team [MDHD-000001]",
                     "Sorry - the Workstep ID is 4455667.")

    done = store_batch(ctx, _fetched(settings, 1, REQUEST, answer), _Named("default"), 7,
                       OPEN_NOW)  # type: ignore[arg-type]

    assert [(o.outcome, o.references) for _, o in done] == [("new", ["MDHD-000001"]),
                                                            ("follow_up", ["MDHD-000001"])]
    with ctx.store.session() as s:
        ticket = ticket_by_reference(s, "MDHD-000001")
        assert ticket is not None and len(s.exec(select(Ticket)).all()) == 1
        assert (ticket.status, ticket.missing) == ("ready", [])
        assert ticket.fields["workstep_id"] == "4455667"
        links = s.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)).all()
        kinds = [o.kind for o in s.exec(select(OutboxItem).order_by(OutboxItem.id))]
    assert sorted(link.role for link in links) == ["follow_up", "request"]
    assert kinds == ["request_details", "ack"]


def test_references_run_on_without_gaps_across_batches(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url)
    ctx = make_ctx(settings)
    samples = [p.read_bytes() for p in sorted(CORPUS.glob("0[0-6]*.eml"))[:14]]

    first = store_batch(ctx, _fetched(settings, 1, *samples[:8]), _Named("default"), 7,
                        OPEN_NOW)  # type: ignore[arg-type]
    second = store_batch(ctx, _fetched(settings, 9, *samples[8:]), _Named("default"), 7,
                         OPEN_NOW)  # type: ignore[arg-type]

    assert [o.outcome for _, o in first + second] == ["new"] * len(samples)
    given = [r for _, o in first + second for r in o.references]
    with ctx.store.session() as s:
        tickets = s.exec(select(Ticket).order_by(Ticket.id)).all()
    assert given == [t.reference for t in tickets]
    assert [t.reference for t in tickets] == [f"MDHD-{n:06d}" for n in range(1, len(tickets) + 1)]
    assert len(tickets) >= len(samples)
