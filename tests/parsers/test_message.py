"""parse_message: what the classifier and the worker see of a message's headers, body and files."""
from __future__ import annotations

import base64
import hashlib
import time
from datetime import timezone

import pytest

from parsers.decoding import decode_bytes, decode_header
from parsers.message import MessageTooComplex, parse_message
from parsers.attachments import safe_filename


def mail(*lines: str | bytes) -> bytes:
    return b"\r\n".join(x if isinstance(x, bytes) else x.encode("utf-8") for x in lines) + b"\r\n"


HEAD = ("From: Amy Jones <A.Jones@Example-Council.gov.uk>", "To: helpdesk@example-council.gov.uk")


def test_threading_headers_become_message_id_tokens() -> None:
    msg = parse_message(mail(
        *HEAD, "Subject: Re: [MDHD-000123] Remove lock", "Message-ID: <m1@example.org>",
        "In-Reply-To: <MDHD-000123.ack.1@helpdesk.example> (Mosaic Help Desk's message)",
        "References: <a@x.example>\r\n\t<b@y.example> <a@x.example>", "", "Thanks"))
    assert msg.message_id == "<m1@example.org>"
    assert msg.in_reply_to == "<MDHD-000123.ack.1@helpdesk.example>"
    assert msg.references == ("<a@x.example>", "<b@y.example>")
    assert msg.sender.email == "a.jones@example-council.gov.uk"
    assert msg.sender.name == "Amy Jones"


def test_headers_hold_decoded_values_under_lower_case_names() -> None:
    msg = parse_message(mail(*HEAD, "Subject: =?utf-8?q?caf=C3=A9?=", "X-Custom: one",
                             "x-custom: =?utf-8?b?dHdv?=", "", "body"))
    assert msg.headers["x-custom"] == ("one", "two")
    assert msg.header("SUBJECT") == "café"


def test_date_without_zone_is_read_as_utc_and_garbage_is_none() -> None:
    good = parse_message(mail(*HEAD, "Date: Mon, 4 Jan 2027 09:12:00 -0000", "", "x"))
    assert good.date is not None and good.date.tzinfo == timezone.utc
    assert good.date.hour == 9
    assert parse_message(mail(*HEAD, "Date: next Tuesday-ish", "", "x")).date is None
    assert parse_message(mail(*HEAD, "Date: Mon, 4 Jan 99999 09:12:00 +0000", "", "x")).date is None


def test_plain_text_is_preferred_and_html_kept_for_staff() -> None:
    msg = parse_message(mail(
        *HEAD, "Subject: x", "MIME-Version: 1.0", 'Content-Type: multipart/alternative; boundary="a"', "",
        "--a", "Content-Type: text/plain; charset=utf-8", "", "Plain words here", "",
        "--a", "Content-Type: text/html; charset=utf-8", "", "<p>HTML <b>words</b> here</p>", "", "--a--"))
    assert msg.text.strip() == "Plain words here"
    assert msg.html is not None and "<b>words</b>" in msg.html


def test_html_only_mail_becomes_readable_text_without_markup() -> None:
    html = ("<html><head><style>p {color: red}</style><script>var x = 1;</script></head><body>"
            "<p>Please&nbsp;close&nbsp;the account &amp; lock</p><ol><li>first</li><li>second</li></ol>"
            "<table><tr><td>Person ID</td><td>1234567</td></tr></table></body></html>")
    msg = parse_message(mail(*HEAD, "MIME-Version: 1.0", "Content-Type: text/html; charset=utf-8",
                             "", html))
    assert "Please close the account & lock" in msg.text
    assert "color" not in msg.text and "var x" not in msg.text and "<" not in msg.text
    assert "1. first" in msg.text or "first" in msg.text.split("\n")[2]
    assert any("Person ID" in line and "1234567" in line for line in msg.text.splitlines())


def test_html_without_declared_charset_uses_its_meta_tag() -> None:
    html = '<html><head><meta charset="windows-1252"></head><body>caf\xe9 \x93quoted\x94</body></html>'
    msg = parse_message(mail(*HEAD, "MIME-Version: 1.0", "Content-Type: text/html", "",
                             html.encode("latin-1")))
    assert "café “quoted”" in msg.text


def test_attachment_bytes_are_hashed_after_transfer_decoding() -> None:
    payload = bytes(range(256)) * 3
    msg = parse_message(mail(
        *HEAD, "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="m"', "",
        "--m", "Content-Type: text/plain", "", "see file", "",
        "--m", "Content-Type: application/octet-stream", 'Content-Disposition: attachment; filename="a.bin"',
        "Content-Transfer-Encoding: base64", "", base64.encodebytes(payload).decode(), "--m--"))
    (att,) = msg.attachments
    assert (att.filename, att.size, att.sha256) == ("a.bin", 768, hashlib.sha256(payload).hexdigest())
    assert att.data == payload


