"""Hypothesis: structurally odd mail never crashes parsers.parse, and its output is valid UTF-8."""
from __future__ import annotations

import base64
import json
import quopri
import re
from email.message import EmailMessage
from email.policy import SMTP

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from parsers import ParseOptions, parse

from tests.parsers.test_message_bugcases import assert_utf8_everywhere

FAST = settings(max_examples=int(__import__("os").environ.get("HYPOTHESIS_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHARSETS = ["utf-8", "us-ascii", "iso-8859-1", "windows-1252", "iso-2022-jp", "shift_jis",
            "koi8-r", "utf-16", "unknown-8bit", "x-bogus", "", "utf-8*en", "gb2312", "utf-7",
            "utf\x00-8", "../../etc", "a" * 300]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "bogus", ""]
LEAF_TYPES = ["text/plain", "text/html", "application/ms-tnef", "application/octet-stream",
              "image/png", "message/delivery-status", "text/rfc822-headers",
              "message/disposition-notification", "text/calendar", "application/vnd.ms-outlook"]
MULTI_TYPES = ["multipart/mixed", "multipart/alternative", "multipart/related",
               "multipart/report; report-type=delivery-status", "message/rfc822", "multipart/x-odd"]
HEADER_NAMES = ["From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To",
                "References", "Auto-Submitted", "Precedence", "Return-Path", "List-Id",
                "X-Failed-Recipients", "Content-Disposition", "X-Loop", "\xe9t\xe9"]

raw_text = st.binary(max_size=120)
words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@st.composite
def encoded_word(draw: st.DrawFn) -> bytes:
    charset = draw(st.sampled_from(CHARSETS)) or "utf-8"
    payload = draw(raw_text)
    if draw(st.booleans()):
        body = base64.b64encode(payload).decode().rstrip("=" if draw(st.booleans()) else "")
        return f"=?{charset}?B?{body}?=".encode()
    return f"=?{charset}?Q?".encode() + quopri.encodestring(payload, header=True) + b"?="


header_value = st.one_of(raw_text, encoded_word(), words.map(lambda s: s.encode("utf-8")),
                         st.just(b"<>"), st.just(b""), st.just(b'"broken <a@b.example'),
                         st.just(b"=?utf-8?q?x=0D=0ABcc:_y@z?= <p@q.example>"))


@st.composite
def headers(draw: st.DrawFn) -> bytes:
    out = b""
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.sampled_from(HEADER_NAMES)).encode("latin-1")
        value = draw(header_value).replace(b"\n", b"\n " if draw(st.booleans()) else b"\n")
        out += name + b": " + value + b"\r\n"
    return out


