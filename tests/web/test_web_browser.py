"""End to end in headless Chromium: a staff member fixes a triaged ticket and the reply goes out;
hostile mail renders inert (no script runs, nothing is fetched from elsewhere)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy

from sqlmodel import select

from worker.edges import make_transport
from worker.outbox import send_pending
from worker.staff import AuditEntry
from worker.store import OutboxItem, Ticket

from web_setup import ARTIFACTS, PASSWORD

REF = "MDHD-000001"


def _log_in(page, base: str, name: str = "alice") -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_staff_fix_a_triaged_ticket_and_the_ack_reaches_smtp(browser, web_env, live_server,
                                                             smtp_server):
    web_env.deliver_and_poll("h18-triage-vague-help.eml")
    web_env.deliver_and_poll("001-add_address-foster-placement-clean.eml",
                             "030-remove_lock-urgent-no-workstep.eml",
                             "061-triage-call-me-about-family.eml",
                             "041-design_change-case-note-type-value.eml")
    base = live_server.url
    context = browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        _log_in(page, base)
        page.click("nav.tabs a[data-status=triage]")
        page.wait_for_url(f"{base}/?status=triage")
        row = page.locator("table.queue tbody tr", has_text=REF)
        assert row.count() == 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-queue.png"), full_page=True)

        page.click(f"text={REF}")
        page.wait_for_url(f"{base}/tickets/{REF}")
        assert "can you ring me" in page.locator("article.msg.in pre.body").inner_text()

        page.select_option("select[name=type]", "remove_lock")
        page.click("button:has-text('Change type')")
        assert page.locator(".flash").inner_text() == "Type changed."
        assert page.locator(".missing-field").all_inner_texts() == ["Workstep ID"]

        page.fill("#f-workstep_id", "55 443 322")
        page.click("button:has-text('Save fields')")
        assert page.locator(".flash").inner_text() == "Fields saved."
        assert page.locator("#f-workstep_id").input_value() == "55443322"
        assert page.locator(".complete").count() == 1

        page.click("button:has-text('Send acknowledgement')")
        assert "Reply queued" in page.locator(".flash").inner_text()
        page.select_option("form[action$='/status'] select", "resolved")
        page.click("button:has-text('Set status')")
        assert page.locator("h1 .status").inner_text() == "resolved"
        page.screenshot(path=str(ARTIFACTS / "web-ticket.png"), full_page=True)
        shown_audit = page.locator("section.audit tbody").inner_text()
    finally:
        context.close()

    with web_env.store.session() as session:
        ticket = session.exec(select(Ticket).where(Ticket.reference == REF)).one()
        assert (ticket.type, ticket.status, ticket.action) == ("remove_lock", "resolved", "ack")
        assert ticket.fields == {"workstep_id": "55443322"}
        assert ticket.parsed_fields == {}  # what the parser said is kept beside the correction
        assert ticket.edited_fields == ["workstep_id"]
        staff_ack = session.exec(select(OutboxItem).where(OutboxItem.ticket_id == ticket.id,
                                                          OutboxItem.kind == "ack")).one()
        trail = [(e.actor, e.action, e.field, e.old_value, e.new_value) for e in session.exec(
            select(AuditEntry).where(AuditEntry.ticket_id == ticket.id).order_by(AuditEntry.id))]
    steps = [t for t in trail if t[1] != "view"]
    assert ("alice", "change_type", "type", "unknown", "remove_lock") in steps
    assert ("alice", "edit_field", "workstep_id", None, "55443322") in steps
    assert ("alice", "queue_reply", "ack", None, staff_ack.message_id) in steps
    assert ("alice", "change_status", "status", "ready", "resolved") in steps
    assert [s[1] for s in steps].index("change_type") < [s[1] for s in steps].index("edit_field")
    assert sum(1 for t in trail if t[1] == "view") >= 4  # every showing of the ticket
    for action in ("change type", "edit field", "queue reply", "change status", "view"):
        assert action in shown_audit

    report = send_pending(web_env.store, make_transport(web_env.settings), web_env.settings,
                         datetime.now(timezone.utc) + timedelta(minutes=5))
    assert report.error is None and report.sent >= 1
    acks = [m for m in smtp_server.received
            if message_from_bytes(m.data)["Message-ID"] == staff_ack.message_id]
    assert len(acks) == 1
    assert acks[0].recipients == ["sue.dale@example-council.gov.uk"]
    mail = message_from_bytes(acks[0].data, policy=default_policy)
    assert REF in str(mail["Subject"])
    assert mail["In-Reply-To"] == "<h18-triage-vague-help@example-council.gov.uk>"
    assert "55443322" in mail.get_body(preferencelist=("plain",)).get_content()


def test_hostile_mail_renders_inert_in_the_browser(browser, web_env, live_server):
    web_env.deliver_and_poll("hostile-html-subject-script.eml")
    base = live_server.url
    context = browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        _log_in(page, base)
        page.goto(f"{base}/tickets/{REF}")
        page.click("details.original summary")
        page.locator(".html-body").wait_for(state="visible")
        page.click("#jslink, .html-body a:has-text('click me')")
        page.wait_for_load_state("load")

        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.evaluate("document.scripts.length") == 0
        handlers = page.evaluate("""() => [...document.querySelectorAll('*')].flatMap(
            el => [...el.attributes].map(a => a.name)).filter(n => n.startsWith('on'))""")
        assert handlers == []
        sources = page.evaluate("[...document.images].map(i => i.getAttribute('src'))")
        assert all(s is None or s.startswith("data:") for s in sources)
        assert page.locator(".html-body form, .html-body iframe, .html-body object").count() == 0
        body_text = page.locator("body").inner_text()
        assert "<script>window.__pwned='subject'</script>" in body_text  # shown, as text
        assert "<script>window.__pwned='text'</script>" in body_text

        link = page.locator("ul.attachments a").first
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename.endswith(".html")
        assert "/" not in download.value.suggested_filename
        headers = context.request.get(base + link.get_attribute("href")).headers
        assert headers["content-type"] == "application/octet-stream"
        assert headers["content-disposition"].startswith("attachment;")
        assert headers["x-content-type-options"] == "nosniff"
    finally:
        context.close()
    remote = [u for u in requests if not u.startswith(base)]
    assert remote == []
    assert f"{base}/static/app.css" in requests  # the request log really records requests
