"""`helpdesk staff add` and `helpdesk export-corrections` as an administrator runs them."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

from argon2 import PasswordHasher
from sqlmodel import select

from web_setup import WebEnv
from worker.staff import StaffAccount
from worker.store import Ticket, messages_of_ticket, ticket_by_reference
from worker.web import actions


def helpdesk(env: WebEnv, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "worker.cli", *args, "--config",
                           str(env.config)], input=stdin, capture_output=True, text=True,
                          timeout=60)


def _hash_of(env: WebEnv, name: str) -> str | None:
    with env.store.session() as session:
        return session.exec(select(StaffAccount.password_hash)
                            .where(StaffAccount.name == name)).first()


def test_staff_add_reads_the_password_from_stdin_and_stores_only_an_argon2_hash(web_env):
    done = helpdesk(web_env, "staff", "add", "Carol", "--password-stdin",
                    stdin="a very long secret\n")
    assert done.returncode == 0, done.stderr
    assert "a very long secret" not in done.stdout + done.stderr
    stored = _hash_of(web_env, "carol")
    assert stored is not None and stored.startswith("$argon2id$")
    assert PasswordHasher().verify(stored, "a very long secret")

    again = helpdesk(web_env, "staff", "add", "carol", "--password-stdin", stdin="another secret!\n")
    assert again.returncode == 0
    assert PasswordHasher().verify(_hash_of(web_env, "carol"), "another secret!")

    short = helpdesk(web_env, "staff", "add", "dave", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least" in short.stderr
    assert _hash_of(web_env, "dave") is None
    bad = helpdesk(web_env, "staff", "add", "no spaces allowed", "--password-stdin",
                   stdin="a very long secret\n")
    assert bad.returncode == 1


def test_export_writes_corrected_tickets_as_labelled_samples(web_env, tmp_path):
    web_env.deliver_and_poll("h18-triage-vague-help.eml",
                             "064-organisation-plus-professional-new-surgery-and-gp.eml",
                             "049-account_locked-too-many-attempts.eml")
    now = datetime.now(timezone.utc)
    with web_env.store.session() as session:
        triaged = ticket_by_reference(session, "MDHD-000001")
        actions.change_type(session, triaged, "remove_lock", "alice", now)
        assert actions.edit_fields(session, triaged, {"workstep_id": "55443322"}, "alice",
                                   now) == {}
        pair = list(session.exec(select(Ticket).where(Ticket.reference.in_(
            ["MDHD-000002", "MDHD-000003"])).order_by(Ticket.id)))
        assert len(pair) == 2  # one message, two requests
        actions.edit_fields(session, pair[1], {"phone": "01522 555999"}, "alice", now)
        raw_first = messages_of_ticket(session, triaged.id)[0].raw

    out = tmp_path / "corrections"
    done = helpdesk(web_env, "export-corrections", str(out))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["mdhd-000001.eml", "mdhd-000001.json",
                                                     "mdhd-000002.eml", "mdhd-000002.json"]
    assert (out / "mdhd-000001.eml").read_bytes() == raw_first
    single = json.loads((out / "mdhd-000001.json").read_text())
    # the workstep ID never was in the mail: a parser should ask for it, so the label says so
    assert single == {"type": "remove_lock", "action": "request_details", "fields": {},
                      "missing": ["workstep_id"]}
    double = json.loads((out / "mdhd-000002.json").read_text())
    assert [r["type"] for r in double["requests"]] == [pair[0].type, pair[1].type]
    assert "phone" not in double["requests"][1]["fields"]  # staff typed it; not in the mail
    with web_env.store.session() as session:
        untouched = ticket_by_reference(session, "MDHD-000004")
        assert untouched is not None and untouched.edited_fields == []
    assert not (out / "mdhd-000004.json").exists()  # not corrected: not exported


def test_serve_listens_on_loopback_port_8080_unless_told_otherwise():
    from worker.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.secure_cookies) == ("127.0.0.1", 8080, False)
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9000",
                                      "--secure-cookies", "--config", "x.toml"])
    assert (args.host, args.port, args.secure_cookies, args.config) == ("0.0.0.0", 9000, True,
                                                                         "x.toml")
