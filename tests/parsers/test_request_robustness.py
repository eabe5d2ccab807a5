"""Hostile or odd request text never crashes the parser nor takes long (quoting, cues, finders)."""
from __future__ import annotations

import time

import pytest

from parsers import ParseOptions, parse

HEAD = "From: A Sender <a.sender@example-council.gov.uk>\nSubject: {subject}\nDate: Mon, 1 Mar 2027 10:00:00 +0000\n\n"

BODIES = {
    "blank lines": "restrict PID 1234567 " + "\t \n" * 30000,
    "long blank run": "restricted " + " " * 60000 + "x",
    "repeated capitals": "Restrict " + "Aaaa Bbbb " * 5000,
    "repeated addresses": "add address " + "12 Aaaa Road, Bbbb, " * 2000,
    "many labelled numbers": "PID" + " 1234567" * 10000,
    "many dates": "from 1st Jan " * 5000,
    "unclosed quote": 'error "' + "word " * 10000,
    "many sign-offs": "Thanks\n" * 5000,
    "many quote headers": "On Mon, 1 Mar 2027, A wrote:\n> x\n" * 3000,
    "numbered list": "\n".join(f"{i}. step id {1000000 + i} says Al Bo is already working in this step"
                               for i in range(1, 500)),
}


@pytest.mark.parametrize("name", list(BODIES))
def test_odd_text_is_read_quickly(name: str) -> None:
    data = (HEAD.format(subject="odd") + BODIES[name]).encode()
    start = time.perf_counter()
    result = parse(data, ParseOptions())
    assert time.perf_counter() - start < 3.0
    assert 1 <= len(result.requests) <= 6  # never a flood of tickets from one message


def test_empty_body_with_only_an_attachment_is_triage() -> None:
    data = (
        "From: A Sender <a.sender@example-council.gov.uk>\nSubject: Mosaic\nDate: Mon, 1 Mar 2027 10:00:00 +0000\n"
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n\n"
        "--b\nContent-Type: image/png\nContent-Disposition: attachment; filename=shot.png\n"
        "Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--b--\n"
    ).encode()
    [request] = parse(data, ParseOptions()).requests
    assert (request.type, request.action) == ("unknown", "triage")
    assert "screenshot" in request.sensitive


def test_every_request_explains_itself() -> None:
    data = (HEAD.format(subject="Locked step") + "Step ID 55120934 is locked - it says Paula Greaves is already "
            "working in this step.\n").encode()
    [request] = parse(data, ParseOptions()).requests
    assert request.type == "remove_lock" and request.confidence >= 0.45
    rules = {c.rule for c in request.cues}
    assert any(r.startswith("remove_lock:") for r in rules)
    assert {c.target for c in request.cues} >= {"type", "workstep_id", "locked_by"}


def test_low_confidence_becomes_triage() -> None:
    data = (HEAD.format(subject="Locked step") + "Step ID 55120934 is locked - it says Paula Greaves is already "
            "working in this step.\n").encode()
    [request] = parse(data, ParseOptions(triage_below_confidence=0.99)).requests
    assert (request.type, request.action, request.fields) == ("unknown", "triage", {})


def test_min_explanation_words_comes_from_options() -> None:
    data = (HEAD.format(subject="DOB") + "ws 88120455 / PID 904512 - the date of birth was typed wrongly at "
            "the front door, please fix it\n").encode()
    [strict] = parse(data, ParseOptions(min_explanation_words=40)).requests
    [lenient] = parse(data, ParseOptions(min_explanation_words=5)).requests
    assert "explanation" in strict.missing and "explanation" not in lenient.missing


def test_a_request_written_in_the_subject_line_alone() -> None:
    data = ("From: Ann Lee <ann.lee@example-council.gov.uk>\nSubject: New address for PID 1234567: 3 Mill Lane, "
            "Louth LN11 0AA\nDate: Mon, 1 Mar 2027 10:00:00 +0000\n\nThanks\n\nAnn\n").encode()
    [request] = parse(data, ParseOptions()).requests
    assert request.type == "add_address" and request.action == "ack"
    assert request.fields["address"] == "3 Mill Lane, Louth" and request.fields["postcode"] == "LN11 0AA"