def test_unnamed_non_text_part_outside_html_is_kept_with_a_made_up_name() -> None:
    msg = parse_message(mail(
        *HEAD, "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="m"', "",
        "--m", "Content-Type: text/plain", "", "photo of the error", "",
        "--m", "Content-Type: image/jpeg", "Content-Transfer-Encoding: base64", "", "/9j/4AAQ", "--m--"))
    assert [a.filename for a in msg.attachments] == ["attachment-1.jpg"]


@pytest.mark.parametrize("raw, want", [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\amy\\Desktop\\lock.png", "lock.png"),
    ("..", None),
    ("  . ", None),
    ("=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=", "résumé.pdf"),
    ("evil\r\nname.txt", "evil name.txt"),
    ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ("invoice\u202egnp.exe", "invoicegnp.exe"),
])
def test_safe_filename(raw: str, want: str | None) -> None:
    assert safe_filename(raw) == want


@pytest.mark.parametrize("data, charset, want", [
    ("Grüße".encode("cp1252"), "us-ascii", "Grüße"),
    ("Grüße".encode("utf-8"), "iso-8859-1", "Grüße"),
    ("naïve – test".encode("cp1252"), "x-unknown-charset", "naïve – test"),
    ("шаг заблокирован, помогите пожалуйста".encode("koi8-r"), "koi8-r", "шаг заблокирован, помогите пожалуйста"),
    ("шаг заблокирован, помогите пожалуйста".encode("cp1251"), None, "шаг заблокирован, помогите пожалуйста"),
    ("ロック".encode("iso2022_jp"), None, "ロック"),
    (b"\xff\xfe\x00bad", "utf-8", "ÿþbad"),
])
def test_decode_bytes_fallbacks(data: bytes, charset: str | None, want: str) -> None:
    text, _ = decode_bytes(data, charset)
    assert text.replace("\x00", "") == want
    text.encode("utf-8")


def test_decode_header_joins_split_multibyte_words_and_drops_gaps() -> None:
    word = "€uro".encode("utf-8")
    first = base64.b64encode(word[:2]).decode()
    second = base64.b64encode(word[2:]).decode()
    assert decode_header(f"=?utf-8?b?{first}?=\r\n =?utf-8?b?{second}?= ok") == "€uro ok"
    assert decode_header("=?x-made-up?q?Verrou_=E9tape?=") == "Verrou étape"
    assert decode_header("plain\x00text\twith\x1bcontrols") == "plain text with controls"


def test_unicode_line_separators_cannot_break_a_subject() -> None:
    msg = parse_message(mail(*HEAD, "Subject: =?utf-8?b?" + base64.b64encode(
        "one\u2028two\u0085three".encode()).decode() + "?=", "", "x"))
    assert msg.subject == "one two three"


def test_deep_nesting_is_rejected_fast() -> None:
    depth = 1500
    body = b"".join(f"--n{i}\r\nContent-Type: multipart/mixed; boundary=n{i + 1}\r\n\r\n".encode()
                    for i in range(depth))
    data = b"From: x@example.org\r\nContent-Type: multipart/mixed; boundary=n0\r\n\r\n" + body
    start = time.monotonic()
    with pytest.raises(MessageTooComplex):
        parse_message(data, max_depth=50)
    assert time.monotonic() - start < 0.5


def test_forwarded_message_is_parsed_not_merged() -> None:
    inner = mail("From: Bea Lee <bea@example.org>", "Subject: Original", "", "INNER words")
    msg = parse_message(mail(
        *HEAD, "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="f"', "",
        "--f", "Content-Type: text/plain", "", "see the attached", "",
        "--f", "Content-Type: message/rfc822", "Content-Transfer-Encoding: base64", "",
        base64.encodebytes(inner).decode(), "--f--"))
    assert "INNER" not in msg.text
    (fwd,) = msg.forwarded
    assert fwd.sender.email == "bea@example.org" and "INNER words" in fwd.text
    assert [a.filename for a in msg.attachments] == ["Original.eml"]


def test_null_bytes_bom_and_bare_cr_are_normalised_in_text() -> None:
    msg = parse_message(b"From: a@example.org\r\n\r\n\xef\xbb\xbfline one\x00\rline two\r\n")
    assert msg.text == "line one\nline two"


def test_garbage_never_raises() -> None:
    for data in (b"", b"\x00" * 50, b"\xff\xfe" * 100, b"From:\r\n\r\n", b"Content-Type: multipart/mixed\r\n\r\n--"):
        msg = parse_message(data)
        assert isinstance(msg.text, str)


def test_format_flowed_soft_breaks_are_joined() -> None:
    msg = parse_message(mail(
        *HEAD, "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=no", "",
        "Please remove the lock on workstep ", "4455667 before noon.", "", "> an old quoted ", "> line", "", "-- ", "Amy"))
    assert "workstep 4455667 before noon." in msg.text
    assert "> an old quoted line" in msg.text
    assert "\n-- \nAmy" in msg.text


def test_detached_signatures_are_not_customer_attachments() -> None:
    msg = parse_message(mail(
        *HEAD, "MIME-Version: 1.0",
        'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary="s"', "",
        "--s", "Content-Type: text/plain", "", "Signed request", "",
        "--s", 'Content-Type: application/pkcs7-signature; name="smime.p7s"',
        'Content-Disposition: attachment; filename="smime.p7s"', "Content-Transfer-Encoding: base64", "",
        "MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAA==", "--s--"))
    assert msg.text == "Signed request"
    assert msg.attachments == ()


