"""screen(): which machine mail is never answered, and which human mail must still be."""
from __future__ import annotations

import glob
import json
from pathlib import Path

import pytest

from parsers.message import parse_message
from parsers.model import ParseOptions
from parsers.screening import screen

OURS = ParseOptions(own_addresses=("mosaic.helpdesk@example-council.gov.uk",
                                   "helpdesk.example-council.gov.uk"))


def screened(*headers: str, body: str = "Please remove the lock on workstep 4455667.",
             options: ParseOptions = OURS) -> str | None:
    head = "\r\n".join(headers)
    if not any(h.lower().startswith("from:") for h in headers):
        head = "From: Amy Jones <a.jones@example-council.gov.uk>\r\n" + head
    data = (head + "\r\n\r\n" + body + "\r\n").encode("utf-8")
    return screen(parse_message(data), options)


@pytest.mark.parametrize("header", [
    "Auto-Submitted: auto-replied", "Auto-Submitted: auto-generated",
    "Auto-Submitted: auto-notified; owner-email=x@example.org", "AUTO-SUBMITTED: Auto-Replied",
    "X-Autoreply: yes", "X-Autorespond: Out of office", "Precedence: auto_reply",
    "X-Precedence: auto_reply",
])
def test_rfc3834_and_vendor_headers_mark_auto_replies(header: str) -> None:
    assert screened("Subject: hello", header) == "auto_reply"


@pytest.mark.parametrize("headers", [
    ("Subject: hello", "Auto-Submitted: no"),
    ("Subject: hello", "X-Auto-Response-Suppress: All"),
    ("Subject: hello", "X-Auto-Response-Suppress: DR, OOF, AutoReply", "Auto-Submitted: No"),
    ("Subject: Out of office cover - how do I reassign my steps?",),
    ("Subject: Re: Automatic replies are switched on for my team, should they be?",),
    ("Subject: Undeliverable address on person record 1234567",),
])
def test_people_are_not_screened(headers: tuple[str, ...]) -> None:
    assert screened(*headers) is None


@pytest.mark.parametrize("subject", [
    "Automatic reply: Lock on workstep", "Auto Reply: new starter", "AutoReply: x",
    "Out of Office: Re: [MDHD-000001] request", "Out of Office AutoReply: x",
    "Abwesenheitsnotiz: Sperre", "Automatische Antwort: x", "Réponse automatique : x",
    "Respuesta automática: x", "Risposta automatica: x", "Automatisch antwoord: x",
    "[EXTERNAL] Automatic reply: x", "EXTERNAL: Out of Office: x", "[Ext] [Secure] Autosvar: x",
])
def test_out_of_office_subjects_in_several_languages(subject: str) -> None:
    assert screened(f"Subject: {subject}", body="Back soon.") == "auto_reply"


def test_out_of_office_body_needs_a_reply_that_asks_for_nothing() -> None:
    notice = "I'm out of the office until Friday 9 May and will respond when I return."
    assert screened("Subject: Re: your ticket", body=notice) == "auto_reply"
    # the same words in a new message are a person telling us something
    assert screened("Subject: Mosaic cover", body=notice) is None
    asks = notice + " Could you unlock workstep 4455667 before then?"
    assert screened("Subject: Re: your ticket", body=asks) is None
    long_mail = notice + " " + "We reviewed the case notes together. " * 40
    assert screened("Subject: Re: your ticket", body=long_mail) is None
    answering = "I'm on annual leave until Monday 12 May - the workstep ID is 4455667."
    assert screened("Subject: Re: your ticket", body=answering) is None
    with_phone = notice + " Urgent matters: call the duty desk on 01522 555190 or 07700 900902."
    assert screened("Subject: Re: your ticket", body=with_phone) == "auto_reply"


def test_other_machine_reports_are_auto_replies() -> None:
    assert screened("Subject: Abuse report", "MIME-Version: 1.0",
                    "Content-Type: multipart/report; report-type=feedback-report; boundary=q",
                    body="--q\r\nContent-Type: text/plain\r\n\r\nreport\r\n--q--") == "auto_reply"


