"""reparse_conversation: a ticket's follow-up supplies what was missing (tests/messages/threads/)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus_scoring import compare
from parsers import ParseOptions, parse, reparse_conversation

THREADS = sorted((Path(__file__).resolve().parents[1] / "messages" / "threads").glob("*/"))


@pytest.mark.parametrize("thread", THREADS, ids=[t.name for t in THREADS])
def test_first_message_asks_for_details(thread: Path) -> None:
    final = json.loads((thread / "expect.json").read_text())["final"]
    first = parse((thread / "1.eml").read_bytes(), ParseOptions()).requests
    assert len(first) == 1
    assert first[0].type == final["type"]
    assert first[0].action == "request_details"


@pytest.mark.parametrize("keep_type", [False, True])
@pytest.mark.parametrize("thread", THREADS, ids=[t.name for t in THREADS])
def test_follow_up_completes_the_ticket(thread: Path, keep_type: bool) -> None:
    final = json.loads((thread / "expect.json").read_text())["final"]
    messages = [(thread / "1.eml").read_bytes(), (thread / "2.eml").read_bytes()]
    result = reparse_conversation(messages, ParseOptions(), final["type"] if keep_type else None)
    assert len(result.requests) == 1
    assert compare(final, result.requests[0].as_json()) == []


def test_ticket_type_is_kept_even_when_the_text_reads_otherwise() -> None:
    thread = THREADS[0]
    messages = [(thread / "1.eml").read_bytes(), (thread / "2.eml").read_bytes()]
    result = reparse_conversation(messages, ParseOptions(), "incident")
    assert result.requests[0].type == "incident"
    assert result.requests[0].action in ("ack", "request_details")
