"""helpdesk reparse on SQLite: tickets stored by a real cycle, then 'old parser' values in the
store; --dry-run lists and changes nothing, a real run fixes untouched tickets, keeps staff's,
reads follow-ups but not machine mail, records events and never queues a reply."""
from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import func, select

from worker.cli import main
from worker.pipeline import poll_once
from worker.store import OutboxItem, Ticket, TicketEvent

from tests.worker.worker_setup import (CORPUS, OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       make_ctx, make_settings, make_store, write_config)

FIRST_ID = "<DB9PE2MBDC2EDEFD07FB6D65@DB9PE2MBDC2E.eurprd03.prod.outlook.com>"


def _follow_up(message_id: str, body: str, auto: bool = False) -> bytes:
    head = "Auto-Submitted: auto-replied\r\n" if auto else ""
    return (f"From: \"Pritchard, Ellie\" <ellie.pritchard@example-council.gov.uk>\r\n"
            f"To: mosaic.helpdesk@example-council.gov.uk\r\nSubject: Re: Step sent to wrong team\r\n"
            f"Date: Tue, 16 Feb 2027 09:30:00 +0000\r\nMessage-ID: {message_id}\r\n"
            f"In-Reply-To: {FIRST_ID}\r\nReferences: {FIRST_ID}\r\n{head}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def _tickets(store) -> dict[str, Ticket]:
    with store.session() as session:
        return {t.type: t for t in session.exec(select(Ticket).order_by(Ticket.id))}


def _count(store, model, **where) -> int:
    with store.session() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return session.exec(query).one()


def _set(store, reference: str, **values) -> None:
    with store.session() as session:
        ticket = session.exec(select(Ticket).where(Ticket.reference == reference)).one()
        for name, value in values.items():
            setattr(ticket, name, value)
        session.add(ticket)


def test_reparse_dry_run_then_apply(tmp_path: Path, sqlite_url: str, capsys) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    ctx = make_ctx(settings)
    deliver(settings, *((CORPUS / f"{n}.eml").read_bytes() for n in (
        "001-add_address-foster-placement-clean", "005-worker_account-new-starter-clean",
        "038-person_record_change-documents-column-number")))
    poll_once(ctx, OPEN_NOW)
    # an auto-reply noted on the record-change ticket names a workstep: re-parse must not read it
    deliver(settings, _follow_up("<auto-1@example-council.gov.uk>",
                                 "I am out of the office. Workstep ID 55554444", auto=True))
    poll_once(ctx, OPEN_NOW)
    store = make_store(settings)
    stored = _tickets(store)
    address, starter, change = (stored["add_address"], stored["worker_account"],
                                stored["person_record_change"])
    assert change.missing == ["workstep_id"] and len(stored) == 3  # the auto-reply: a note
    # an older parser's view: wrong type and fields on one, a lost field on staff's one
    _set(store, address.reference, type="how_do_i", fields={"question": "x"}, missing=[],
         action="ack", status="ready")
    _set(store, starter.reference, fields={**starter.fields, "team": "Wrong Team"},
         edited_fields=["team"])
    replies = _count(store, OutboxItem)
    config = str(write_config(tmp_path, sqlite_url))

    assert main(["reparse", "--dry-run", "--config", config]) == 0
    out = capsys.readouterr().out
    assert f"{address.reference}  how_do_i -> add_address  would change" in out
    assert "postcode: - -> LN6 9TG" in out and starter.reference in out
    assert change.reference not in out  # the auto-reply's workstep was not read
    after = _tickets(store)
    assert "how_do_i" in after and after["worker_account"].fields["team"] == "Wrong Team"
    assert _count(store, TicketEvent, kind="reparsed_by_update") == 0

    assert main(["reparse", "--config", config]) == 0
    out = capsys.readouterr().out
    assert f"{starter.reference}  worker_account  NOT changed (staff_touched)" in out
    after = _tickets(store)
    fixed = after["add_address"]
    assert fixed.reference == address.reference and fixed.fields == address.fields
    assert (fixed.action, fixed.status, fixed.missing) == ("ack", "ready", [])
    assert after["worker_account"].fields["team"] == "Wrong Team"  # staff's edit kept
    assert after["person_record_change"].missing == ["workstep_id"]
    assert _count(store, TicketEvent, kind="reparsed_by_update") == 1
    assert _count(store, OutboxItem) == replies  # never a reply

    # the sender's follow-up is read: an 'old parser' that dropped its workstep is corrected
    deliver(settings, _follow_up("<reply-1@example-council.gov.uk>",
                                 "Sorry - the workstep ID is 7712345."))
    poll_once(ctx, OPEN_NOW)
    replies = _count(store, OutboxItem)
    _set(store, change.reference, fields=change.fields, missing=["workstep_id"],
         action="request_details", status="awaiting_details")
    assert main(["reparse", "--config", config, change.reference]) == 0
    assert "workstep_id: - -> 7712345" in capsys.readouterr().out
    final = _tickets(store)["person_record_change"]
    assert (final.missing, final.status) == ([], "ready")
    assert _count(store, OutboxItem) == replies
    # helpdesk show says which words on which line decided the type and each field
    assert main(["show", change.reference, "--config", config]) == 0
    shown = capsys.readouterr().out
    assert re.search(r"^  type: .*\(line \d+\): \"", shown, re.M)
    assert re.search(r"^  workstep_id: .*\(line \d+\): \".*7712345", shown, re.M)
    assert re.search(r"^  person_id: .*6012387", shown, re.M)


def test_reparse_of_unchanged_tickets_changes_nothing(tmp_path: Path, sqlite_url: str,
                                                      capsys) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    deliver(settings, *(p.read_bytes() for p in sorted(CORPUS.glob("0[0-2]*.eml"))))
    poll_once(make_ctx(settings), OPEN_NOW)
    assert main(["reparse", "--config", str(write_config(tmp_path, sqlite_url))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "0 differ" in out[0] and "re-read" in out[0]
