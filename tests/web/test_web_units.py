"""Pure pieces of the web app: field validation, sanitising, highlighting, export labels, paging."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from worker.store import Ticket
from worker.web.export import label_of
from worker.web.fields import FieldError, parse_value
from worker.web.queue import age_text, format_cursor, parse_cursor
from worker.web.render import highlight, needles_of, sanitise_html
from worker.web.search import keys_of, reference_of
from worker.web.pages import content_disposition


@pytest.mark.parametrize("name, text, expected", [
    ("workstep_id", " 55 443 322 ", "55443322"),
    ("person_id", "1234567", "1234567"),
    ("postcode", "ln1 1aa", "LN1 1AA"),
    ("postcode", "pe252lx", "PE25 2LX"),
    ("postcode", "SW1A 2AA", "SW1A 2AA"),
    ("start_date", "2027-02-28", "2027-02-28"),
    ("start_date", "28/02/2027", "2027-02-28"),
    ("end_date", "1.3.2027", "2027-03-01"),
    ("person_ids", "2201456, 2209981 2201456", ["2201456", "2209981"]),
    ("worker_email", "Tom.Nowak@Example-Council.gov.uk", "tom.nowak@example-council.gov.uk"),
    ("policy_read", "Yes", True),
    ("changes", "surname: Okafor\nPhone: 01522 555123", {"surname": "Okafor",
                                                          "phone": "01522 555123"}),
    ("access", "Fostering Team South; Kate Moore", ["Fostering Team South", "Kate Moore"]),
    ("locked_by", "  Sam   Lord ", "Sam Lord"),
    ("locked_by", "   ", None),
])
def test_staff_values_are_normalised_like_parsed_ones(name, text, expected):
    assert parse_value("worker_details" if name == "changes" else "remove_lock", name,
                       text) == expected


@pytest.mark.parametrize("name, text", [
    ("workstep_id", "12ab34"), ("workstep_id", "WS-55443322"), ("person_id", "12"),
    ("postcode", "LN1"), ("postcode", "12345"), ("postcode", "LN1 1AAA"),
    ("start_date", "2027-02-30"), ("start_date", "31/04/2027"), ("end_date", "next friday"),
    ("person_ids", "2201456"), ("person_ids", "2201456, 2201456"),
    ("worker_email", "not an address"), ("policy_read", "maybe"),
    ("changes", "surname Okafor"), ("changes", "shoe_size: 9"), ("phone", "call me"),
])
def test_values_the_parser_would_never_produce_are_refused(name, text):
    with pytest.raises(FieldError):
        parse_value("worker_details", name, text)


def test_choices_are_checked_per_type():
    assert parse_value("worker_account", "action", "Dual role") == "dual_role"
    with pytest.raises(FieldError):
        parse_value("organisation", "action", "dual_role")


def test_sanitised_html_keeps_text_and_drops_everything_active():
    html = ('<p style="background:url(http://x.example/a.png)" onclick="steal()">Hello '
            '<b>there</b></p><script>alert(1)</script><img src="https://x.example/t.gif">'
            '<img src="data:image/png;base64,iVBORw0KGgo=" alt="ok"><a href="javascript:alert(1)">'
            'j</a><a href="https://docs.example/help">help</a><form action="/x"><input></form>'
            '<style>p{color:red}</style><iframe src="https://x.example"></iframe>')
    clean = str(sanitise_html(html))
    for bad in ("script", "onclick", "style", "url(", "x.example", "javascript", "<form",
                "<input", "<iframe", "alert"):
        assert bad not in clean
    assert "Hello <b>there</b>" in clean
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in clean
    assert 'href="https://docs.example/help"' in clean and "noopener" in clean


def test_highlight_escapes_the_text_and_marks_each_source():
    text = "Workstep ID: 55443322 <script>x</script>\nplease remove   the\nlock"
    needles = needles_of({"workstep_id": "55443322"},
                         [{"target": "type", "text": "remove the lock", "line": 2}])
    out = str(highlight(text, needles))
    assert '<mark class="source" title="workstep_id">55443322</mark>' in out
    assert '<mark class="source" title="type">remove   the\nlock</mark>' in out  # rewrapped
    assert "&lt;script&gt;x&lt;/script&gt;" in out and "<script>" not in out


def test_a_hostile_needle_cannot_inject_markup():
    out = str(highlight('say "<b>', [('x" onmouseover="1', '"<b>')]))
    assert "<b>" not in out and 'onmouseover="1"' not in out


def test_export_label_judges_staff_values_against_the_first_message():
    ticket = Ticket(type="remove_lock", action="ack", status="ready",
                    fields={"workstep_id": "55443322", "locked_by": "Sam Lord"},
                    edited_fields=["workstep_id"])
    in_text = label_of(ticket, "The step 55 443 322 is locked by sam lord.")
    assert in_text == {"type": "remove_lock", "action": "ack",
                       "fields": {"workstep_id": "55443322", "locked_by": "Sam Lord"},
                       "missing": []}
    phoned_in = label_of(ticket, "A step is locked by Sam Lord, can you help?")
    assert phoned_in["fields"] == {"locked_by": "Sam Lord"}
    assert (phoned_in["action"], phoned_in["missing"]) == ("request_details", ["workstep_id"])


def test_search_keys_and_references():
    keys = keys_of({"person_ids": ["2201456", "2209981"], "keep_person_id": "2201456",
                    "workstep_id": "61234590"}, "A.Jones@Example.gov.uk", "Amy  Jones")
    assert {("id", "2201456"), ("id", "2209981"), ("workstep", "61234590"),
            ("requester", "a.jones@example.gov.uk"), ("requester", "a.jones"),
            ("requester", "amy jones"), ("requester", "jones")} <= keys
    assert reference_of("[mdhd-123]", "MDHD") == "MDHD-000123"
    assert reference_of("MDHD 000045", "MDHD") == "MDHD-000045"
    assert reference_of("1234567", "MDHD") is None


def test_cursor_round_trip_and_ages():
    when = datetime(2027, 2, 16, 9, 5, tzinfo=timezone.utc)
    assert parse_cursor(format_cursor(when, 42)) == (when, 42)
    assert parse_cursor("garbage") is None and parse_cursor("2027-02-16T09:05:00_x") is None
    assert age_text(when, when + timedelta(days=3, hours=4, minutes=9)) == "3 d 4 h"
    assert age_text(when, when + timedelta(minutes=75)) == "1 h 15 m"


def test_downloads_are_attachments_with_a_safe_name():
    header = content_disposition('..\\..\\evil "page".html')
    assert header.startswith('attachment; filename="')
    ascii_name = header.split('"')[1]
    assert "\\" not in ascii_name and '"' not in ascii_name and "/" not in ascii_name
    assert "filename*=UTF-8''" in header


def test_marks_whole_words_and_address_lines():
    text = "Trentside Homes say her home is\nFlat 2, Mercer House\n41 Spital Street\nGainsborough"
    needles = needles_of({"address_type": "home",
                          "address": "Flat 2, Mercer House, 41 Spital Street, Gainsborough"}, [])
    out = str(highlight(text, needles))
    assert "Homes" in out and ">Homes<" not in out
    assert '<mark class="source" title="address_type">home</mark> is' in out
    for part in ("Flat 2", "Mercer House", "41 Spital Street", "Gainsborough"):
        assert f'<mark class="source" title="address">{part}</mark>' in out
