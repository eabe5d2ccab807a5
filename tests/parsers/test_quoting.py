"""Request text: quoted history in several mail clients and languages, signatures, footers, forwards."""
from __future__ import annotations

import pytest

from parsers import ParseOptions, parse

HEAD = "From: Ann Lee <ann.lee@example-council.gov.uk>\nSubject: {subject}\nDate: Mon, 1 Mar 2027 10:00:00 +0000\n\n"
REQUEST = "Step ID 55120934 is locked - it says Paula Greaves is already working in this step."
OLD = "ws 11112222 is locked too"


def _parse(subject: str, body: str):
    return parse((HEAD.format(subject=subject) + body).encode(), ParseOptions())


@pytest.mark.parametrize("quote", [
    "From: Lee, Ann\nSent: 01 March 2027 09:00\nTo: Helpdesk\nSubject: step\n\n" + OLD,
    "-----Original Message-----\nFrom: Lee, Ann\nSent: 01 March 2027 09:00\nSubject: step\n\n" + OLD,
    "On Mon, 1 Mar 2027 at 09:00, Ann Lee <\nann.lee@example-council.gov.uk> wrote:\n\n> " + OLD,
    "Von: Lee, Ann\nGesendet: Montag, 1. März 2027 09:00\nAn: Helpdesk\nBetreff: Schritt\n\n" + OLD,
    "De : Lee, Ann\nEnvoyé : lundi 1 mars 2027 09:00\nÀ : Helpdesk\nObjet : étape\n\n" + OLD,
    "Am 01.03.2027 um 09:00 schrieb Ann Lee <ann.lee@example-council.gov.uk>:\n> " + OLD,
])
def test_quoted_history_is_not_read(quote: str) -> None:
    result = _parse("RE: step", f"{REQUEST}\n\nAnn\n\n{quote}\n")
    assert "11112222" not in result.request_text
    [request] = result.requests
    assert request.fields["workstep_id"] == "55120934"


@pytest.mark.parametrize("body", [
    "On Mon, 1 Mar 2027 at 09:00, Helpdesk <helpdesk@example-council.gov.uk> wrote:\n> " + OLD + "\n\n" + REQUEST,
    "> Which step?\n" + REQUEST + "\n> " + OLD + "\n",
])
def test_bottom_posted_and_interleaved_replies(body: str) -> None:
    result = _parse("Re: step", body)
    assert REQUEST in result.request_text and "11112222" not in result.request_text


def test_a_forward_is_read_with_the_request_it_carries() -> None:
    body = ("Please see below.\n\nKim\n\n---------- Forwarded message ---------\nFrom: Neil Corr <n.corr@example.org>\n"
            "Date: Mon, 1 Mar 2027 at 09:00\nSubject: lock\nTo: Kim\n\n" + REQUEST + "\n\nNeil\n")
    result = _parse("Fwd: lock", body)
    assert REQUEST in result.request_text
    assert result.requests[0].fields["locked_by"] == "Paula Greaves"


def test_signature_and_footer_are_separated_and_give_the_requester() -> None:
    body = (REQUEST + "\n\nKind regards\nAnn\n\nAnn Lee\nSocial Worker | Fostering Team (Lincoln)\nT: 01522 555178\n\n"
            "This email and any files sent with it are confidential and intended solely for the addressee.\n"
            "Workstep 99999999 is mentioned in a footer for some reason.\n")
    result = _parse("lock", body)
    assert "01522" not in result.request_text and "confidential" not in result.request_text
    [request] = result.requests
    assert request.requester.team == "Fostering Team (Lincoln)"
    assert request.requester.phone == "01522 555178"
    assert request.fields["workstep_id"] == "55120934"


def test_a_name_sharing_the_senders_first_name_is_not_a_signature() -> None:
    body = ("New starter please:\n\nSam Brown\nJob title: Social Worker\nTeam: CIN Team Lincoln\n"
            "Start date: 01/04/2027\n\nThanks\nSam\n\nSam Lord\nTeam Manager\n")
    result = parse(("From: Sam Lord <sam.lord@example-council.gov.uk>\nSubject: New starter\n"
                    "Date: Mon, 1 Mar 2027 10:00:00 +0000\n\n" + body).encode(), ParseOptions())
    [request] = result.requests
    assert "Start date" in result.request_text and "Team Manager" not in result.request_text
    assert request.fields.get("job_title") == "Social Worker"


def test_a_signature_card_without_a_sign_off_is_still_a_signature() -> None:
    body = ("Please add a new address for PID 1234567: 4 Hill Rise, Louth. I do not know the postcode.\n\n"
            "Ann Lee\nSocial Worker, Adult Care\nCounty Offices, Newland, Lincoln LN1 1YL\n01522 555123\n")
    result = parse(("From: ann.lee@example-council.gov.uk\nSubject: address\nDate: Tue, 2 Mar 2027 10:00:00 +0000\n\n"
                    + body).encode(), ParseOptions())
    [request] = result.requests
    assert request.missing == ("postcode",)  # the office postcode in the card is not the new address's
    assert request.requester.phone == "01522 555123"
