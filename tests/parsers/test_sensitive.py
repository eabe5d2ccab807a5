"""Sensitive data is flagged per request; worker and professional names are not sensitive."""
from __future__ import annotations

import pytest

from parsers import ParseOptions, parse

HEAD = "From: Ann Lee <ann.lee@example-council.gov.uk>\nSubject: {subject}\nDate: Mon, 1 Mar 2027 10:00:00 +0000\n\n"


def _request(body: str, subject: str = "request"):
    [request] = parse((HEAD.format(subject=subject) + body).encode(), ParseOptions()).requests
    return request


@pytest.mark.parametrize("body, kind", [
    ("Please add the address for Leo Smith (PID 1234567): 3 Mill Lane, Louth LN11 0AA", "service_user_name"),
    ("New address for Mrs Edna Fairclough, PID 1234567: 3 Mill Lane, Louth LN11 0AA", "service_user_name"),
    ("New address for PID 1234567, DOB 02/11/1938: 3 Mill Lane, Louth LN11 0AA", "date_of_birth"),
    ("New address for PID 1234567 (NHS no 943 476 5919): 3 Mill Lane, Louth LN11 0AA", "nhs_number"),
    ("New address for PID 1234567, NI number JT 12 34 56 C: 3 Mill Lane, Louth LN11 0AA", "ni_number"),
])
def test_sensitive_kinds_are_flagged(body: str, kind: str) -> None:
    assert kind in _request(body).sensitive


def test_professional_and_worker_names_are_not_sensitive() -> None:
    assert _request("Could Dr Helena Marsh be added as a professional please? She's a GP at Welland "
                    "Surgery.").sensitive == ()
    assert _request("Step ID 55120934 is locked - it says Paula Greaves is already working in this "
                    "step.").sensitive == ()


def test_professional_whose_organisation_may_be_missing_gets_the_note() -> None:
    note = "organisation_request_needed"
    assert note in _request("Please add Jo Rowe, a health visitor at Abbey Health Centre, as a professional. "
                            "I couldn't find Abbey Health Centre on Mosaic.").notes
    assert note not in _request("Please add Jo Rowe, a health visitor at Abbey Health Centre, as a professional. "
                                "The centre is already on Mosaic.").notes