@pytest.mark.parametrize("data", [
    b"From: a@example.org\r\nSubject: " + b"=?utf-8?q?a?= " * 20000 + b"\r\n\r\nbody",
    b"From: a@example.org\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\nbody",
    b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=y\r\n\r\n" + b"--x\r\n" * 50000,
    b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + b"".join(
        b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(1000)) + b"--b--",
    b"From: a@example.org\r\nContent-Type: text/html\r\n\r\n<pre>x" + b" " * 100_000 + b"y</pre>",
    b"From: a@example.org\r\nTo: " + b"a" * 200_000 + b"\r\nCc: <b@" + b"c" * 100_000 + b"\r\n\r\nx",
], ids=["20k-encoded-words", "5k-headers", "50k-delimiter-lookalikes", "1k-parts", "html-space-run", "huge-address-lines"])
def test_floods_parse_in_bounded_time(data: bytes) -> None:
    start = time.monotonic()
    msg = parse_message(data)
    assert time.monotonic() - start < 1.5
    assert msg.sender.email == "a@example.org"


def test_base64_with_a_dangling_character_still_decodes() -> None:
    msg = parse_message(mail(*HEAD, "MIME-Version: 1.0", "Content-Type: text/plain",
                             "Content-Transfer-Encoding: base64", "", "aGVsbG8gd29ybGQhx"))
    assert msg.text == "hello world!"
    assert "InvalidBase64LengthDefect" in msg.defects


def test_html_blockquotes_become_quote_marked_lines() -> None:
    html = ("<div>Workstep 7654321 please</div><div>On Mon, Amy wrote:</div>"
            "<blockquote>old request<br>for 1111111<blockquote>older</blockquote></blockquote>")
    msg = parse_message(mail(*HEAD, "MIME-Version: 1.0", "Content-Type: text/html; charset=utf-8", "", html))
    assert msg.text.splitlines() == ["Workstep 7654321 please", "On Mon, Amy wrote:",
                                     "> old request", "> for 1111111", ">> older"]


def test_eml_attachment_labelled_octet_stream_is_read_as_forwarded() -> None:
    inner = mail("From: Bea Lee <bea@example.org>", "Subject: Locked step", "", "step 5550001 is locked")
    msg = parse_message(mail(
        *HEAD, "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="f"', "",
        "--f", "Content-Type: text/plain", "", "see attached", "",
        "--f", 'Content-Type: application/octet-stream; name="Locked step.eml"',
        "Content-Disposition: attachment", "Content-Transfer-Encoding: base64", "",
        base64.encodebytes(inner).decode(), "--f--"))
    assert [a.filename for a in msg.attachments] == ["Locked step.eml"]
    assert msg.forwarded[0].text == "step 5550001 is locked"
    assert "5550001" not in msg.text


def test_tnef_object_flood_is_not_unpacked_and_does_not_hang() -> None:
    import struct

    flood = struct.pack("<IH", 0x223E9F78, 1) + struct.pack("<BHHIH", 1, 0x7777, 2, 0, 0) * 300_000
    msg = parse_message(mail(
        *HEAD, "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="t"', "",
        "--t", "Content-Type: text/plain", "", "rich text mail", "",
        "--t", 'Content-Type: application/ms-tnef; name="winmail.dat"', "Content-Transfer-Encoding: base64", "",
        base64.encodebytes(flood).decode(), "--t--"))
    (att,) = msg.attachments
    assert att.filename == "winmail.dat" and att.size == len(flood) and att.contained == ()


def test_parameter_floods_are_cut_or_rejected_quickly() -> None:
    medium = b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" \
        b"Content-Disposition: attachment" + b"; a=b" * 10_000 + b"\r\n\r\nx\r\n--b--"
    start = time.monotonic()
    assert "OversizedMimeHeaderDefect" in parse_message(medium).defects
    with pytest.raises(MessageTooComplex):
        parse_message(b"From: a@example.org\r\nContent-Type: multipart/mixed" + b"; a=b" * 200_000
                      + b"\r\n\r\nx")
    assert time.monotonic() - start < 1.5


def test_body_only_inside_winmail_dat_becomes_the_text() -> None:
    import struct

    text = b"Please unlock workstep 3141592.\r\n\x00"
    tnef = struct.pack("<IH", 0x223E9F78, 1) + struct.pack("<BHHI", 1, 0x800C, 2, len(text)) \
        + text + struct.pack("<H", sum(text) & 0xFFFF)
    msg = parse_message(mail(
        *HEAD, "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="t"', "",
        "--t", 'Content-Type: application/ms-tnef; name="winmail.dat"', "Content-Transfer-Encoding: base64", "",
        base64.encodebytes(tnef).decode(), "--t--"))
    assert msg.text == "Please unlock workstep 3141592."
    assert [a.filename for a in msg.attachments] == ["winmail.dat"]
