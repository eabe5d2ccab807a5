"""Follow-ups and notes on a ticket: machine mail noted on a ticket never feeds its re-read,
a partial answer gets a new request for what is still missing."""
from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from sqlmodel import select

from worker.pipeline import poll_once
from worker.store import OutboxItem, Ticket, ticket_by_reference
from worker.web import actions

from tests.worker.worker_setup import (DEMO, OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       make_ctx, make_settings)

REQUEST = (DEMO / "02-record-change-no-workstep.eml").read_bytes()  # missing: workstep_id
REF = "MDHD-000001"


def _mail(subject: str, body: str, msgid: str, extra: str = "",
          sender: str = '"Pritchard, Ellie" <ellie.pritchard@example-council.gov.uk>') -> bytes:
    head = (f"From: {sender}\r\nTo: mosaic.helpdesk@example-council.gov.uk\r\n"
            f"Subject: {subject}\r\nDate: Tue, 16 Feb 2027 10:30:00 +0000\r\n"
            f"Message-ID: <{msgid}@example-council.gov.uk>\r\n{extra}"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
    return (head + body.replace("\n", "\r\n") + "\r\n").encode()


OUT_OF_OFFICE = _mail(
    f"Automatic reply: Re: Step sent to wrong team [{REF}]",
    "Thank you for your email. I am on leave until Monday 1st March.\n\n"
    "For urgent matters on Workstep ID 7777777 please contact Marcus Delaney-Whitfield on "
    "01522 555190 or email duty.desk@example-council.gov.uk.\n", "ooo-1",
    "Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n")

HUMAN_NO_DETAILS = _mail(
    f"Re: Step sent to wrong team [{REF}]",
    "Sorry, I am back now. I will look up the number and send it over later today.\n",
    "human-1")


def _ticket(ctx) -> Ticket:
    with ctx.store.session() as s:
        return ticket_by_reference(s, REF)


def test_out_of_office_on_a_ticket_never_fills_its_fields(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url)
    ctx = make_ctx(settings)
    deliver(settings, REQUEST)
    poll_once(ctx, OPEN_NOW)
    deliver(settings, OUT_OF_OFFICE)
    assert [o.outcome for o in poll_once(ctx, OPEN_NOW).outcomes] == ["note"]
    deliver(settings, HUMAN_NO_DETAILS)

    report = poll_once(ctx, OPEN_NOW + timedelta(minutes=5))

    assert [o.outcome for o in report.outcomes] == ["follow_up"]
    ticket = _ticket(ctx)
    assert (ticket.status, ticket.missing) == ("awaiting_details", ["workstep_id"])
    text = repr(ticket.fields) + repr(ticket.cues)
    for leaked in ("7777777", "Delaney", "555190", "duty.desk"):
        assert leaked not in text, leaked


def test_staff_rerun_ignores_the_out_of_office_too(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url)
    ctx = make_ctx(settings)
    deliver(settings, REQUEST)
    poll_once(ctx, OPEN_NOW)
    deliver(settings, OUT_OF_OFFICE)
    poll_once(ctx, OPEN_NOW)
    with ctx.store.session() as s:
        ticket = ticket_by_reference(s, REF)
        assert actions.rerun_parser(s, ticket, settings, "alice", OPEN_NOW)
        assert (ticket.status, ticket.missing) == ("awaiting_details", ["workstep_id"])
        assert "7777777" not in repr(ticket.fields)


PARTIAL_REQUEST = (Path(__file__).resolve().parents[1] / "messages"
                   / "h200-add_address-no-id-no-postcode.eml").read_bytes()  # person_id, postcode


def _answer(body: str, n: int) -> bytes:
    return _mail(f"Re: address update [{REF}]", body, f"answer-{n}",
                 sender="Ned Lake <ned.lake@example-council.gov.uk>")


def _replies(ctx) -> list[OutboxItem]:
    with ctx.store.session() as s:
        return list(s.exec(select(OutboxItem).order_by(OutboxItem.id)))


def test_a_partial_answer_gets_a_request_for_what_is_still_missing(tmp_path: Path,
                                                                   db_url: str) -> None:
    settings = make_settings(tmp_path, db_url)
    ctx = make_ctx(settings)
    deliver(settings, PARTIAL_REQUEST)
    poll_once(ctx, OPEN_NOW)
    assert _ticket(ctx).missing == ["person_id", "postcode"]

    deliver(settings, _answer("Her Mosaic person ID is 6012399. I will find the postcode "
                              "later today.", 1))
    poll_once(ctx, OPEN_NOW + timedelta(minutes=10))  # well inside repeat_reply_hours

    assert _ticket(ctx).missing == ["postcode"]
    replies = _replies(ctx)
    assert [r.kind for r in replies] == ["request_details", "request_details"]
    second = message_from_bytes(replies[1].data, policy=default)
    assert second["In-Reply-To"] == "<answer-1@example-council.gov.uk>"
    text = second.get_body(("plain",)).get_content().lower()
    assert "postcode" in text

    deliver(settings, _answer("Still looking for it, sorry.", 2))  # fills nothing: not asked again
    poll_once(ctx, OPEN_NOW + timedelta(minutes=20))
    assert len(_replies(ctx)) == 2

    deliver(settings, _answer("The postcode is DL2 2TX.", 3))
    poll_once(ctx, OPEN_NOW + timedelta(minutes=30))
    ticket = _ticket(ctx)
    assert (ticket.status, ticket.missing) == ("ready", [])
    assert [r.kind for r in _replies(ctx)] == ["request_details"] * 2 + ["ack"]


def test_staff_rerun_stores_nhs_numbers_masked_like_the_worker(tmp_path: Path,
                                                               db_url: str) -> None:
    settings = make_settings(tmp_path, db_url)
    ctx = make_ctx(settings)
    deliver(settings, _mail("Wrong NHS number on record",
                            "Hi, the NHS number on Leo's record (PID 6012387) was entered as "
                            "943 476 5919 but it should be 401 023 2137, the health visitor "
                            "confirmed it this morning. Please can it be corrected?\n\nEllie\n",
                            "nhs-1"))
    poll_once(ctx, OPEN_NOW)
    with ctx.store.session() as s:
        ticket = ticket_by_reference(s, REF)
        before = (dict(ticket.fields), dict(ticket.parsed_fields))
        assert actions.rerun_parser(s, ticket, settings, "alice", OPEN_NOW)
        after = (dict(ticket.fields), dict(ticket.parsed_fields))
    stored = repr(after) + repr(ticket.cues)
    assert "943 476" not in stored and "401 023" not in stored
    assert after == before  # the same reading, stored the same way
