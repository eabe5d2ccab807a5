"""Hostile and broken mail through real cycles (Dovecot -> worker -> store -> aiosmtpd): every
bugcase and every hostile kind is stored once with one outcome, leaves the inbox, is answered
only when a person sent it, and nothing in it reaches our reply's headers or templates."""
from __future__ import annotations

import base64
import json
import re
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from tests.worker.policy_setup import (events, html_text, imap_count, imap_deliver, mail,
                                       messages, parsed, plain_text, real_cycle, real_worker,
                                       state)
from tests.worker.worker_setup import (OPEN_NOW, close_stores, deliver,  # noqa: F401
                                       folder_count, make_ctx, make_settings)
from worker.pipeline import poll_once

BUGCASES = Path(__file__).resolve().parents[1] / "bugcases"
MAX_BYTES = 300_000  # [helpdesk] max_message_bytes for these tests


def _msg(n: int, headers: str, body: bytes | str) -> bytes:
    """Raw bytes, header block as given (CRLF), from a distinct sender so no cap interferes."""
    head = (f"From: Tester {n} <tester{n}@example-council.gov.uk>\r\n"
            f"To: mosaic.helpdesk@example-council.gov.uk\r\n"
            f"Date: Tue, 16 Feb 2027 09:00:00 +0000\r\nMessage-ID: <hostile-{n}@example.org>\r\n")
    data = body.encode() if isinstance(body, str) else body
    return head.encode() + headers.encode("latin-1") + b"\r\n" + data


