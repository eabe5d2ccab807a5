"""Request handlers: login, queue, ticket page, attachment download, ticket actions."""
from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from sqlalchemy import select

from ..staff import (account_names, audit, check_login, end_sessions, login_wait,
                     recent_audit)
from ..store import Ticket, ticket_by_reference
from . import actions
from .app import WebState, flash, redirect, render, staff_only, web
from .fields import all_types
from .outgoing import ReplyError
from .queue import COUNT_CAP, STATUSES, QueueFilter, parse_cursor, queue_page
from .search import needs_keys
from .security import CSRF_FIELD, csrf_ok
from .ticket_view import attachment_of, ticket_page

log = logging.getLogger(__name__)

_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._ -]+")
AUDIT_PAGE = 100


# -- login ---------------------------------------------------------------------------------

async def login_form(request: Request) -> Response:
    if request.session.get("staff"):
        return redirect("/")
    return render(request, "login.html.j2", {"error": None, "name": ""})


def _try_login(state: WebState, name: str, password: str,
               address: str) -> tuple[tuple[str, int] | None, float]:
    """((name, session epoch) or None, seconds still to wait before trying)."""
    now = state.now()
    with state.store.session() as session:
        wait = login_wait(session, name, address, now)
        if wait > 0:
            return None, wait
        account = check_login(session, name, password, address, now)
        return ((account.name, account.session_epoch) if account else None), 0.0