def test_read_receipt_is_an_auto_reply_not_a_bounce() -> None:
    assert screened("Subject: Read: x", "MIME-Version: 1.0",
                    "Content-Type: multipart/report; report-type=disposition-notification; boundary=q",
                    body="--q\r\nContent-Type: text/plain\r\n\r\nread\r\n--q--") == "auto_reply"


@pytest.mark.parametrize("headers", [
    ("From: MAILER-DAEMON@mx.example.org", "Subject: Undelivered Mail"),
    ("From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>", "Subject: Delivery Status Notification (Failure)"),
    ("From: postmaster@example.org", "Subject: Delivery failure"),
    ("From: Someone <s@example.org>", "Subject: x", "X-Failed-Recipients: gone@example.org"),
    ("Return-Path: <>", "Subject: Something odd"),
    ("From: Microsoft Outlook <MicrosoftExchange1a2b@example.org>", "Subject: Undeliverable: x"),
])
def test_bounces(headers: tuple[str, ...]) -> None:
    assert screened(*headers) == "bounce"


def test_null_return_path_with_auto_submitted_is_an_auto_reply() -> None:
    # RFC 3834 asks responders to use the null reverse path: it is not a bounce on its own
    assert screened("Return-Path: <>", "Auto-Submitted: auto-replied", "Subject: x") == "auto_reply"


@pytest.mark.parametrize("header", [
    "Precedence: bulk", "Precedence: list", "Precedence: junk",
    "List-Id: Mosaic Matters <mm.lists.example.org>", "List-Unsubscribe: <mailto:leave@example.org>",
])
def test_bulk_mail(header: str) -> None:
    assert screened("Subject: Newsletter", header) == "bulk"


@pytest.mark.parametrize("headers", [
    ("From: Mosaic Help Desk <Mosaic.Helpdesk@example-council.gov.uk>", "Subject: Re: x"),
    ("Subject: x", "X-Loop: mosaic.helpdesk@example-council.gov.uk"),
    ("Subject: x", "Message-ID: <MDHD-000123.ack.1@helpdesk.example-council.gov.uk>"),
    ("From: Alerts <noreply@system.example.org>", "Subject: x"),
    ("From: Mosaic <do-not-reply@mosaic.example.org>", "Subject: x"),
    ("From: Portal <portal.noreply@example.org>", "Subject: x"),
    ("From: DoNotReply@example.org", "Subject: x"),
    ("From: no_reply@example.org", "Subject: x"),
    ("From: Do_Not_Reply <do_not_reply@example.org>", "Subject: x"),
    ("From: noreply+abc123@example.org", "Subject: x"),
])
def test_our_own_mail_and_no_reply_robots_are_never_answered(headers: tuple[str, ...]) -> None:
    assert screened(*headers) == "auto_reply"


def test_staff_on_our_domain_are_not_our_own_mail() -> None:
    assert screened("From: Amy <a.jones@example-council.gov.uk>", "Subject: x",
                    "Message-ID: <abc@example-council.gov.uk>") is None
    assert screened("From: Jo Noreplyson <jo.noreplyson@example.org>", "Subject: x") is None


def test_no_address_to_answer() -> None:
    assert screened("From: ", "Subject: x") == "auto_reply"
    assert screened("From: ", "Reply-To: Kim <kim@example.org>", "Subject: x") is None


CORPUS = Path(__file__).resolve().parents[1] / "messages"  # the shared corpus, copied in the repo


def test_labelled_corpus_screens_exactly_the_ignored_mail() -> None:
    wrong = []
    for eml in sorted(glob.glob(str(CORPUS / "[0-9][0-9][0-9]-*.eml"))):
        label = json.loads(Path(eml).with_suffix(".json").read_text())
        want = label.get("type") if label.get("action") == "ignore" else None
        got = screen(parse_message(Path(eml).read_bytes()), OURS)
        if got != want:
            wrong.append((Path(eml).name, want, got))
    assert not wrong