def _nested(depth: int) -> str:
    out = ""
    for i in range(depth):
        out += f'Content-Type: multipart/mixed; boundary="d{i}"\r\n\r\n--d{i}\r\n'
    out += "Content-Type: text/plain\r\n\r\nPlease remove the lock on workstep 4455667.\r\n"
    for i in reversed(range(depth)):
        out += f"--d{i}--\r\n"
    return out


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()
HOSTILE: dict[str, bytes] = {
    "missing_boundary": _msg(1, "Subject: Lock\r\nMIME-Version: 1.0\r\n"
                             "Content-Type: multipart/mixed\r\n",
                             "--x\r\nContent-Type: text/plain\r\n\r\nUnlock workstep 4455667\r\n"
                             "--x--\r\n"),
    "bad_base64": _msg(2, "Subject: Lock\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
                       "Content-Transfer-Encoding: base64\r\n", "!!!not*base64@@@\r\n===\r\n"),
    "no_content_type": _msg(3, "Subject: Lock", "Please unlock workstep 4455667.\r\n"),
    "unknown_charset": _msg(4, "Subject: Lock\r\nContent-Type: text/plain; charset=x-klingon\r\n",
                            "Bitte Workstep 4455667 entsperren \xfc\xe4\xf6".encode("latin-1")),
    "lying_charset": _msg(5, "Subject: Lock\r\nContent-Type: text/plain; charset=us-ascii\r\n",
                          "Please unlock workstep 4455667 – thanks, Zoë".encode()),
    "eight_bit_headers": _msg(6, "Subject: D\xe9verrouiller l'\xe9tape 4455667\r\n", "Merci."),
    "rfc2047_2231": _msg(7, "Subject: =?koi8-r?B?8NLJ18XU?= =?utf-8?q?workstep_4455667?=\r\n"
                         'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n',
                         "--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\n"
                         "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
                         "Content-Disposition: attachment; filename*0*=utf-8''%C3%A9cran;"
                         " filename*1*=%20long.png\r\n\r\n" + PNG + "\r\n--b--\r\n"),
    "very_long_line": _msg(8, "Subject: Long", "Please unlock workstep 4455667. "
                           + "x" * 250_000 + "\r\n"),
    "deep_nesting": _msg(9, "Subject: Deep\r\nMIME-Version: 1.0\r\n", _nested(300)),
    "over_the_size_limit": _msg(10, "Subject: Huge scan of workstep 4455667\r\nMIME-Version: 1.0"
                                '\r\nContent-Type: multipart/mixed; boundary="h"\r\n',
                                "--h\r\nContent-Type: text/plain\r\n\r\nPerson ID 2049113.\r\n"
                                "--h\r\nContent-Type: application/pdf\r\n"
                                "Content-Transfer-Encoding: base64\r\n\r\n"
                                + ("QUFB" * 19 + "\r\n") * 4500 + "--h--\r\n"),
    "null_bytes": _msg(11, "Subject: Lock\x00ed step\r\nX-Note: a\x00b\r\n"
                       "Content-Type: text/plain; charset=utf-8\r\n",
                       b"Please unlock\x00 workstep 4455667.\x00\r\n"),
    "msg_attachment": _msg(12, 'Subject: Forwarding the email\r\nMIME-Version: 1.0\r\n'
                           'Content-Type: multipart/mixed; boundary="m"\r\n',
                           "--m\r\nContent-Type: text/plain\r\n\r\nSee the attached email.\r\n"
                           "--m\r\nContent-Type: application/vnd.ms-outlook; name=\"Fwd.msg\"\r\n"
                           "Content-Transfer-Encoding: base64\r\n"
                           "Content-Disposition: attachment; filename=\"Fwd.msg\"\r\n\r\n"
                           + base64.b64encode(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x07" * 900)
                           .decode() + "\r\n--m--\r\n"),
    "crlf_subject_injection": _msg(13, "Subject: =?utf-8?q?Unlock_workstep_4455667=0D=0ABcc:_"
                                   "intruder=40evil.example=0D=0AX-Priority:_1?=\r\n",
                                   "Please unlock workstep 4455667, locked by Sam Jones.\r\n"),
    "template_syntax": _msg(14, "Subject: {{ 7*7 }} {% raw %}lock{% endraw %}\r\n",
                            "Please unlock workstep 4455667 {{ 7*7 }} "
                            "{% for i in range(3) %}boom{% endfor %} {{ config }}.\r\n"),
    "html_script": _msg(15, 'Subject: <script>alert(1)</script> locked\r\nMIME-Version: 1.0\r\n'
                        'Content-Type: multipart/alternative; boundary="a"\r\n',
                        "--a\r\nContent-Type: text/html\r\n\r\n<p>Please unlock workstep "
                        "4455667, locked by <b onmouseover=alert(2)>Sam</b>"
                        "<script>alert(1)</script></p>\r\n--a--\r\n"),
    "path_attachment_names": _msg(16, 'Subject: Logs\r\nMIME-Version: 1.0\r\n'
                                  'Content-Type: multipart/mixed; boundary="p"\r\n',
                                  "--p\r\nContent-Type: text/plain\r\n\r\nLogs attached.\r\n--p"
                                  "\r\nContent-Type: text/plain\r\nContent-Disposition: "
                                  'attachment; filename="../../../../tmp/hostile-owned.txt"'
                                  "\r\n\r\nowned\r\n--p\r\nContent-Type: text/plain; name="
                                  '"..\\\\..\\\\hostile-win.txt"\r\n\r\nowned\r\n--p--\r\n'),
}
# hostile kinds a person could have sent: each must be answered (none is machine mail)
ANSWERED = set(HOSTILE)


def _bugcases() -> list[tuple[str, bytes, dict]]:
    out = []
    for eml in sorted(BUGCASES.glob("*.eml")):
        check = json.loads(eml.with_suffix(".json").read_text()).get("check", {})
        out.append((eml.stem, eml.read_bytes(), check))
    return out


def _header_block(data: bytes) -> str:
    return data.split(b"\r\n\r\n", 1)[0].decode("ascii")


def _subject(data: bytes) -> str:
    raw = re.search(r"^Subject:(.*(?:\r\n[ \t].*)*)", _header_block(data), re.M)
    assert raw is not None
    return str(make_header(decode_header(raw.group(1).replace("\r\n", ""))))


@pytest.mark.parametrize("db", ["sqlite_url", "pg_url"])
def test_every_hostile_kind_through_a_real_cycle(tmp_path: Path, dovecot, imap_account,
                                                smtp_server, monkeypatch, request,
                                                db: str) -> None:
    db_url = request.getfixturevalue(db)
    extra = f"[helpdesk]\nmax_message_bytes = {MAX_BYTES}\n"
    with real_worker(tmp_path, dovecot, imap_account, smtp_server, db_url, monkeypatch,
                     extra) as ctx:
        imap_deliver(dovecot, imap_account, *HOSTILE.values())
        poll, sent = real_cycle(ctx, OPEN_NOW)
        stored = {m.uid: m for m in messages(ctx)}
        tickets, outbox, links = state(ctx)
        left = {f: imap_count(dovecot, imap_account, f) for f in ("INBOX", "Processed",
                                                                   "Failed")}

    assert poll.ok and poll.fetched == len(HOSTILE)
    assert sorted(o.outcome for o in poll.outcomes) == ["new"] * len(HOSTILE)
    assert left == {"INBOX": 0, "Processed": len(HOSTILE), "Failed": 0}
    assert len(stored) == len(HOSTILE)
    raw_by_name = {name: next(m for m in stored.values()
                              if m.message_key == f"<hostile-{i}@example.org>")
                   for i, name in enumerate(HOSTILE, 1)}
    for name, data in HOSTILE.items():  # kept byte for byte (Dovecot turns NUL into 0x80)
        assert raw_by_name[name].raw == data or name == "null_bytes", name
    by_sender = {m.recipients[0]: m for m in smtp_server.received}
    assert sent.sent == len(ANSWERED) and sent.failed == 0
    replies = {name: by_sender[f"tester{i}@example-council.gov.uk"]
               for i, name in enumerate(HOSTILE, 1)}

    # over the size limit: stored whole, triaged, and the reply says nothing was read
    big = raw_by_name["over_the_size_limit"]
    assert big.parse_error == "too_large" and big.masked_text is None
    (big_ticket,) = [t for t in tickets if any(k.message_id == big.id and k.ticket_id == t.id
                                               for k in links)]
    assert (big_ticket.action, big_ticket.fields) == ("triage", {})
    assert "nothing in it has been read" in plain_text(replies["over_the_size_limit"].data)
    assert "2049113" not in plain_text(replies["over_the_size_limit"].data)

    # CRLF in the subject: our reply's header block gains no header and one recipient only
    injected = replies["crlf_subject_injection"]
    headers = _header_block(injected.data)
    assert not re.search(r"^(Bcc|X-Priority|Content-Type: text/html)", headers, re.M | re.I)
    assert injected.recipients == ["tester13@example-council.gov.uk"]
    assert "Unlock workstep 4455667" in _subject(injected.data)
    assert "\r" not in stored[raw_by_name["crlf_subject_injection"].uid].subject

    # template syntax is data: shown as written, never evaluated
    template = replies["template_syntax"]
    assert "{{ 7*7 }}" in _subject(template.data) and "49" not in _subject(template.data)
    assert "boomboom" not in plain_text(template.data) + html_text(template.data)

    # HTML and script: never reach our HTML alternative as markup
    for data in (r.data for r in replies.values()):
        html = html_text(data).lower()
        assert "<script" not in html and "onmouseover" not in html.replace("&lt;", "")


    # attachment names with paths: nothing was written anywhere
    assert not list(Path("/tmp").glob("hostile-owned.txt"))
    assert not list(tmp_path.rglob("hostile-*.txt"))


@pytest.mark.parametrize("db", ["sqlite_url", "pg_url"])
def test_every_bugcase_through_a_real_cycle(tmp_path: Path, dovecot, imap_account, smtp_server,
                                           monkeypatch, request, db: str) -> None:
    cases = _bugcases()
    db_url = request.getfixturevalue(db)
    with real_worker(tmp_path, dovecot, imap_account, smtp_server, db_url, monkeypatch) as ctx:
        imap_deliver(dovecot, imap_account, *(data for _, data, _ in cases))
        poll, sent = real_cycle(ctx, OPEN_NOW)
        stored = messages(ctx)
        tickets, outbox, links = state(ctx)
        left = {f: imap_count(dovecot, imap_account, f) for f in ("INBOX", "Processed",
                                                                   "Failed")}
        parse_errors = events(ctx, "parse_error")

    assert poll.ok and poll.fetched == len(cases) and left["INBOX"] == 0
    assert left["Processed"] + left["Failed"] == len(cases)
    assert poll.count("failed") == 0 and len(stored) == len(cases)
    assert left["Failed"] == 0  # the parser never crashed
    allowed_errors = {o for _, _, c in cases for o in c.get("allowed_outcomes", ())}
    assert {e.detail["error"] for e in parse_errors} <= allowed_errors  # e.g. rejected_too_deep
    linked = {k.message_id for k in links}
    for name, data, check in cases:
        row = next(m for m in stored if _as_dovecot_keeps(m.raw) == _as_dovecot_keeps(data))
        assert row.id in linked, name  # ... with a ticket
        text = row.masked_text or ""
        if b"\x00" in data:
            continue  # Dovecot changed its NULs: checked through a Maildir below
        for value in _as_list(check.get("body_contains")):
            assert " ".join(value.split()) in " ".join(text.split()), name
        for value in _as_list(check.get("body_not_contains")):
            assert value not in text, name
        if "subject" in check:
            assert row.subject == check["subject"], name
        answered = [o for o in outbox if any(k.message_id == row.id and k.ticket_id ==
                                             o.ticket_id for k in links)]
        if check.get("send_ack") is False or check.get("screen") or check.get("is_auto_reply"):
            assert answered == [], name  # machine mail and unanswerable mail: never a reply
        elif check.get("screen", "unset") is None:
            assert len(answered) >= 1, name  # a person hears back
    for reply in smtp_server.received:  # every reply well formed: one Subject, our headers
        msg = parsed(reply.data)
        assert len(msg.get_all("Subject")) == 1 and msg["Auto-Submitted"] == "auto-replied"
        assert len(reply.recipients) == 1 and "\n" not in str(msg["Subject"])
    assert sent.sent == len(smtp_server.received) and sent.failed == 0


def _as_dovecot_keeps(data: bytes) -> bytes:
    """Dovecot stores mixed line ends as CRLF and NUL as 0x80; otherwise bytes are kept."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").replace(b"\x00", b"\x80")


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)  # type: ignore[arg-type]


def test_null_bytes_reach_the_store_and_are_answered(tmp_path: Path, db_url: str) -> None:
    """Through a Maildir (Dovecot would turn NUL into 0x80 on APPEND), on both databases:
    PostgreSQL text columns refuse NUL, so it must never reach one."""
    ctx = make_ctx(make_settings(tmp_path, db_url))
    data = _msg(20, "Subject: Lock\x00ed step\r\nX-Note: a\x00b\r\nMIME-Version: 1.0\r\n"
                'Content-Type: multipart/mixed; boundary="n"\r\n',
                b"--n\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease unlock\x00 "
                b"workstep 4455667, locked by Sam\x00 Jones.\x00\r\n--n\r\nContent-Type: "
                b'text/plain; name="a\x00.txt"\r\n\r\n\x00\x00\r\n--n--\r\n')
    bugcase = (BUGCASES / "109-encoded-newlines-and-nul.eml").read_bytes()
    deliver(ctx.settings, data, bugcase)

    report = poll_once(ctx, OPEN_NOW)

    assert report.ok and [o.outcome for o in report.outcomes] == ["new", "new"]
    ours, theirs = messages(ctx)
    assert (ours.raw, theirs.raw) == (data, bugcase)  # NULs and all, kept for re-reading
    for row in (ours, theirs):
        assert "\x00" not in (row.subject or "") + (row.masked_text or "")
    assert "4455667" in (ours.masked_text or "") and report.replies_queued == 2
    assert "Please remove the lock on step 4455001." in " ".join(theirs.masked_text.split())


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_each_hostile_kind_alone_is_stored_answered_and_moved(tmp_path: Path, sqlite_url: str,
                                                              kind: str) -> None:
    """One cycle per kind (Maildir + SQLite): a failure names the kind that broke."""
    settings = make_settings(tmp_path, sqlite_url, f"[helpdesk]\nmax_message_bytes = {MAX_BYTES}\n")
    ctx = make_ctx(settings)
    deliver(settings, HOSTILE[kind])

    report = poll_once(ctx, OPEN_NOW)

    assert report.ok and [o.outcome for o in report.outcomes] == ["new"]
    assert folder_count(settings) == 0 and folder_count(settings, "Processed") == 1
    (row,) = messages(ctx)
    assert row.raw == HOSTILE[kind] and row.parse_error in (None, "too_large",
                                                            "rejected_too_deep")
    tickets, outbox, links = state(ctx)
    assert len(tickets) >= 1 and {k.message_id for k in links} == {row.id}
    assert [o.recipient for o in outbox] == [f"tester{list(HOSTILE).index(kind) + 1}"
                                             "@example-council.gov.uk"] * len(tickets)
    for item in outbox:  # our reply: one Subject line, headers we wrote, no injected ones
        headers = _header_block(item.data)
        assert len(re.findall(r"^Subject:", headers, re.M)) == 1
        assert not re.search(r"^(Bcc|Cc|X-Priority):", headers, re.M | re.I)
