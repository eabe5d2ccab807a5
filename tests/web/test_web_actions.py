"""Staff actions on tickets the real worker filed: corrections keep the parser's values, re-parse
keeps staff edits, replies go through the worker's outbox, refusals change nothing."""
from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_bytes

import pytest
from sqlmodel import select

from worker.store import OutboxItem, ticket_by_reference
from worker.web import actions
from worker.web.outgoing import ReplyError

REF = "MDHD-000001"


def now() -> datetime:
    return datetime.now(timezone.utc)


def test_filling_a_missing_field_completes_the_ticket_and_rerun_keeps_it(web_env):
    web_env.deliver_and_poll("030-remove_lock-urgent-no-workstep.eml")
    with web_env.store.session() as session:
        t = ticket_by_reference(session, REF)
        assert (t.type, t.status, t.missing) == ("remove_lock", "awaiting_details", ["workstep_id"])
        parsed = dict(t.parsed_fields)
        errors = actions.edit_fields(session, t, {"workstep_id": "WS 12"}, "alice", now())
        assert set(errors) == {"workstep_id"} and t.missing == ["workstep_id"]
        assert actions.edit_fields(session, t, {"workstep_id": "61234590"}, "alice", now()) == {}
        assert (t.status, t.action, t.missing) == ("ready", "ack", [])
        assert actions.rerun_parser(session, t, web_env.settings, "alice", now())
        assert t.fields["workstep_id"] == "61234590"  # staff's value survives the parser
        assert t.parsed_fields == parsed and "workstep_id" not in t.parsed_fields
        assert (t.status, t.missing) == ("ready", [])


def test_staff_replies_are_queued_in_the_worker_outbox(web_env):
    web_env.deliver_and_poll("030-remove_lock-urgent-no-workstep.eml")
    with web_env.store.session() as session:
        t = ticket_by_reference(session, REF)
        actions.send_reply(session, t, "request_details", web_env.settings, "bob", now())
        actions.send_reply(session, t, "staff_reply", web_env.settings, "bob", now(),
                           "We have unlocked it.\n\nPlease <b>check</b> again.")
        with pytest.raises(ReplyError):
            actions.send_reply(session, t, "staff_reply", web_env.settings, "bob", now(), "  ")
    with web_env.store.session() as session:
        items = list(session.exec(select(OutboxItem).order_by(OutboxItem.id)))
    assert [i.kind for i in items] == ["request_details", "request_details", "staff_reply"]
    assert all(i.status == "pending" and i.recipients == ["holly.maddox@example-council.gov.uk"]
               for i in items)
    free = message_from_bytes(items[-1].data)
    assert free["In-Reply-To"] and REF in free["Subject"]
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in free.walk()
             if not p.is_multipart()}
    assert "We have unlocked it." in parts["text/plain"]
    assert "&lt;b&gt;check&lt;/b&gt;" in parts["text/html"]  # staff text is data, escaped
    assert "Please" in parts["text/html"]


def test_refused_actions_change_nothing(web_env):
    web_env.deliver_and_poll("030-remove_lock-urgent-no-workstep.eml")
    with web_env.store.session() as session:
        t = ticket_by_reference(session, REF)
        before = (t.type, t.status, t.assignee, dict(t.fields))
        for call in (lambda: actions.change_type(session, t, "no_such_type", "alice", now()),
                     lambda: actions.set_status(session, t, "deleted", "alice", now()),
                     lambda: actions.assign(session, t, "mallory", "alice", now()),
                     lambda: actions.add_note(session, t, "   ", "alice", now())):
            with pytest.raises(actions.ActionError):
                call()
        assert (t.type, t.status, t.assignee, dict(t.fields)) == before
        t.missing = []
        with pytest.raises(ReplyError):  # nothing to ask for
            actions.send_reply(session, t, "request_details", web_env.settings, "alice", now())
