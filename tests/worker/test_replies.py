"""Replies: headers, per-field guidance, redirects, sentences for sensitive data and hours."""
from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from worker.replies import Reply, ReplyRenderer, ReplyTarget, reply_bytes, reply_subject
from worker.store import Ticket

from tests.worker.worker_setup import OPEN_NOW, REPO, make_settings

SATURDAY = datetime(2027, 2, 20, 11, 0, tzinfo=timezone.utc)
TARGET = ReplyTarget(subject="Step locked", message_id="<abc@example-council.gov.uk>",
                     references=("<root@example-council.gov.uk>",),
                     recipients=("a.jones@example-council.gov.uk",))


@pytest.fixture
def renderer(tmp_path: Path, sqlite_url: str) -> ReplyRenderer:
    return ReplyRenderer(make_settings(tmp_path, sqlite_url))


def ticket(type_: str, action: str, fields: dict | None = None, missing: list | None = None,
           **kw) -> Ticket:
    return Ticket(id=123, reference="MDHD-000123", type=type_, action=action,
                  status="ready", fields=fields or {}, missing=missing or [],
                  requester_name="Amy Jones", created_at=OPEN_NOW, updated_at=OPEN_NOW, **kw)


def bodies(msg: Reply) -> tuple[str, str]:
    parsed = message_from_bytes(reply_bytes(msg), policy=default)
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    return text, html


def test_reply_headers_thread_and_stop_loops(renderer: ReplyRenderer) -> None:
    msg = renderer.render(ticket("remove_lock", "ack", {"workstep_id": "4455667"}), TARGET, OPEN_NOW)
    assert msg is not None
    assert msg["Subject"] == "Re: Step locked [MDHD-000123]"
    assert msg["To"] == "a.jones@example-council.gov.uk"
    assert msg["In-Reply-To"] == "<abc@example-council.gov.uk>"
    assert msg["References"].split() == ["<root@example-council.gov.uk>",
                                         "<abc@example-council.gov.uk>"]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["X-Loop"] == "mosaic.helpdesk@example-council.gov.uk"
    assert msg["Message-ID"].strip().endswith("@helpdesk.example-council.gov.uk>")
    assert msg["Date"]
    text, html = bodies(msg)
    assert "MDHD-000123" in text and "Workstep ID: 4455667" in text
    assert "Remove locks" in html and "4455667" in html


def test_subject_strips_line_breaks_and_does_not_double() -> None:
    assert reply_subject("Hello\r\nBcc: x@evil.example", "MDHD-000001", "X") == \
        "Re: Hello Bcc: x@evil.example [MDHD-000001]"
    assert reply_subject("RE: Lock [MDHD-000001]", "MDHD-000001", "X") == "RE: Lock [MDHD-000001]"
    assert reply_subject("", "MDHD-000002", "Remove locks") == "Re: Remove locks [MDHD-000002]"


def test_workstep_guidance_lists_the_ways_and_warns_about_documents_column(
        renderer: ReplyRenderer) -> None:
    t = ticket("person_record_change", "request_details", {"person_id": "6012387"},
               ["workstep_id"])
    text, html = bodies(renderer.render(t, TARGET, OPEN_NOW))
    for words in ("work-history", '"ID" column', "summary", "Your current work", "step-summary",
                  "documents"):
        assert words in text, words
    assert "not the workstep ID" in text
    assert "not the workstep ID" in html
    assert "Person ID: 6012387" in text  # what we have so far


def test_request_details_asks_for_exactly_the_missing_fields(renderer: ReplyRenderer) -> None:
    t = ticket("add_address", "request_details", {"person_id": "1187362"}, ["postcode"])
    text, _ = bodies(renderer.render(t, TARGET, OPEN_NOW))
    asked = [line[2:] for line in text.splitlines() if line.startswith("* ")]
    assert asked == ["Postcode"]


def test_restricted_record_without_policy_asks_to_confirm_it(renderer: ReplyRenderer) -> None:
    t = ticket("restricted_record", "request_details", {"person_id": "1"}, ["policy_read"])
    text, _ = bodies(renderer.render(t, TARGET, OPEN_NOW))
    assert "confirm that you have read the Restricted Records policy" in text


def test_professional_ack_says_an_organisation_request_is_needed(renderer: ReplyRenderer) -> None:
    t = ticket("professional", "ack", {"professional_name": "Dr Helena Marsh"},
               notes=["organisation_request_needed"])
    text, html = bodies(renderer.render(t, TARGET, OPEN_NOW))
    assert "organisation request is needed" in text
    assert "organisation request is needed" in html
    plain = ticket("professional", "ack", {"professional_name": "Dr Helena Marsh"})
    assert "organisation request" not in bodies(renderer.render(plain, TARGET, OPEN_NOW))[0]


def test_account_locked_redirect_gives_the_it_service_desk_line(renderer: ReplyRenderer) -> None:
    t = ticket("account_locked", "redirect")
    text, html = bodies(renderer.render(t, TARGET, OPEN_NOW))
    assert "01522 555000" in text and "option 2" in text
    assert "01522 555000" in html