@st.composite
def leaf(draw: st.DrawFn) -> bytes:
    ctype = draw(st.sampled_from(LEAF_TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    cte = draw(st.sampled_from(ENCODINGS))
    name = draw(st.one_of(st.none(), st.sampled_from(
        ["../../x.png", "winmail.dat", "a.msg", "=?utf-8?q?caf=C3=A9.txt?=", "..", "C:\\x\\y.doc"])))
    params = f'; charset="{charset}"' if charset else ""
    params += f'; name="{name}"' if name else ""
    head = f"Content-Type: {ctype}{params}\r\n".encode()
    if cte:
        head += f"Content-Transfer-Encoding: {cte}\r\n".encode()
    if draw(st.booleans()):
        head += b"Content-Disposition: attachment\r\n"
    body = draw(st.one_of(raw_text, words.map(lambda s: s.encode("utf-8", "surrogatepass"))))
    if cte == "base64" and draw(st.booleans()):
        body = base64.encodebytes(body)
    return head + b"\r\n" + body


def container(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        ctype = draw(st.sampled_from(MULTI_TYPES))
        if ctype == "message/rfc822":
            return b"Content-Type: message/rfc822\r\n\r\n" + draw(headers()) + draw(children)
        boundary = draw(st.sampled_from(["b1", "=_x y", "", "b1--", "--", "a" * 75, "\xe9"]))
        parts = draw(st.lists(children, max_size=4))
        head = f'Content-Type: {ctype}; boundary="{boundary}"\r\n\r\n'.encode("utf-8")
        sep = f"--{boundary}".encode("utf-8")
        body = b"".join(sep + b"\r\n" + p + b"\r\n" for p in parts)
        closing = draw(st.sampled_from([sep + b"--\r\n", b"", sep + b"--  \r\nepilogue"]))
        return head + draw(st.sampled_from([b"", b"preamble\r\n"])) + body + closing
    return build()


mime_tree = st.recursive(leaf(), container, max_leaves=8)


@st.composite
def message(draw: st.DrawFn) -> bytes:
    return draw(headers()) + b"MIME-Version: 1.0\r\n" + draw(mime_tree)


def check_result(data: bytes) -> None:
    result = parse(data, ParseOptions(own_addresses=("helpdesk@example-council.gov.uk",)))
    assert result.message is not None or result.error
    assert_utf8_everywhere(result)
    json.dumps([r.as_json() for r in result.requests], ensure_ascii=False).encode("utf-8")
    if result.message is not None:
        msg = result.message
        assert "\x00" not in msg.text
        assert not re.search(r"[\r\n]", msg.subject + (msg.sender.name or ""))
        for att in msg.attachments:
            assert "/" not in att.filename and "\\" not in att.filename
            assert att.filename not in ("", ".", "..")
            assert att.size == len(att.data)


@FAST
@given(message())
def test_structurally_odd_mail_never_crashes(data: bytes) -> None:
    check_result(data)


@FAST
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    check_result(data)


plain_text = st.text(alphabet=st.characters(whitelist_categories=("L", "N", "P", "Zs")),
                     min_size=1, max_size=200)


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def folded(text: str) -> str:
    return " ".join(text.split())


@FAST
@given(plain_text, plain_text, st.sampled_from(["utf-8", "iso-8859-1", "windows-1252"]),
       st.sampled_from(["base64", "quoted-printable", "8bit"]))
def test_text_and_subject_survive_encoding(body: str, subject: str, charset: str,
                                           cte: str) -> None:
    """What a mail program encodes (any charset that holds it, any transfer encoding, RFC 2047
    subject) comes back as the same words."""
    try:
        encoded = body.encode(charset)
    except UnicodeEncodeError:
        charset, encoded = "utf-8", b""
    # Latin-1 bytes that also form valid UTF-8 ('Ã©') are read as UTF-8 by design: that is
    # the common mislabelling, and such pairs almost never occur in real Latin-1 text.
    assume(charset == "utf-8" or encoded.isascii() or not _valid_utf8(encoded))
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Test Person <test@example.org>"
    msg["Subject"] = subject
    msg.set_content(body, charset=charset, cte=cte)
    parsed = parse(msg.as_bytes()).message
    assert parsed is not None
    assert folded(parsed.text) == folded(body.replace("\xa0", " "))
    assert folded(parsed.subject) == folded(subject.replace("\xa0", " "))
    assert parsed.sender.email == "test@example.org"


def stdlib_depth(data: bytes) -> int:
    """How deep the stdlib's own parser nests this message (iteratively, no recursion)."""
    import email as stdlib_email

    root = stdlib_email.message_from_bytes(data)
    deepest, stack = 0, [(root, 0)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        # message/delivery-status holds flat header blocks: listed as parts, never nested
        if part.is_multipart() and part.get_content_type() != "message/delivery-status":
            stack.extend((child, depth + 1) for child in part.get_payload())
    return deepest


@st.composite
def damaged_bomb(draw: st.DrawFn) -> bytes:
    """A 60-level nested multipart with random damage (the shape fuzzing broke the scan with)."""
    lines = [b"From: x@example.org", b'Content-Type: multipart/mixed; boundary="n0"', b""]
    for i in range(60):
        lines += [f"--n{i}".encode(), f'Content-Type: multipart/mixed; boundary="n{i + 1}"'.encode(), b""]
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.sampled_from([b"P", b"", b" folded", b"X-A: b", b"--n5", b"--n3--",
                                                 b"Content-Type: message/rfc822", b"\tx"])))
    if draw(st.booleans()):
        del lines[draw(st.integers(0, len(lines) - 1))]
    newline = draw(st.sampled_from([b"\r\n", b"\n"]))
    return newline.join(lines) + newline


@FAST
@given(st.one_of(message(), damaged_bomb()))
def test_depth_prescan_never_underestimates_the_stdlib(data: bytes) -> None:
    """The pre-scan is the only guard before a recursive parser: it must see at least the
    nesting the stdlib will build."""
    from parsers.mime_depth import measure_depth

    assert measure_depth(data, 10**6) >= stdlib_depth(data)
