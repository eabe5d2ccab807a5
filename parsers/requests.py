"""Find the typed requests in a parsed message. (Placeholder: everything is triage.)"""
from __future__ import annotations

import re

from .model import ParsedMessage, ParseOptions, Request, Requester


def request_text_of(msg: ParsedMessage) -> str:
    return msg.text


def ticket_refs_in(msg: ParsedMessage, options: ParseOptions) -> tuple[str, ...]:
    pattern = re.compile(rf"\[?({re.escape(options.reference_prefix)}-\d+)\]?")
    return tuple(dict.fromkeys(pattern.findall(msg.subject)))


def find_requests(msg: ParsedMessage, text: str, screen: str | None,
                  options: ParseOptions) -> list[Request]:
    requester = Requester(email=msg.sender.email, name=msg.sender.name)
    if screen:
        return [Request(screen, "ignore", {}, (), 1.0, requester)]
    return [Request("unknown", "triage", {}, (), 0.0, requester)]
