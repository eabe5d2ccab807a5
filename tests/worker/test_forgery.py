"""Threading cannot be forged: mail naming a ticket joins it only from its conversation; anyone
else opens a new ticket linked to the named one, shown by `helpdesk show`."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.worker.policy_setup import mail, parsed, reply_to, state
from tests.worker.worker_setup import (OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       make_ctx, make_settings, write_config)
from worker.cli import main
from worker.pipeline import poll_once

REQUESTER = "Ellie Pritchard <ellie.pritchard@example-council.gov.uk>"
ORIGINAL_BODY = "Please can you remove the lock on this step? Thanks."  # workstep_id missing


def _open_ticket(ctx, cc: str | None = None) -> tuple[bytes, bytes]:
    original = mail(ORIGINAL_BODY, sender=REQUESTER, subject="Step locked",
                    headers={"Cc": cc} if cc else None)
    deliver(ctx.settings, original)
    poll_once(ctx, OPEN_NOW)
    tickets, outbox, _ = state(ctx)
    assert [t.status for t in tickets] == ["awaiting_details"]
    return original, outbox[0].data


@pytest.mark.parametrize("how", ["thread_headers", "reference_in_subject"])
def test_outsider_naming_a_ticket_opens_a_linked_ticket(tmp_path: Path, db_url: str,
                                                         how: str) -> None:
    ctx = make_ctx(make_settings(tmp_path, db_url))
    original, ours = _open_ticket(ctx)
    body = "The workstep is 4455667 and it is locked by Sam Jones."
    if how == "thread_headers":
        forged = reply_to(original, ours, body, sender="Mallory <mallory@elsewhere.example>")
    else:
        forged = mail(body, sender="Mallory <mallory@elsewhere.example>",
                      subject=f"Re: {parsed(ours)['Subject']}")
    deliver(ctx.settings, forged)

    report = poll_once(ctx, OPEN_NOW)

    assert [o.outcome for o in report.outcomes] == ["new"]
    tickets, outbox, links = state(ctx)
    named, new = tickets
    assert (named.status, named.missing) == ("awaiting_details", ["workstep_id"])  # untouched
    assert "workstep_id" not in named.fields
    assert new.linked_ticket_id == named.id and new.requester_email == "mallory@elsewhere.example"
    assert sorted(link.ticket_id for link in links) == [named.id, new.id]
    # the outsider's reply names only the new ticket
    answer = parsed(outbox[-1].data)
    assert outbox[-1].recipient == "mallory@elsewhere.example"
    assert new.reference in answer["Subject"] and named.reference not in answer["Subject"]


def test_someone_copied_on_the_conversation_joins_it(tmp_path: Path, sqlite_url: str) -> None:
    ctx = make_ctx(make_settings(tmp_path, sqlite_url))
    original, ours = _open_ticket(ctx, cc="Sam Jones <sam.jones@example-council.gov.uk>")
    deliver(ctx.settings, reply_to(original, ours, "The workstep ID is 4455667.",
                                   sender="Sam Jones <sam.jones@example-council.gov.uk>"))
    report = poll_once(ctx, OPEN_NOW)
    assert [o.outcome for o in report.outcomes] == ["follow_up"]
    tickets, _, _ = state(ctx)
    assert len(tickets) == 1 and tickets[0].fields.get("workstep_id") == "4455667"


def test_requester_address_failing_dmarc_cannot_join(tmp_path: Path, sqlite_url: str,
                                                      capsys) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    original, ours = _open_ticket(ctx)
    spoof = reply_to(original, ours, "The workstep is 4455667.", extra={
        "Authentication-Results": "mx.example-council.gov.uk; spf=fail "
        "smtp.mailfrom=example-council.gov.uk; dkim=none; dmarc=fail (p=quarantine) "
        "header.from=example-council.gov.uk"})
    deliver(settings, spoof)

    report = poll_once(ctx, OPEN_NOW)

    assert [o.outcome for o in report.outcomes] == ["new"]
    named, new = state(ctx)[0]
    assert named.missing == ["workstep_id"]
    assert new.external and new.status == "triage" and new.linked_ticket_id == named.id
    assert new.auth_failures == ["spf=fail", "dmarc=fail"]
    assert main(["show", new.reference, "--config", str(settings.path)]) == 0
    shown = capsys.readouterr().out
    assert "EXTERNAL sender: authentication spf=fail, dmarc=fail" in shown
    assert f"linked to: {named.reference}" in shown
