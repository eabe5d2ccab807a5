"""reparse_conversation: a ticket's follow-up supplies what was missing (tests/messages/threads/)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus_scoring import compare
from parsers import ParseOptions, parse, reparse_conversation

THREADS = sorted((Path(__file__).resolve().parents[1] / "messages" / "threads").glob("*/"))


@pytest.mark.parametrize("thread", THREADS, ids=[t.name for t in THREADS])
def test_first_message_asks_for_details(thread: Path) -> None:
    final = json.loads((thread / "expect.json").read_text())["final"]
    first = parse((thread / "1.eml").read_bytes(), ParseOptions()).requests
    assert len(first) == 1
    assert first[0].type == final["type"]
    assert first[0].action == "request_details"


@pytest.mark.parametrize("keep_type", [False, True])
@pytest.mark.parametrize("thread", THREADS, ids=[t.name for t in THREADS])
def test_follow_up_completes_the_ticket(thread: Path, keep_type: bool) -> None:
    final = json.loads((thread / "expect.json").read_text())["final"]
    messages = [(thread / "1.eml").read_bytes(), (thread / "2.eml").read_bytes()]
    result = reparse_conversation(messages, ParseOptions(), final["type"] if keep_type else None)
    assert len(result.requests) == 1
    assert compare(final, result.requests[0].as_json()) == []


def test_ticket_type_is_kept_even_when_the_text_reads_otherwise() -> None:
    thread = THREADS[0]
    messages = [(thread / "1.eml").read_bytes(), (thread / "2.eml").read_bytes()]
    result = reparse_conversation(messages, ParseOptions(), "incident")
    assert result.requests[0].type == "incident"
    assert result.requests[0].action in ("ack", "request_details")


def _mail(subject: str, body: str, msg_id: str, reply_to: str | None = None) -> bytes:
    head = (f"From: Ann Lee <ann.lee@example-council.gov.uk>\nTo: helpdesk@example-council.gov.uk\n"
            f"Subject: {subject}\nDate: Mon, 1 Mar 2027 10:00:00 +0000\nMessage-ID: <{msg_id}>\n")
    if reply_to:
        head += f"In-Reply-To: <{reply_to}>\nReferences: <{reply_to}>\n"
    return (head + "\n" + body).encode()


def test_a_bare_number_answers_the_one_id_asked_for() -> None:
    first = _mail("Reopen step", "Please could the Carers Assessment for PID 2203978 be reopened? It was completed "
                  "by mistake before the carer had signed it and the support plan still needs adding.\n", "a@x")
    reply = _mail("RE: Reopen step", "It's 58812340, sorry.\n\nAnn\n\nOn Mon, 1 Mar 2027 at 10:00, Ann Lee "
                  "<ann.lee@example-council.gov.uk> wrote:\n> Please could the Carers Assessment\n", "b@x", "a@x")
    [before] = parse(first, ParseOptions()).requests
    assert before.missing == ("workstep_id",)
    [after] = reparse_conversation([first, reply], ParseOptions(), "person_record_change").requests
    assert after.fields["workstep_id"] == "58812340" and after.action == "ack"


def test_a_phone_number_in_the_reply_is_not_taken_as_the_id() -> None:
    first = _mail("Reopen step", "Please could the Carers Assessment for PID 2203978 be reopened? It was completed "
                  "by mistake before the carer had signed it and the support plan still needs adding.\n", "a@x")
    reply = _mail("RE: Reopen step", "I can't find it - can you ring me on 01522 555318?\n", "b@x", "a@x")
    [after] = reparse_conversation([first, reply], ParseOptions(), "person_record_change").requests
    assert "workstep_id" not in after.fields and after.action == "request_details"


def test_a_ticket_from_a_two_request_mail_reads_only_its_own_part() -> None:
    first = _mail("couple of things", "1) step id 34400981 is locked - it's showing as in use by Sam Lord.\n\n"
                  "2) Mrs Violet Pearce (Mosaic ID 7710254) has moved in with her son, can you add his address to "
                  "her record: 16 Eastfield Road, Louth. I'll get the postcode.\n", "a@x")
    reply = _mail("RE: couple of things", "Postcode is LN11 0QT\n", "b@x", "a@x")
    assert [r.type for r in parse(first, ParseOptions()).requests] == ["remove_lock", "add_address"]
    [after] = reparse_conversation([first, reply], ParseOptions(), "add_address").requests
    assert (after.action, after.fields["postcode"], after.fields["person_id"]) == ("ack", "LN11 0QT", "7710254")