@pytest.mark.parametrize("kind,words", [("practice_question", "team manager"),
                                        ("work_base_change", "line manager")])
def test_other_redirects_point_elsewhere(renderer: ReplyRenderer, kind: str, words: str) -> None:
    text, _ = bodies(renderer.render(ticket(kind, "redirect"), TARGET, OPEN_NOW))
    assert words in text


def test_triage_is_short_and_promises_a_person(renderer: ReplyRenderer) -> None:
    text, _ = bodies(renderer.render(ticket("unknown", "triage"), TARGET, OPEN_NOW))
    assert "A member of the help desk will read it" in text
    assert len(text.split()) < 120


def test_ignored_tickets_never_get_a_reply(renderer: ReplyRenderer) -> None:
    assert renderer.render(ticket("auto_reply", "ignore"), TARGET, OPEN_NOW) is None


def test_sensitive_reminder_only_when_flagged(renderer: ReplyRenderer) -> None:
    flagged = ticket("duplicate_record", "ack", {"person_ids": ["1", "2"]}, sensitive=True)
    text, html = bodies(renderer.render(flagged, TARGET, OPEN_NOW))
    assert "NHS or National Insurance numbers" in text and "NHS or National Insurance" in html
    clean = ticket("duplicate_record", "ack", {"person_ids": ["1", "2"]})
    assert "National Insurance" not in bodies(renderer.render(clean, TARGET, OPEN_NOW))[0]


def test_out_of_hours_says_when_it_will_be_picked_up(renderer: ReplyRenderer) -> None:
    text, _ = bodies(renderer.render(ticket("how_do_i", "ack"), TARGET, SATURDAY))
    assert "picked up on Monday 22 February at 08:00" in text
    evening = datetime(2027, 2, 16, 18, 30, tzinfo=timezone.utc)
    assert "picked up tomorrow (Wednesday) at 08:00" in bodies(
        renderer.render(ticket("how_do_i", "ack"), TARGET, evening))[0]
    assert "outside those hours" not in bodies(
        renderer.render(ticket("how_do_i", "ack"), TARGET, OPEN_NOW))[0]


def test_user_text_is_data_never_template_and_escaped_in_html(renderer: ReplyRenderer) -> None:
    t = ticket("organisation", "ack", {"organisation_name": "{{ 7*7 }} <script>alert(1)</script>"})
    text, html = bodies(renderer.render(t, TARGET, OPEN_NOW))
    assert "{{ 7*7 }}" in text and "49" not in text
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_every_required_field_in_the_catalogue_has_guidance() -> None:
    from parsers.catalogue import REQUEST_TYPES

    fields = set()
    for rt in REQUEST_TYPES.values():
        fields.update(rt.required)
        for extra in rt.required_for_action.values():
            fields.update(extra)
    have = {p.name.removesuffix(".txt.j2") for p in (REPO / "templates" / "fields").iterdir()}
    assert sorted(fields - have) == []


def test_free_text_is_acknowledged_not_quoted_back(renderer: ReplyRenderer) -> None:
    prose = "The Child in Need Review for a named child went to the wrong team yesterday"
    t = ticket("person_record_change", "ack", {"workstep_id": "1", "explanation": prose})
    text, html = bodies(renderer.render(t, TARGET, OPEN_NOW))
    assert "Explanation: received (15 words)" in text
    assert "wrong team" not in text and "wrong team" not in html


def test_non_ascii_subject_is_encoded_and_survives_the_round_trip(renderer: ReplyRenderer) -> None:
    target = ReplyTarget(subject="Zmiana dostępu – rekord Łukasza " * 3, message_id=None,
                         references=(), recipients=("a@example.org",))
    data = reply_bytes(renderer.render(ticket("restricted_record", "ack"), target, OPEN_NOW))
    assert data.isascii() and all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")
    parsed = message_from_bytes(data, policy=default)
    assert parsed["Subject"] == f"Re: {target.subject.strip()} [MDHD-000123]"
    assert parsed.get_body(("plain",)).get_content().startswith("Dear Amy Jones,")


def test_bank_holiday_is_skipped_when_saying_when_we_open(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url,
                             '[helpdesk]\nclosed_dates = ["2027-03-26", "2027-03-29"]\n')
    renderer = ReplyRenderer(settings)
    thursday_evening = datetime(2027, 3, 25, 19, 0, tzinfo=timezone.utc)  # Good Friday next
    text, _ = bodies(renderer.render(ticket("how_do_i", "ack"), TARGET, thursday_evening))
    assert "picked up on Tuesday 30 March at 08:00" in text
    holiday_morning = datetime(2027, 3, 29, 10, 0, tzinfo=timezone.utc)  # Easter Monday
    assert "outside those hours" in bodies(
        renderer.render(ticket("how_do_i", "ack"), TARGET, holiday_morning))[0]
