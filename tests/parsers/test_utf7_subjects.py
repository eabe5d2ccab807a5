"""UTF-7 encoded words (RFC 2152 inside RFC 2047) in subjects and names are decoded, even when
the encoder left stray bits at the end of a shift sequence."""
from __future__ import annotations

import base64

import pytest

import parsers


def _message(subject: str, sender_name: str = "Ann Lee") -> bytes:
    return (f"From: {sender_name} <ann.lee@example-council.gov.uk>\r\n"
            f"To: mosaic.helpdesk@example-council.gov.uk\r\nSubject: {subject}\r\n"
            "Message-ID: <utf7@example-council.gov.uk>\r\n\r\nhello\r\n").encode()


def _b(text: bytes) -> str:
    return "=?utf-7?B?" + base64.b64encode(text).decode() + "?="


@pytest.mark.parametrize("raw, expected", [
    (_b("Café lock – urgent".encode("utf-7")), "Café lock – urgent"),
    ("=?UTF-7?Q?Caf+AOk-_lock?=", "Café lock"),
    (_b(b"+AOkA-") + " lock on workstep 5566778", "é lock on workstep 5566778"),  # stray bits
    (_b("Zoë".encode("utf-7")) + " " + _b(" Brontë".encode("utf-7")), "Zoë Brontë"),
])
def test_utf7_encoded_words_are_decoded(raw: str, expected: str) -> None:
    result = parsers.parse(_message(raw), parsers.ParseOptions())
    assert result.message is not None and result.message.subject == expected
    assert "+A" not in result.message.subject and "=?" not in result.message.subject


def test_utf7_display_name_is_decoded() -> None:
    result = parsers.parse(_message("lock", _b("Zoë Brontë".encode("utf-7"))),
                           parsers.ParseOptions())
    assert result.message is not None and result.message.sender.name == "Zoë Brontë"
