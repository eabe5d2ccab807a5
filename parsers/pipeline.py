"""The parser's stage order, written once: message -> screen -> classify -> extract -> decide."""
from __future__ import annotations

import logging

from .ids import find_bare_ids, find_person_ids, find_workstep_id
from .message import MessageTooComplex, parse_headers, parse_message
from .model import ParsedMessage, ParseOptions, ParseResult
from .quoting import sections_of
from .classify import classify
from .requests import find_requests, request_text_of, requests_for_text, split_requests, ticket_refs_in
from .screening import screen

log = logging.getLogger(__name__)

ANSWER_LABELS = {"workstep_id": "Workstep ID", "person_id": "Person ID"}


def answered_id(missing: tuple[str, ...], reply_text: str) -> tuple[str, str] | None:
    """(field, id) where one ID was asked for and the reply holds exactly one bare candidate number."""
    wanted = [f for f in missing if f in ANSWER_LABELS]
    if len(wanted) != 1 or find_person_ids(reply_text) or find_workstep_id(reply_text):
        return None
    candidates = find_bare_ids(reply_text)
    return (wanted[0], candidates[0]) if len(candidates) == 1 else None


def run_parse(data: bytes, options: ParseOptions) -> ParseResult:
    try:
        msg = parse_message(data, max_depth=options.max_mime_depth)
    except MessageTooComplex as exc:  # nothing in it is read; its headers say who sent it
        return ParseResult(message=parse_headers(data), error=f"rejected_too_deep: {exc}")
    kind = screen(msg, options)
    sections = sections_of(msg)
    text = sections.request_text
    requests = find_requests(msg, text, kind, options, sections)
    return ParseResult(message=msg, requests=tuple(requests), request_text=text, screen=kind,
                       ticket_refs=ticket_refs_in(msg, options))


def run_conversation(messages: list[bytes], options: ParseOptions,
                     ticket_type: str | None) -> ParseResult:
    """One ticket's inbound messages (oldest first) read as one request text."""
    parsed: list[ParsedMessage] = []
    for data in messages:
        try:
            parsed.append(parse_message(data, max_depth=options.max_mime_depth))
        except MessageTooComplex as exc:
            log.info("conversation message rejected: %s", exc)
    if not parsed:
        return ParseResult(message=None, error="no readable message in the conversation")
    texts = [request_text_of(m) for m in parsed]
    if ticket_type:  # a ticket from a message holding several requests reads only its own part
        own = [part for kind, part, _ in split_requests(texts[0], classify(texts[0])) if kind == ticket_type]
        if len(own) == 1:
            texts[0] = own[0]
    text = "\n\n".join(t for t in texts if t.strip())
    first = parsed[0]
    requests = requests_for_text(first, sections_of(first), text, options, forced_type=ticket_type)
    if len(parsed) > 1 and len(requests) == 1:
        answer = answered_id(requests[0].missing, texts[-1])
        if answer:  # 'It's 58812340' in reply to our request for the workstep ID
            text += f"\n\n{ANSWER_LABELS[answer[0]]}: {answer[1]}"
            requests = requests_for_text(first, sections_of(first), text, options,
                                         forced_type=ticket_type or requests[0].type)
    return ParseResult(message=parsed[-1], requests=tuple(requests), request_text=text, screen=None,
                       ticket_refs=ticket_refs_in(parsed[-1], options))
