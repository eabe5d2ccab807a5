"""Security over real HTTP (`helpdesk serve`): sessions, CSRF, login slow-down, headers, leaks."""
from __future__ import annotations

import re
import subprocess
import sys

from sqlmodel import select
from starlette.routing import Route

from web_setup import PASSWORD, Client, WebEnv
from worker.staff import StaffAccount
from worker.store import Ticket
from worker.web.app import create_app

REF = "MDHD-000001"
PARAMS = {"reference": REF, "message": "1", "index": "0", "action": "status"}


def _paths(web_env: WebEnv) -> list[tuple[str, str]]:
    """Every (method, path) the app routes, with its parameters filled in."""
    app = create_app(web_env.settings, web_env.store, secret="x" * 40)
    out = []
    for route in app.routes:
        if not isinstance(route, Route):
            continue  # the static Mount: a stylesheet, no data
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: PARAMS[m.group(1)], route.path)
        out += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return out


def test_every_route_refuses_without_a_session(web_env, client):
    web_env.deliver_and_poll("h18-triage-vague-help.eml")
    routes = _paths(web_env)
    assert len(routes) >= 7
    for method, path in routes:
        if path == "/login":
            continue
        reply = client.request(method, path, {} if method == "POST" else None)
        if method == "GET":
            assert (reply.status, reply.headers.get("location")) == (303, "/login"), path
        else:
            assert reply.status == 403, (method, path)
        assert "sue.dale" not in reply.body and "ring me" not in reply.body
    # a CSRF token from the login page does not stand in for a session either
    token = client.csrf()
    reply = client.post(f"/tickets/{REF}/status", {"csrf": token, "status": "resolved"})
    assert reply.status == 403
    with web_env.store.session() as session:
        assert session.exec(select(Ticket.status)).one() == "triage"


def test_a_form_post_without_the_csrf_token_is_refused(web_env, client):
    web_env.deliver_and_poll("h18-triage-vague-help.eml")
    assert client.login("alice").status == 303
    for data in ({"status": "resolved"}, {"status": "resolved", "csrf": "forged-token-" * 3}):
        assert client.post(f"/tickets/{REF}/status", data).status == 403
    with web_env.store.session() as session:
        assert session.exec(select(Ticket.status)).one() == "triage"
    token = client.csrf(f"/tickets/{REF}")
    assert client.post(f"/tickets/{REF}/status", {"status": "resolved", "csrf": token}).status == 303
    with web_env.store.session() as session:
        assert session.exec(select(Ticket.status)).one() == "resolved"
    # logging in is a form too
    other = Client(client.base)
    assert other.post("/login", {"name": "bob", "password": PASSWORD}).status == 403


def test_repeated_failed_logins_are_slowed_down_per_account_and_address(web_env, client):
    for _ in range(3):
        assert client.login("alice", "wrong password!").status == 401
    refused = client.login("alice")  # the right password, but too soon
    assert refused.status == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert client.get("/").status == 303  # still not logged in
    assert Client(client.base).login("bob").status == 303  # other accounts are not locked out
    with web_env.store.session() as session:
        alice = session.exec(select(StaffAccount).where(StaffAccount.name == "alice")).one()
        assert alice.failed_logins == 3


def test_security_headers_and_cookie_flags(web_env, client):
    login = client.login("alice")
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/")
    assert page.status == 200
    csp = page.headers["content-security-policy"]
    for part in ("default-src 'none'", "script-src 'none'", "img-src 'self' data:",
                 "frame-ancestors 'none'", "form-action 'self'"):
        assert part in csp
    assert "http" not in csp  # no remote source of anything
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"


def test_no_page_export_or_log_shows_a_password_hash_or_session_token(web_env, live_server,
                                                                      client, tmp_path):
    web_env.deliver_and_poll("h18-triage-vague-help.eml", "hostile-html-subject-script.eml")
    client.login("alice", "not the password")
    client.login("alice")
    session_token = client.cookie()
    assert session_token
    token = client.csrf(f"/tickets/{REF}")
    pages = [client.get(p).body for p in ("/", "/?q=alice", "/?q=sue", f"/tickets/{REF}",
                                          "/tickets/MDHD-000002", "/login", "/audit")]
    pages.append(client.post(f"/tickets/{REF}/type", {"csrf": token, "type": "remove_lock"}).body)
    pages.append(client.post(f"/tickets/{REF}/fields", {"csrf": token,
                                                        "workstep_id": "not digits"}).body)
    client.post(f"/tickets/{REF}/fields", {"csrf": token, "workstep_id": "12345678"})
    client.post(f"/tickets/{REF}/note", {"csrf": token, "note": "rang Sue"})
    pages.append(client.get(f"/tickets/{REF}").body)
    audit_page = client.get("/audit?actor=alice").body
    pages.append(audit_page)
    assert "sue" in audit_page and "12345678" in audit_page  # the search and the edit are there
    export = tmp_path / "export"
    done = subprocess.run([sys.executable, "-m", "worker.cli", "export-corrections", "--config",
                           str(web_env.config), str(export)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    exported = [p.read_bytes().decode("utf-8", "replace") for p in export.iterdir()]
    assert len(exported) == 2  # the corrected ticket: NAME.eml + NAME.json
    with web_env.store.session() as session:
        hashes = list(session.exec(select(StaffAccount.password_hash)))
    secrets = [session_token, PASSWORD, *hashes, *(h.rsplit("$", 1)[-1] for h in hashes)]
    texts = {"pages": "\n".join(pages), "export": "\n".join(exported),
             "log": live_server.log_text() + done.stdout + done.stderr}
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret shows in the {where}"
    assert "Sue" not in live_server.log_text() and "12345678" not in live_server.log_text()


def test_logout_and_disabling_end_sessions_even_for_a_copied_cookie(web_env, client):
    assert client.login("alice").status == 303
    thief = _with_cookies(client)
    assert thief.get("/").status == 200
    token = client.csrf("/")
    assert client.post("/logout", {"csrf": token}).status == 303
    assert thief.get("/").status == 303  # the copied cookie no longer opens anything
    assert client.get("/").status == 303

    bob = Client(client.base)
    assert bob.login("bob").status == 303 and bob.get("/").status == 200
    done = subprocess.run([sys.executable, "-m", "worker.cli", "staff", "disable", "bob",
                           "--config", str(web_env.config)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert bob.get("/").status == 303
    assert Client(client.base).login("bob").status == 401


def _with_cookies(source: Client) -> Client:
    """Another client holding a copy of `source`'s cookies (a stolen session cookie)."""
    copy = Client(source.base)
    for cookie in source.jar:
        copy.jar.set_cookie(cookie)
    return copy
