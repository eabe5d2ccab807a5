"""Every hard sample in tests/bugcases/ (shared cases + our own) meets its `check` via parsers.parse."""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest

from parsers import ParseOptions, ParseResult, parse

CASES = Path(__file__).resolve().parents[1] / "bugcases"
# need the store, a ticket-reference prefix of another desk, or calendar support
NOT_PARSER_CHECKS = {"ticket_ref", "calendar_method", "body_source"}
REPLYING = ("ack", "request_details", "redirect", "triage")


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def all_names(result: ParseResult) -> list[str]:
    msg = result.message
    assert msg is not None
    return [a.filename for a in msg.attachments] + [
        c.filename for a in msg.attachments for c in a.contained]


def check_one(key: str, want: Any, result: ParseResult, took: float) -> None:
    """One `check` entry, read the way tools/check_bugcases.py reads the CLI's JSON."""
    msg = result.message
    if key in ("no_unhandled_exception", "reserialize_ok"):
        return
    if key == "max_parse_seconds":
        assert took <= want
        return
    if key == "allowed_outcomes":
        assert result.requests or (result.error or "").startswith("rejected_too_deep")
        return
    if key == "send_ack":
        assert any(r.action in REPLYING for r in result.requests) == want
        return
    assert msg is not None, result.error
    text, subject, sender = msg.text, msg.subject, msg.sender
    by_name = {a.filename: a for a in msg.attachments}
    by_name.update({c.filename: c for a in msg.attachments for c in a.contained})
    checks = {
        "subject": lambda: subject == want,
        "subject_contains": lambda: all(w in subject for w in as_list(want)),
        "subject_not_contains": lambda: not any(w in subject for w in as_list(want)),
        "body_contains": lambda: all(w in text for w in as_list(want)),
        "body_not_contains": lambda: not any(w in text for w in as_list(want)),
        "body_startswith": lambda: text.lstrip().startswith(want),
        "body_or_calendar_contains": lambda: want in text or any(
            n.lower().endswith(".ics") for n in by_name),
        "attachments": lambda: all(w in all_names(result) for w in as_list(want)),
        "tnef_contains": lambda: all(w in all_names(result) for w in as_list(want)),
        "attachments_exact": lambda: sorted(all_names(result)) == sorted(want),
        "attachment_sha256": lambda: all(by_name[n].sha256 == h for n, h in want.items()),
        "from_addr": lambda: sender.email == want,
        "from_name": lambda: sender.name == want,
        "from_name_not_contains": lambda: not any(w in (sender.name or "") for w in as_list(want)),
        "is_auto_reply": lambda: (result.screen is not None) == want,
        "is_bounce": lambda: (result.screen == "bounce") == want,
        "screen": lambda: result.screen == want,
        "bounced_recipient": lambda: all(w in msg.bounced_recipients for w in as_list(want)),
        "header_values": lambda: all(v in msg.headers.get(k.lower(), ()) for k, v in want.items()),
        "defects_contains": lambda: all(w in msg.defects for w in as_list(want)),
        "forwarded_subject": lambda: msg.forwarded and msg.forwarded[0].subject == want,
        "forwarded_body_contains": lambda: msg.forwarded and all(
            w in msg.forwarded[0].text for w in as_list(want)),
        "forwarded_attachments": lambda: msg.forwarded and [
            a.filename for a in msg.forwarded[0].attachments] == as_list(want),
    }
    assert key in checks, f"unknown check {key}"
    assert checks[key](), f"{key}: want {want!r}"


def assert_utf8_everywhere(value: Any) -> None:
    """Every string the parser produced can be stored and printed as UTF-8."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            assert_utf8_everywhere(getattr(value, f.name))
    elif isinstance(value, dict):
        for k, v in value.items():
            assert_utf8_everywhere(k)
            assert_utf8_everywhere(v)
    elif isinstance(value, (list, tuple)):
        for item in value:
            assert_utf8_everywhere(item)


CASE_FILES = sorted(p for p in CASES.glob("*.eml") if p.with_suffix(".json").exists())


@pytest.mark.parametrize("eml", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_bugcase(eml: Path) -> None:
    spec = json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))
    start = time.monotonic()
    result = parse(eml.read_bytes(), ParseOptions())
    took = time.monotonic() - start
    assert_utf8_everywhere(result)
    json.dumps([r.as_json() for r in result.requests], ensure_ascii=False).encode("utf-8")
    for key, want in spec["check"].items():
        if key not in NOT_PARSER_CHECKS:
            check_one(key, want, result, took)


def test_every_shared_bugcase_is_copied() -> None:
    shared = Path(__file__).resolve().parents[3] / "shared" / "bugcases"  # ../shared beside the repo
    if not shared.is_dir():
        pytest.skip("shared bugcases not mounted")
    missing = [p.name for p in shared.glob("*.eml") if not (CASES / p.name).exists()]
    assert not missing
