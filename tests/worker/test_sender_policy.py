"""Sender policy and secure defaults: allowed sender domains, Authentication-Results verdicts,
greetings, TLS verification, the web app's [web] config and Host allow-list."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.worker.policy_setup import html_text, mail, plain_text, state
from tests.worker.worker_setup import (OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       make_ctx, make_settings, make_store, write_config)
from worker.config import load_settings
from worker.pipeline import poll_once
from worker.senders import authentication_failures

ALLOW = '[helpdesk]\nallowed_sender_domains = ["example-council.gov.uk", "@partner.nhs.uk"]\n'
REQUEST = ("Please add a new home address for Mosaic ID 2049113: 14 Willow Close, North "
           "Hykeham, Lincoln LN6 9TG, from Monday 4th January.\n\nThanks\nEllie Pritchard")


@pytest.mark.parametrize("sender, reply_to, external", [
    ("Ellie Pritchard <ellie.pritchard@example-council.gov.uk>", None, False),
    ("Ellie Pritchard <ellie.pritchard@adults.example-council.gov.uk>", None, False),
    ("Nurse Lee <k.lee@partner.nhs.uk>", None, False),
    ("Ellie Pritchard <ellie.pritchard@gmail.example>", None, True),
    ("Ellie Pritchard <ellie.pritchard@example-council.gov.uk.evil.example>", None, True),
    ("Ellie Pritchard <ellie.pritchard@example-council.gov.uk>", "harvest@evil.example", True),
])
def test_mail_from_outside_the_allowed_domains_is_external_triage(
        tmp_path: Path, sqlite_url: str, sender: str, reply_to: str | None,
        external: bool) -> None:
    ctx = make_ctx(make_settings(tmp_path, sqlite_url, ALLOW))
    deliver(ctx.settings, mail(REQUEST, sender=sender,
                               headers={"Reply-To": reply_to} if reply_to else None))

    report = poll_once(ctx, OPEN_NOW)

    (ticket,), (reply,), _ = state(ctx)
    assert ticket.external is external and report.replies_queued == 1
    if not external:
        assert ticket.action == "ack" and "2049113" in plain_text(reply.data)
        return
    assert (ticket.action, ticket.status) == ("triage", "triage")
    assert ticket.type == "add_address" and ticket.fields.get("postcode") == "LN6 9TG"  # staff
    text, html = plain_text(reply.data), html_text(reply.data)
    for detail in ("2049113", "Willow", "LN6", "Hykeham", "Pritchard", "Ellie", "address"):
        assert detail not in text and detail not in html  # nothing parsed is echoed
    assert text.lstrip().startswith("Hello,")


def test_failing_authentication_makes_the_sender_external(tmp_path: Path,
                                                          sqlite_url: str) -> None:
    ctx = make_ctx(make_settings(tmp_path, sqlite_url))
    fail = "mx.example-council.gov.uk; dkim=fail (bad signature) header.d=example-council.gov.uk"
    ok = "mx.example-council.gov.uk; spf=pass smtp.mailfrom=x; dkim=pass; dmarc=pass"
    deliver(ctx.settings, mail(REQUEST, headers={"Authentication-Results": fail}),
            mail(REQUEST, subject="Another", headers={"Authentication-Results": ok}))
    poll_once(ctx, OPEN_NOW)
    failed, passed = state(ctx)[0]
    assert (failed.external, failed.auth_failures, failed.status) == (True, ["dkim=fail"],
                                                                      "triage")
    assert (passed.external, passed.auth_failures, passed.status) == (False, [], "ready")


def test_only_the_receiving_servers_verdict_counts() -> None:
    ours = "mx.council; spf=pass smtp.mailfrom=a; dmarc=pass (p=none) header.from=a"
    theirs = "relay.example; dmarc=fail header.from=a"  # added further up the path
    assert authentication_failures([ours, theirs]) == ()
    assert authentication_failures([theirs, ours]) == ("dmarc=fail",)
    assert authentication_failures(["mx; spf=fail (dmarc=fail in a comment) x=y"]) == \
        ("spf=fail",)
    assert authentication_failures(["mx; spf=softfail; dkim=temperror; dmarc=none"]) == ()
    assert authentication_failures([]) == ()


@pytest.mark.parametrize("display, greeting", [
    ("Ghosh, Anil", "Dear Anil Ghosh,"),
    ("GHOSH, Anil (Adult Care)", "Dear Anil GHOSH,"),
    ("Anil Ghosh", "Dear Anil Ghosh,"),
    ("Smith, John, Jr", "Dear Smith, John, Jr,"),
])
def test_greeting_puts_surname_comma_first_names_in_order(tmp_path: Path, sqlite_url: str,
                                                          display: str, greeting: str) -> None:
    from worker.replies import greeting_name

    ctx = make_ctx(make_settings(tmp_path, sqlite_url))
    deliver(ctx.settings, mail("Please remove the lock on workstep 4455667, locked by Sam "
                               "Jones.", sender=f'"{display}" <anil.ghosh@example-council.gov.uk>',
                               subject="Locked"))
    poll_once(ctx, OPEN_NOW)
    (ticket,), (reply,), _ = state(ctx)
    if ticket.requester_name:  # the parser's name for the sender, greeted in order
        assert plain_text(reply.data).lstrip().startswith(
            f"Dear {greeting_name(ticket.requester_name)},")
    assert greeting_name(display) == greeting[len("Dear "):-1]


def test_tls_verification_is_on_by_default_for_imap_and_smtp(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[mailbox]\nkind = \"imap\"\n[outbox]\nkind = \"smtp\"\n", encoding="utf-8")
    s = load_settings(path)
    assert (s.imap.security, s.imap.verify_tls) == ("tls", True)
    assert (s.smtp.security, s.smtp.verify_tls) == ("tls", True)
    assert s.imap.password_env and s.imap.username == ""  # secrets only from the environment


def _status(port: int, host: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET /login HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                     .encode())
        return int(sock.recv(64).split()[1])


def test_serve_reads_the_web_section_and_refuses_foreign_host_headers(tmp_path: Path,
                                                                      sqlite_url: str) -> None:
    from tests.servers import free_port
    from tests.web.web_setup import wait_for_http
    from worker.cli import build_parser
    from worker.web.commands import serve_options

    port = free_port()
    settings = make_settings(tmp_path, sqlite_url, f'[web]\nhost = "127.0.0.1"\nport = {port}\n'
                             'allowed_hosts = ["helpdesk.example-council.gov.uk"]\n'
                             "secure_cookies = true\n")
    host, _, secure, allowed = serve_options(build_parser().parse_args(["serve"]), settings)
    assert (host, secure, allowed) == ("127.0.0.1", True,
                                       ("helpdesk.example-council.gov.uk", "127.0.0.1"))
    flags = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9000"])
    assert serve_options(flags, settings)[:2] == ("0.0.0.0", 9000)  # flags beat the config

    env = dict(os.environ, HELPDESK_SESSION_SECRET="s" * 48)
    with open(tmp_path / "serve.log", "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "worker.cli", "serve", "--config",
                                 str(settings.path)], stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=Path(__file__).resolve().parents[2])
    try:
        wait_for_http(port, proc)  # on the [web] port: serve read the config
        assert _status(port, "helpdesk.example-council.gov.uk") == 200
        assert _status(port, f"127.0.0.1:{port}") == 200
        assert _status(port, "attacker.example") == 400  # DNS rebinding: foreign Host refused
    finally:
        proc.terminate()
        proc.wait(10)