async def login(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return Response("The form has expired: reload the page and try again.", status_code=403,
                        media_type="text/plain")
    name = str(form.get("name") or "")[:64]
    password = str(form.get("password") or "")[:1024]
    address = request.client.host if request.client else "unknown"
    staff, wait = await run_in_threadpool(_try_login, web(request), name, password, address)
    if wait > 0:
        response = render(request, "login.html.j2", {
            "error": f"Too many failed attempts: wait {int(wait) + 1} seconds and try again.",
            "name": name}, status=429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    if staff is None:
        return render(request, "login.html.j2",
                      {"error": "That name and password do not match an account.",
                       "name": name}, status=401)
    request.session.clear()  # a fresh session (and CSRF token) for the logged-in staff member
    request.session["staff"], request.session["epoch"] = staff
    log.info("staff login")
    return redirect("/")


def _end_sessions(state: WebState, staff: str) -> None:
    with state.store.session() as session:
        end_sessions(session, staff)


@staff_only
async def logout(request: Request) -> Response:
    """Ends every session of this account: a copied cookie is refused from now on too."""
    await run_in_threadpool(_end_sessions, web(request), request.state.staff)
    request.session.clear()
    return redirect("/login")


# -- queue ---------------------------------------------------------------------------------

def _queue(state: WebState, f: QueueFilter, staff: str) -> dict[str, Any]:
    now = state.now()
    prefix = state.settings.helpdesk.reference_prefix
    if needs_keys(f.q, prefix):
        state.search.sync(now)
    with state.store.session() as session:
        if f.q:
            audit(session, staff, None, "search", now, new=f.q)
        page = queue_page(session, f, prefix, now)
        return {"page": page, "staff_names": account_names(session)}


@staff_only
async def queue(request: Request) -> Response:
    p = request.query_params
    status = p.get("status", "")
    assignee = p.get("assignee", "")
    f = QueueFilter(status=status if status in STATUSES else "",
                    type=p.get("type", "") if p.get("type", "") in all_types() else "",
                    assignee=request.state.staff if assignee == "me" else assignee[:64],
                    q=p.get("q", "")[:200], after=parse_cursor(p.get("after")))
    data = await run_in_threadpool(_queue, web(request), f, request.state.staff)
    keep = {k: v for k, v in {"status": f.status, "type": f.type, "assignee": assignee,
                              "q": f.q}.items() if v}
    page = data["page"]
    next_url = f"/?{urlencode({**keep, 'after': page.next_cursor})}" if page.next_cursor else None
    return render(request, "queue.html.j2", {
        **data, "statuses": STATUSES, "types": all_types(), "filter": f, "cap": COUNT_CAP,
        "assignee_param": assignee, "next_url": next_url,
        "status_url": lambda s: "/?" + urlencode({**{k: v for k, v in keep.items()
                                                    if k != "status"}, **({"status": s} if s else {})}),
    })


# -- ticket --------------------------------------------------------------------------------

def _ticket_data(state: WebState, reference: str, staff: str) -> dict[str, Any] | None:
    now = state.now()
    with state.store.session() as session:
        ticket = ticket_by_reference(session, reference)
        if ticket is None:
            return None
        audit(session, staff, ticket.id, "view", now)  # personal details were shown
        data = ticket_page(session, ticket, state.settings.helpdesk.address)
        data["staff_names"] = account_names(session)
        return data


def _not_found(request: Request) -> Response:
    return render(request, "not_found.html.j2", {}, status=404)


@staff_only
async def ticket(request: Request, errors: dict[str, str] | None = None,
                 status: int = 200) -> Response:
    reference = request.path_params["reference"]
    data = await run_in_threadpool(_ticket_data, web(request), reference, request.state.staff)
    if data is None:
        return _not_found(request)
    return render(request, "ticket.html.j2", {
        **data, "types": all_types(), "statuses": STATUSES, "errors": errors or {},
        "submitted": getattr(request.state, "form", {}) if errors else {}}, status=status)


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the RFC 6266/5987 UTF-8 name."""
    ascii_name = _SAFE_FILENAME.sub("_", filename).strip(" .") or "attachment"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _attachment(state: WebState, reference: str, message: int, index: int,
                staff: str) -> tuple[str, bytes] | None:
    with state.store.session() as session:
        ticket = ticket_by_reference(session, reference)
        if ticket is None:
            return None
        found = attachment_of(session, ticket, message, index)
        if found is None:
            return None
        audit(session, staff, ticket.id, "download_attachment", state.now(),
              field=found.filename[:64])
        return found.filename, found.data


@staff_only
async def attachment(request: Request) -> Response:
    p = request.path_params
    found = await run_in_threadpool(_attachment, web(request), p["reference"], p["message"],
                                    p["index"], request.state.staff)
    if found is None:
        return _not_found(request)
    filename, data = found
    # never rendered by the browser: a download, of a type it will not sniff or run
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": content_disposition(filename),
        "Content-Security-Policy": "default-src 'none'; sandbox",
    })


# -- audit ---------------------------------------------------------------------------------

def _audit(state: WebState, actor: str, reference: str, before: int | None) -> dict[str, Any]:
    with state.store.session() as session:
        ticket_id = None
        if reference:
            found = ticket_by_reference(session, reference)
            if found is None:
                return {"entries": [], "next_before": None}
            ticket_id = found.id
        entries = recent_audit(session, actor or None, ticket_id, before, AUDIT_PAGE)
        refs = dict(session.execute(select(Ticket.id, Ticket.reference).where(
            Ticket.id.in_({e.ticket_id for e in entries if e.ticket_id}))).all())  # type: ignore[union-attr]
        rows = [{"id": e.id, "when": e.created_at, "actor": e.actor, "action": e.action,
                 "reference": refs.get(e.ticket_id), "field": e.field, "old": e.old_value,
                 "new": e.new_value} for e in entries]
        return {"entries": rows,
                "next_before": rows[-1]["id"] if len(rows) == AUDIT_PAGE else None}


@staff_only
async def audit_log(request: Request) -> Response:
    """Who saw or changed what, newest first (read-only: nothing here edits the log)."""
    p = request.query_params
    actor, reference = p.get("actor", "")[:64], p.get("reference", "")[:40]
    before = int(p["before"]) if p.get("before", "").isdigit() else None
    data = await run_in_threadpool(_audit, web(request), actor, reference, before)
    keep = {k: v for k, v in {"actor": actor, "reference": reference}.items() if v}
    next_url = (f"/audit?{urlencode({**keep, 'before': data['next_before']})}"
                if data["next_before"] else None)
    return render(request, "audit.html.j2", {**data, "actor": actor, "reference": reference,
                                             "next_url": next_url})


# -- actions -------------------------------------------------------------------------------

def _apply(state: WebState, reference: str, action: str, form: dict[str, str],
           staff: str) -> tuple[str, str | dict[str, str]] | None:
    """Run one action; ("ok", message) or ("error", message or {field: reason})."""
    now = state.now()
    with state.store.session() as session:
        t: Ticket | None = ticket_by_reference(session, reference)
        if t is None:
            return None
        try:
            if action == "type":
                actions.change_type(session, t, form.get("type", ""), staff, now)
                return "ok", "Type changed."
            if action == "fields":
                errors = actions.edit_fields(session, t, form, staff, now)
                return ("error", errors) if errors else ("ok", "Fields saved.")
            if action == "reparse":
                found = actions.rerun_parser(session, t, state.settings, staff, now)
                return "ok", ("Parser re-run." if found else
                              "The parser found no request of this type: nothing changed.")
            if action == "assign":
                who = form.get("assignee", "")
                actions.assign(session, t, staff if who == "me" else who, staff, now)
                return "ok", "Assignment saved."
            if action == "status":
                actions.set_status(session, t, form.get("status", ""), staff, now)
                return "ok", "Status changed."
            if action == "note":
                actions.add_note(session, t, form.get("note", ""), staff, now)
                return "ok", "Note added."
            if action == "reply":
                actions.send_reply(session, t, form.get("kind", ""), state.settings, staff, now,
                                   form.get("message"))
                return "ok", "Reply queued: the worker sends it on its next run."
        except (actions.ActionError, ReplyError) as exc:
            session.rollback()
            return "error", str(exc)
    return "error", "unknown action"


@staff_only
async def ticket_action(request: Request) -> Response:
    reference = request.path_params["reference"]
    action = request.path_params["action"]
    result = await run_in_threadpool(_apply, web(request), reference, action,
                                     request.state.form, request.state.staff)
    if result is None:
        return _not_found(request)
    outcome, detail = result
    if outcome == "error" and isinstance(detail, dict):
        return await ticket.__wrapped__(request, errors=detail, status=400)  # type: ignore[attr-defined]
    flash(request, str(detail) if outcome == "ok" else f"Not done: {detail}")
    log.info("%s: staff action %s: %s", reference, action, outcome)
    return redirect(f"/tickets/{quote(reference)}")
