"""Property: one cycle (Maildir mailbox + SQLite) over structurally odd generated mail never
raises and never loses a message: each is stored, has exactly one outcome, and leaves the inbox."""
from __future__ import annotations

import base64
import quopri
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from sqlmodel import func, select

from tests.worker.worker_setup import OPEN_NOW, deliver, folder_count, make_settings
from worker.edges import build_context
from worker.pipeline import WorkerContext, poll_once
from worker.store import StoredMessage, TicketMessage

CHARSETS = ["utf-8", "latin-1", "us-ascii", "windows-1252", "iso-2022-jp", "shift_jis",
            "utf-16", "x-unknown", "", "utf-8\x00", "koi8-r"]
TYPES = ["text/plain", "text/html", "application/octet-stream", "image/png", "message/rfc822",
         "application/ms-tnef", "text/calendar", "message/delivery-status", "garbage", "",
         "text/rfc822-headers", "application/vnd.ms-outlook"]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "bogus", ""]
HEADERS = ["From", "To", "Cc", "Subject", "Date", "Reply-To", "In-Reply-To", "References",
           "Auto-Submitted", "Precedence", "List-Id", "Return-Path", "Content-Disposition",
           "X-Loop", "Authentication-Results", "X-Odd"]

odd_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@st.composite
def header_value(draw) -> bytes:
    """Raw UTF-8 or Latin-1, an RFC 2047 word (maybe broken), CR/LF/NUL, or a long run."""
    text = draw(odd_text)
    how = draw(st.sampled_from(["utf8", "latin1", "word", "broken_word", "long", "controls"]))
    if how == "latin1":
        return text.encode("latin-1", "replace")
    if how == "word":
        cs = draw(st.sampled_from(CHARSETS)) or "utf-8"
        return f"=?{cs}?B?{base64.b64encode(text.encode('utf-8')).decode()}?=".encode()
    if how == "broken_word":
        return f"=?{draw(st.sampled_from(CHARSETS))}?Q?{text}=ZZ?".encode("utf-8", "replace")
    if how == "long":
        return (text or "x").encode() * draw(st.integers(100, 3000))
    if how == "controls":
        return text.encode() + draw(st.sampled_from([b"\r\nBcc: x@y.z", b"\x00", b"\r", b"\n"]))
    return text.encode()


@st.composite
def leaf(draw) -> tuple[bytes, bytes]:
    """(headers, body) of a single part."""
    ctype = draw(st.sampled_from(TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    cte = draw(st.sampled_from(ENCODINGS))
    payload = draw(st.one_of(st.binary(max_size=300), odd_text.map(str.encode)))
    if cte == "base64" and draw(st.booleans()):
        payload = base64.b64encode(payload)[: draw(st.integers(0, 400))]  # maybe truncated
    elif cte == "quoted-printable" and draw(st.booleans()):
        payload = quopri.encodestring(payload)
    head = b""
    if ctype:
        head += f"Content-Type: {ctype}; charset=\"{charset}\"".encode("utf-8", "replace")
        if draw(st.booleans()):
            head += b'; name="' + draw(header_value()) + b'"'
        head += b"\r\n"
    if cte:
        head += f"Content-Transfer-Encoding: {cte}\r\n".encode()
    if draw(st.booleans()):
        head += b"Content-Disposition: attachment; filename*=utf-8''..%2F..%2F" + \
            draw(odd_text).encode("utf-8") + b"\r\n"
    return head, payload


def tree(depth: int) -> st.SearchStrategy[tuple[bytes, bytes]]:
    if depth <= 0:
        return leaf()
    return st.one_of(leaf(), multipart(depth))


@st.composite
def multipart(draw, depth: int) -> tuple[bytes, bytes]:
    subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report", "signed",
                                    "digest", "x-odd"]))
    boundary = draw(st.sampled_from(["b", "==x==", "", " spaced ", "a" * 80, "\u00e9"]))
    declared = draw(st.sampled_from([boundary, boundary, "other", None]))  # lies sometimes
    children = draw(st.lists(tree(depth - 1), min_size=0, max_size=3))
    head = f"Content-Type: multipart/{subtype}".encode()
    if declared is not None:
        head += f'; boundary="{declared}"'.encode("utf-8")
    head += b"\r\n"
    delim = f"--{boundary}".encode("utf-8")
    body = draw(st.sampled_from([b"", b"preamble\r\n"]))
    for child_head, child_body in children:
        body += delim + b"\r\n" + child_head + b"\r\n" + child_body + b"\r\n"
    if draw(st.booleans()):
        body += delim + b"--\r\n"  # a close delimiter, or (otherwise) a truncated message
    return head, body


@st.composite
def odd_message(draw) -> bytes:
    lines = [f"X-Case: {uuid.uuid4()}".encode()]  # no two generated messages are identical
    if draw(st.booleans()):
        lines.append(f"Message-ID: <{uuid.uuid4()}@odd.example>".encode())
    for name in draw(st.lists(st.sampled_from(HEADERS), max_size=8)):
        lines.append(name.encode() + b": " + draw(header_value()))
    if draw(st.booleans()):
        lines.append(b"MIME-Version: 1.0")
    head, body = draw(tree(draw(st.integers(0, 4))))
    ending = draw(st.sampled_from([b"\r\n", b"\n", b"\r\n", b"\r"]))
    raw = b"\r\n".join(lines) + b"\r\n" + head + b"\r\n" + body
    return raw.replace(b"\r\n", ending) if ending != b"\r\n" else raw


@pytest.fixture(scope="module")
def ctx() -> Iterator[WorkerContext]:
    """One Maildir + SQLite worker for every generated example (each example adds a batch)."""
    root = Path(tempfile.mkdtemp(prefix="helpdesk-property-"))
    settings = make_settings(root, f"sqlite:///{root / 'helpdesk.sqlite3'}",
                             "[helpdesk]\nmax_message_bytes = 200000\n")
    context = build_context(settings)
    yield context
    context.store.close()
    shutil.rmtree(root, ignore_errors=True)


@hsettings(max_examples=60, deadline=None,
           suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=st.lists(odd_message(), min_size=1, max_size=4))
def test_one_cycle_never_raises_and_never_loses_a_message(ctx: WorkerContext,
                                                          batch: list[bytes]) -> None:
    with ctx.store.session() as s:
        stored_before = s.exec(select(func.count()).select_from(StoredMessage)).one()
    deliver(ctx.settings, *batch)

    report = poll_once(ctx, OPEN_NOW + timedelta(minutes=1))  # must not raise

    assert report.ok, report.error
    assert report.fetched == len(batch)
    assert sorted(o.uid for o in report.outcomes) == sorted({o.uid for o in report.outcomes})
    assert len(report.outcomes) == len(batch)  # exactly one outcome each
    assert all(o.outcome in ("new", "follow_up", "note") for o in report.outcomes), \
        [o.outcome for o in report.outcomes]
    assert folder_count(ctx.settings) == 0  # every message has left the inbox
    with ctx.store.session() as s:
        stored = s.exec(select(func.count()).select_from(StoredMessage)).one()
        unlinked = s.exec(select(func.count()).select_from(StoredMessage).where(
            StoredMessage.id.not_in(select(TicketMessage.message_id)))).one()  # type: ignore[union-attr]
    assert stored == stored_before + len(batch)  # every input is stored
    assert unlinked == 0  # ... and on a ticket
