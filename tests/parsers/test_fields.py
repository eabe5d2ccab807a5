"""Field finders against the traps people's mail sets: phones, NHS numbers, dates, postcodes, references."""
from __future__ import annotations

from datetime import date

import pytest

from parsers import mask_sensitive
from parsers.dates import find_dates
from parsers.fields import find_address, find_postcode, person_names
from parsers.ids import find_person_id, find_person_ids, find_workstep_id
from parsers.sensitive import is_nhs_number, sensitive_kinds


@pytest.mark.parametrize("text, want", [
    ("PID 889120 pls", "889120"),
    ("Mosaic ID: 2049113", "2049113"),
    ("person no. 30017745, starting", "30017745"),
    ("client ID 2987610 restricted", "2987610"),
    ("Person ID 1457730, work step 98766102", "1457730"),
    ("the person ID is 4455667", "4455667"),
    ("Mosaic number 7788990 please", "7788990"),
])
def test_labelled_person_ids(text: str, want: str) -> None:
    assert find_person_id(text) == want


@pytest.mark.parametrize("text", [
    "call me on 01522 555178 or 07700 900342",
    "NHS no 612 334 9087, DOB 12/03/1941",
    "His NHS number if it helps: 4011234567",
    "INC0048812 was closed; police ref 22/004917/27; collar DS 4471",
    "Re: [MDHD-000123] your ticket, ref MDHD-000124",
    "Room 2.14, County Offices, LN1 9ZX",
    "Ofsted URN SC498213, DfE number 925/2214, company number 10293847",
    "The number showing in the documents column next to it is 312",
])
def test_traps_are_never_person_or_workstep_ids(text: str) -> None:
    assert find_person_ids(text) == []
    assert find_workstep_id(text) is None


@pytest.mark.parametrize("text, want", [
    ("ws 203948571 locked??", "203948571"),
    ("Step ID 55120934 is locked", "55120934"),
    ("Work step 9081726 (Adult Care Review)", "9081726"),
    ("(workstep 61234590) for person ID 2231875", "61234590"),
    ("the workstep ID is 58812340 (I got it from the work history icon)", "58812340"),
    ("WS: 45566778", "45566778"),
    ("step id 34400981 is locked", "34400981"),
])
def test_workstep_ids(text: str, want: str) -> None:
    assert find_workstep_id(text) == want


def test_bare_step_with_a_small_number_is_not_a_workstep() -> None:
    assert find_workstep_id("I am on step 3 of the assessment") is None


def test_id_lists_and_tables() -> None:
    assert find_person_ids("Mosaic IDs 4410982 and 4432107") == ["4410982", "4432107"]
    table = "Mosaic ID   Created      Created by\n5098213     03/03/2021   Front Door\n5561904     19/08/2024   YOS\n"
    assert find_person_ids(table) == ["5098213", "5561904"]


@pytest.mark.parametrize("text, want", [
    ("Postcode: ln6 9tg", "LN6 9TG"),
    ("Lincoln LN69TG", "LN6 9TG"),
    ("it's ec1a1bb", "EC1A 1BB"),
    ("W1A 0AX", "W1A 0AX"),
    ("no postcode here, just 01522 555178", None),
])
def test_postcodes_are_normalised(text: str, want: str | None) -> None:
    assert find_postcode(text) == want


@pytest.mark.parametrize("text, ref, want", [
    ("from Monday 4th Jan", date(2026, 12, 30), date(2027, 1, 4)),
    ("moved in on 18th Jan", date(2027, 1, 19), date(2027, 1, 18)),
    ("starting 01/02/2027.", date(2027, 1, 25), date(2027, 2, 1)),
    ("from next Monday", date(2027, 2, 10), date(2027, 2, 15)),
    ("on 3rd of March", date(2027, 2, 10), date(2027, 3, 3)),
    ("Feb 1, 2027", date(2027, 1, 1), date(2027, 2, 1)),
    ("15.02.27", date(2027, 2, 1), date(2027, 2, 15)),
])
def test_dates_uk_day_first_and_nearest_year(text: str, ref: date, want: date) -> None:
    assert [d.value for d in find_dates(text, ref)] == [want]


def test_addresses_in_the_forms_people_write() -> None:
    assert find_address("Address: 14 Willow Close, North Hykeham, Lincoln") == "14 Willow Close, North Hykeham, Lincoln"
    assert find_address("pls - 3 Chapel Row, Kirton, Boston. its temporary") == "3 Chapel Row, Kirton, Boston"
    block = "The address is:\n\nFlat 2, Mercer House\n41 Spital Street\nGainsborough\nDN21 2PL\n"
    assert find_address(block) == "Flat 2, Mercer House, 41 Spital Street, Gainsborough"


def test_names_keep_titles_and_skip_greetings() -> None:
    assert [n for n, _ in person_names("Could Dr Helena Marsh be added")] == ["Dr Helena Marsh"]
    assert [n for n, _ in person_names("Good afternoon, Neil's request")] == []


def test_nhs_check_digit_and_masking() -> None:
    assert is_nhs_number("4011234567")
    assert not is_nhs_number("4011234568")
    masked = mask_sensitive("NHS no 612 334 9087 and 4011234567, NI AB 12 34 56 C, tel 01522 555123")
    assert "9087" not in masked and "4011234567" not in masked and "*087" in masked and "*567" in masked
    assert "AB 12 34 56 C" not in masked and "01522 555123" in masked


def test_sensitive_kinds() -> None:
    assert sensitive_kinds("DOB 02/11/1938, NHS no 485 777 3456") == ("nhs_number", "date_of_birth")
    assert sensitive_kinds("please add PID 1234567") == ()


def test_without_a_date_header_only_dated_text_is_read() -> None:
    """The parser never reads the clock: year-less and relative dates need the Date header."""
    assert [d.value for d in find_dates("from Monday 4th Jan, 01/02/2027, tomorrow", None)] == [date(2027, 2, 1)]


def test_the_new_postcode_not_the_old_one() -> None:
    from parsers.extract_records import _new_postcode

    assert _new_postcode("She has moved from 1 Old Road, Louth LN11 1AA to 5 New Road, Lincoln LN2 2BB") == "LN2 2BB"
    assert _new_postcode("New address: 5 New Road, Lincoln LN2 2BB") == "LN2 2BB"


def test_names_with_lower_case_particles_and_not_organisations() -> None:
    assert [n for n, _ in person_names("Please add Sam de Souza as a new starter")] == ["Sam de Souza"]
    assert [n for n, _ in person_names("a new social prescriber at Nettleham Medical Practice")] == []
