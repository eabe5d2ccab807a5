"""The parser's stage order, written once: message -> screen -> classify -> extract -> decide."""
from __future__ import annotations

import logging

from .message import MessageTooComplex, parse_message
from .model import ParseOptions, ParseResult
from .screening import screen
from .requests import find_requests, request_text_of, ticket_refs_in

log = logging.getLogger(__name__)


def run_parse(data: bytes, options: ParseOptions) -> ParseResult:
    try:
        msg = parse_message(data, max_depth=options.max_mime_depth)
    except MessageTooComplex as exc:
        return ParseResult(message=None, error=f"rejected_too_deep: {exc}")
    kind = screen(msg, options)
    text = request_text_of(msg)
    requests = find_requests(msg, text, kind, options)
    return ParseResult(message=msg, requests=tuple(requests), request_text=text, screen=kind,
                       ticket_refs=ticket_refs_in(msg, options))
